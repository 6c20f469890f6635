"""Tiny problems for the tests of the control arms, weighting and affinity (shared, to compile little)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from harness.arms import make_arm
from harness.config import DataConfig, ModelConfig, TrainConfig
from harness.data.base import Dataset
from harness.data.synthetic import make
from harness.train.program import Static, make_program
from harness.train.trainer import hyperparams

TINY = DataConfig(tasks=3, dim=6, pool=96, n_val=32, n_test=32, n_target=12, n_other=96)
PAIR = DataConfig(tasks=2, dim=6, pool=96, n_val=32, n_test=32, n_per_task=96)  # made into two identical tasks


def tiny_data(cfg: DataConfig = TINY, duplicate: bool = False) -> Dataset:
    """A synthetic draw; `duplicate` makes task 1 an exact copy of task 0 (labels and mask)."""
    data = make(cfg, seed=0)
    if not duplicate:
        return data
    columns = {}
    for name in ("y_train", "m_train", "y_val", "y_test"):
        columns[name] = getattr(data, name).copy()
        columns[name][:, 1] = columns[name][:, 0]
    return data._replace(**columns)


def static(arms: tuple[str, ...], eval_every: int = 5, tasks: int = TINY.tasks, **kwargs) -> Static:
    return Static(
        arms=tuple(make_arm(name, tasks) for name in arms),
        model=ModelConfig(width=8, depth=1),
        optimizer="adam",
        batch_size=16,
        eval_every=eval_every,
        **kwargs,
    )


def run_chunks(
    spec: Static,
    data: Dataset,
    chunks: int,
    lr: float = 1e-2,
    pretrain_steps: int = 0,
    prepare=lambda state: state,
    calls: list[tuple[int, bool]] | None = None,
) -> list[dict]:
    """The state after init (edited by `prepare`) and after each chunk, for one replicate (no replicate
    axis): `calls` (steps, restore) per chunk, or `chunks` chunks of `eval_every` steps."""
    program = make_program(spec)
    hp = {**jax.tree.map(lambda a: a[0], hyperparams(TrainConfig(lr=lr))), "pretrain_steps": jnp.int32(pretrain_steps)}
    data = jax.tree.map(jnp.asarray, data)
    state = prepare(jax.jit(program.init)(jax.random.PRNGKey(0), data, hp))
    chunk = jax.jit(program.chunk)
    states = [state]
    for steps, restore in calls or [(spec.eval_every, False)] * chunks:
        state, _ = chunk(state, data, hp, jnp.int32(steps), jnp.bool_(restore))
        states.append(state)
    return states


def same_heads(state: dict) -> dict:
    """Give arm mtl's head 1 head 0's weights: with duplicated tasks, the two losses are then one function."""
    heads = state["arms"]["mtl"].params["params"]["heads"]
    for name in ("kernel", "bias"):
        heads[name] = heads[name].at[..., 1].set(heads[name][..., 0])
    return state
