"""One job: build the data, train every arm on it, and return the result payload.

Plain functions of a typed RunConfig; the Hydra entry point (harness/run.py) and the
tests call the same code.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from harness import results
from harness.arms import DESCRIPTIONS, make_arm
from harness.config import ModelConfig, RunConfig, to_dict
from harness.data import features_used, make_replicates, task_names
from harness.data.base import Dataset
from harness.metrics import divergence
from harness.models import make_model
from harness.resume import config_hash
from harness.runtime import environment
from harness.trainer import Static, TrainOutput, hyperparams, train


def static_of(run: RunConfig, input_shape: tuple[int, ...]) -> Static:
    width = equal_params_width(run, input_shape) if "mtl_equal_params" in run.arms else None
    return Static(
        arms=tuple(make_arm(name, run.data.tasks, width, run.data.target) for name in run.arms),
        model=run.model,
        optimizer=run.train.optimizer,
        batch_size=run.train.batch_size,
        eval_every=run.train.eval_every,
        weighting=run.train.weighting,
        affinity_every=run.train.affinity_every,
    )


def replicate_keys(run: RunConfig) -> jax.Array:
    """Replicate r trains with fold_in(PRNGKey(train.seed), r) on data seed data.seed + r."""
    base = jax.random.PRNGKey(run.train.seed)
    return jax.vmap(lambda r: jax.random.fold_in(base, r))(np.arange(run.train.seeds))


def count_params(run: RunConfig, heads: int, width: int | None, input_shape: tuple[int, ...]) -> int:
    """Parameters of one network (trunk and heads), from shapes alone."""
    return _param_count(run.model, heads, width, tuple(input_shape))


@functools.cache  # tracing Flax's init costs tens of ms, and every job of a sweep asks again
def _param_count(model_cfg: ModelConfig, heads: int, width: int | None, input_shape: tuple[int, ...]) -> int:
    model = make_model(model_cfg, heads, width)
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, *input_shape)))
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(shapes)))


def equal_params_width(run: RunConfig, input_shape: tuple[int, ...]) -> int:
    """The shared network's width whose parameter count is closest to K separate networks'."""
    target = run.data.tasks * count_params(run, 1, None, input_shape)
    low, high = 1, max(2, run.model.width)
    while count_params(run, run.data.tasks, high, input_shape) < target:
        high *= 2
    while high - low > 1:  # parameter count grows with width
        mid = (low + high) // 2
        low, high = (mid, high) if count_params(run, run.data.tasks, mid, input_shape) < target else (low, mid)
    return min((low, high), key=lambda w: abs(count_params(run, run.data.tasks, w, input_shape) - target))


def build_data(run: RunConfig) -> tuple[Dataset, float]:
    """The job's replicate-stacked data, and the seconds it took to build."""
    begin = time.perf_counter()
    data = make_replicates(run.data, run.train.seeds)
    return data, time.perf_counter() - begin


def run_job(run: RunConfig, progress: bool | None = None, label: str = "train") -> dict:
    """Train the configured arms and return the result.json payload."""
    data, data_seconds = build_data(run)
    static = static_of(run, data.x_train.shape[2:])
    hp = hyperparams(run.train)
    chunks = run.train.steps // run.train.eval_every
    show = run.runtime.progress if progress is None else progress
    with tqdm(total=chunks, desc=label, unit="eval", leave=False, disable=None if show else True) as bar:
        out = train(static, replicate_keys(run), data, hp, run.train.steps, on_chunk=lambda _: bar.update(1))
    return payload(run, static, out, data.x_train.shape[2:], data_seconds)


def payload(
    run: RunConfig,
    static: Static,
    out: TrainOutput,
    input_shape: tuple[int, ...],
    data_seconds: float,
    fused_jobs: int = 1,
) -> dict:
    """The result.json payload of one job from its TrainOutput (metrics [S, G, H], no job axis).

    `fused_jobs` > 1: the job trained in one program with that many others; its timing is
    its even share of the program's.
    """
    arms, rows, diverged, affinity = {}, [], [], None
    for spec in static.arms:
        metrics = dict(out.metrics[spec.name])
        finite = np.asarray(metrics.pop("finite"))
        if "affinity" in metrics:  # [S, G=1, K, K] -> [seed][i][j], Z_{i->j}
            affinity = {"arm": spec.name, "every": run.train.affinity_every}
            affinity["matrix"] = np.asarray(metrics.pop("affinity"))[:, 0].tolist()
        reported = spec.groups
        if spec.target_only:  # head 0 is the target; the other heads only served it
            metrics = {name: value[..., :1] for name, value in metrics.items()}
            reported = ((spec.groups[0][0],),)
        reasons = divergence(finite, metrics["val_bce"])
        diverged += [{"arm": spec.name, "seed": s, "reason": r} for s, r in enumerate(reasons) if r]
        arms[spec.name] = {
            "description": DESCRIPTIONS[spec.name],
            "networks": spec.networks,
            "heads": spec.heads,
            "groups": [list(g) for g in spec.groups],
            "width": spec.width or run.model.width,
            "params_per_network": count_params(run, spec.heads, spec.width, input_shape),
            "weighting": run.train.weighting if spec.weighted else "equal",
        }
        if spec.transfer:
            arms[spec.name]["pretrain_steps"] = run.train.pretrain_steps
        rows += results.records(spec.name, reported, metrics)
    net_steps = sum(spec.networks for spec in static.arms) * run.train.seeds * run.train.steps
    evals = np.arange(1, run.train.steps // run.train.eval_every + 1) * run.train.eval_every
    curves = {"steps": evals.tolist()}
    for name, arm_curves in out.curves.items():
        curves[name] = {k: np.asarray(v).tolist() for k, v in arm_curves.items()}
    return {
        "schema_version": results.SCHEMA_VERSION,
        "status": "diverged" if diverged else "ok",
        "error": None,
        "created": results.now(),
        "config": to_dict(run),
        "config_hash": config_hash(run),
        "task_names": task_names(run.data),
        "features": features_used(run.data),
        "arms": arms,
        "records": [] if diverged else rows,
        "diverged": diverged,
        "curves": curves,
        "affinity": affinity,
        "timing": {
            "data_seconds": data_seconds,
            "compile_seconds": out.compile_seconds,
            "train_seconds": out.train_seconds,
            "net_steps": net_steps,
            "net_steps_per_second": net_steps / out.train_seconds,
            "fused_jobs": fused_jobs,
        },
        "environment": environment(),
    }


def failed_payload(run: RunConfig, error: str) -> dict:
    """The result.json of a job that raised: its config and error, no records."""
    return {
        "schema_version": results.SCHEMA_VERSION,
        "status": "failed",
        "error": error,
        "created": results.now(),
        "config": to_dict(run),
        "config_hash": config_hash(run),
        "task_names": task_names(run.data),
        "features": None,  # the data may be what failed
        "arms": {},
        "records": [],
        "diverged": [],
        "curves": {},
        "timing": {},
        "environment": environment(),
    }
