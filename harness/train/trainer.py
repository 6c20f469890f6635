"""Training: the program of harness/train/program.py compiled and driven along the
evaluation schedule, all arms, all networks, all seeds together.

`Compiled` vmaps the program's `init` and `chunk` over replicates (and learning rates)
and compiles each once per static shape (tracked in `TRACES`); `train` drives the
chunks from the host along the evaluation schedule (`evaluation_steps`: step 0 first,
then dense early), so a progress bar can move between them, chooses each network's
learning rate on validation (`lr_choice`) and scores the kept test logits on the host
(`finish`). Values (data, masks, learning rate, chunk lengths) are arguments, never
constants of the compiled program.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from harness.arms import ArmSpec
from harness.config import TrainConfig
from harness.data.base import Dataset
from harness.train.axes import vmap
from harness.train.metrics import evaluate
from harness.train.program import AFFINITY_ARM, TRACES, ArmState, Static, make_program


def evaluation_steps(static: Static, steps: int, pretrain_steps: int = 0) -> list[int]:
    """The steps after which every network is evaluated: 0 (the initial networks), then
    every `eval_every` steps and at `steps`; the log schedule adds doubling steps below
    `eval_every` (1, 2, 4, ..., or multiples of `affinity_every` when affinity is
    measured), so a network that training only makes worse, or that overfits in a few
    steps, can be stopped there.

    With a transfer arm, pretraining (`pretrain_steps` steps) and fine-tuning each get
    such a schedule, and `pretrain_steps` appears twice: the end of pretraining, then
    the start of fine-tuning from the best pretraining parameters (see `chunk_calls`).
    """
    if pretrain_steps and any(spec.transfer for spec in static.arms):
        tuning = evaluation_steps(static, steps - pretrain_steps)
        return [*evaluation_steps(static, pretrain_steps), *(pretrain_steps + t for t in tuning)]
    first = max(static.affinity_every, 1)
    early = []
    if static.eval_schedule == "log":
        while first * 2 ** len(early) < min(static.eval_every, steps):
            early.append(first * 2 ** len(early))
    regular = range(static.eval_every, steps + 1, static.eval_every)
    return [0, *early, *regular, *([steps] if steps % static.eval_every else [])]


def chunk_calls(schedule: list[int]) -> list[tuple[int, bool]]:
    """(steps, restore) of each `chunk` call that evaluates at `schedule`'s steps; a
    repeated step (after the first evaluation) is the start of fine-tuning."""
    return [
        (end - done, c > 0 and end == done)
        for c, (done, end) in enumerate(zip([0, *schedule[:-1]], schedule, strict=True))
    ]


def hyperparams(train: TrainConfig) -> dict[str, jnp.ndarray]:
    """The training values the compiled program takes as arguments (never as constants).

    Each is a vector over the learning-rate grid [L] (train.lr_grid, or [train.lr]):
    every arm trains once per learning rate, as a vmap axis, from the same initial
    networks and minibatches.
    """
    lrs = jnp.asarray(train.lr_grid or [train.lr], jnp.float32)
    return {
        "lr": lrs,
        "weight_decay": jnp.full_like(lrs, train.weight_decay),
        "pretrain_steps": jnp.full(lrs.shape, train.pretrain_steps, jnp.int32),
    }


def lr_weights(spec: ArmSpec, target: Any = -1) -> np.ndarray:
    """Which heads' validation losses pick a network's learning rate: [..., G, H] in {0, 1}.

    An arm about one target reports head 0 and is chosen on it. Otherwise `target` (a task,
    or one per job; -1: none) picks a network that trains it on its loss alone (a claim
    about that task, train.lr_objective=target), and every other network on the sum over
    its tasks (padding heads left out).
    """
    groups = np.asarray(spec.groups)
    if spec.target_only:
        return np.broadcast_to(np.arange(spec.heads) == 0, (*np.shape(target), *groups.shape)).astype(float)
    t = np.asarray(target)[..., None, None]
    hit = groups == t
    return np.where((t >= 0) & hit.any(-1, keepdims=True), hit, groups >= 0).astype(float)


def lr_choice(spec: ArmSpec, s: ArmState, target: Any = -1) -> np.ndarray:
    """Per replicate and network, the learning rate (index into the grid) to report: [..., G].

    The one whose best validation losses, summed over the heads `lr_weights` names, are
    lowest; one whose training loss went non-finite is never chosen over one whose did
    not. `s` carries [..., L] in front; `target`, the leading job axis if any.
    """
    best_val, weights, lead = np.asarray(s.best_val), lr_weights(spec, target), np.ndim(target)
    weights = weights.reshape(*weights.shape[:lead], *(1,) * (best_val.ndim - weights.ndim), *weights.shape[lead:])
    total = np.where(weights > 0, best_val, 0.0).sum(-1)  # [..., L, G]
    return np.argmin(np.where(np.asarray(s.finite)[..., None], total, np.inf), axis=-2)


def pick(x: Any, choice: np.ndarray, axis: int) -> np.ndarray:
    """`x` at the chosen learning rates: its grid axis `axis` (negative; the network axis
    follows it) indexed by `choice` [..., G], whose leading axes are `x`'s leading axes."""
    x = np.asarray(x)
    grid = x.ndim + axis
    lead = choice.shape[:-1]
    index = choice.reshape(*lead, *(1,) * (grid - len(lead) + 1), choice.shape[-1], *(1,) * (-axis - 2))
    return np.take_along_axis(x, index, axis=grid).squeeze(grid)


def finish(
    static: Static, arms: dict[str, ArmState], y_test: np.ndarray, choices: dict[str, np.ndarray]
) -> dict[str, dict[str, np.ndarray]]:
    """Per arm, metrics at each head's best validation step and its network's chosen learning
    rate (`choices`, see lr_choice; `lr_index` into the grid), on the host: [..., G, H] arrays.

    `arms` ([..., L, ...]) and `y_test` ([..., n_test, K]) carry the replicate (and job) axes in front.
    """
    out = {}
    for spec in static.arms:
        s, choice = arms[spec.name], choices[spec.name]  # only the fields read here leave the device
        labels = np.moveaxis(y_test[..., np.asarray(spec.groups)], -3, -2)  # [..., G, n_test, H]
        val = pick(s.best_val, choice, -3)
        finite = np.take_along_axis(np.asarray(s.finite)[..., None], choice[..., None, :], axis=-2)
        out[spec.name] = {
            **evaluate(pick(s.best_logits, choice, -4), labels),
            "val_bce": val,
            "best_step": pick(s.best_step, choice, -3),
            "lr_index": np.broadcast_to(choice[..., None], val.shape),
            "finite": finite[..., 0, :].all(-1),
        }
        if spec.transfer:  # where fine-tuning started, [..., G]
            out[spec.name]["pretrain_best_step"] = pick(s.source_step, choice, -2)
        if static.affinity_every > 0 and spec.name == AFFINITY_ARM:  # mean Z over measurements, [..., G, H, H]
            count = pick(s.affinity_count, choice, -4)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[spec.name]["affinity"] = pick(s.affinity_sum, choice, -4) / np.where(count > 0, count, np.nan)
    return out


# `init` runs once per run, so XLA's backend optimisations only cost time there: without
# them its random initialisers compile about 4x faster (5.5 s -> 1.4 s on a 2-core CPU).
INIT_COMPILE_OPTIONS = {"xla_backend_optimization_level": 0}


def _signature(args: Any) -> Any:
    leaves, treedef = jax.tree.flatten(args)
    return treedef, tuple((np.shape(x), getattr(x, "dtype", type(x))) for x in leaves)


class Compiled:
    """Ahead-of-time compiled, replicate-vmapped versions of a Program.

    Executables are cached per process by (static structure, argument shapes), so a
    sweep whose points differ only in values lowers each program once; JAX's
    persistent cache (harness/runs/runtime.py) carries them across processes.
    """

    _cache: dict[Any, Any] = {}

    def __init__(self, static: Static, job_axis: bool = False):
        self.static, self.job_axis = static, job_axis
        program = make_program(static)
        # Replicates, then learning rates (hp's leading axis; networks and data shared).
        fns = {
            "init": vmap(vmap(program.init, in_axes=(None, None, 0)), in_axes=(0, 0, None)),
            "chunk": vmap(vmap(program.chunk, in_axes=(0, None, 0, None, None)), in_axes=(0, 0, None, None, None)),
        }
        if job_axis:  # fused sweeps: one more leading axis, over jobs, hyperparameters included
            fns = {"init": vmap(fns["init"]), "chunk": vmap(fns["chunk"], in_axes=(0, 0, 0, None, None))}
        self.fns = {name: (fn, (0,) if name == "chunk" else ()) for name, fn in fns.items()}
        self.compile_seconds = 0.0

    def get(self, name: str, *args: Any) -> Any:
        key = (self.static, self.job_axis, name, _signature(args))
        if key not in self._cache:
            fn, donate = self.fns[name]
            begin = time.perf_counter()
            TRACES[f"lower:{name}"] += 1
            lowered = jax.jit(fn, donate_argnums=donate).lower(*args)
            self._cache[key] = lowered.compile(INIT_COMPILE_OPTIONS if name == "init" else None)
            self.compile_seconds += time.perf_counter() - begin
        return self._cache[key]


@dataclass
class TrainOutput:
    metrics: dict[str, dict[str, np.ndarray]]  # arm -> metric -> [(J,) S, G, H]
    curves: dict[str, dict[str, np.ndarray]]  # arm -> curve -> [(J,) S, evals, G(, H)]
    eval_steps: list[int]  # the step of each evaluation (the curves' evals axis)
    compile_seconds: float
    train_seconds: float


def train(
    static: Static,
    keys: jnp.ndarray,
    data: Dataset,
    hp: dict[str, jnp.ndarray],
    steps: int,
    on_chunk: Callable[[int], None] | None = None,
    job_axis: bool = False,
    lr_target: Any = -1,
    on_compiled: Callable[[], None] | None = None,
    on_curves: Callable[[int, dict], None] | None = None,
) -> TrainOutput:
    """Train every arm for `steps` steps per network on replicate-stacked data.

    `keys` and every array of `data` carry a leading replicate axis; with `job_axis`,
    a job axis before it, which `hp` carries too (a fused sweep of same-shape jobs).
    `on_chunk(c)` is called after the c-th evaluation (of len(evaluation_steps(...))),
    `on_compiled()` once, when both programs are compiled and training starts;
    `on_curves(step, curves)` after each evaluation, with its curves on the host.
    `lr_target`: the task whose validation loss picks learning rates (per job with
    `job_axis`), -1 for the sum over tasks (see lr_weights).
    """
    compiled = Compiled(static, job_axis)
    data = jax.tree.map(jnp.asarray, data)
    state = compiled.get("init", keys, data, hp)(keys, data, hp)
    # Compile everything before the clock starts.
    chunk = compiled.get("chunk", state, data, hp, jnp.int32(0), jnp.bool_(False))
    jax.block_until_ready(state)
    if on_compiled is not None:
        on_compiled()
    begin = time.perf_counter()
    history = []
    # One schedule for every job of a fused program (jobs fuse only where pretrain_steps agree).
    schedule = evaluation_steps(static, steps, int(np.asarray(hp["pretrain_steps"]).flat[0]))
    for c, (length, restore) in enumerate(chunk_calls(schedule)):
        state, curves = chunk(state, data, hp, jnp.int32(length), jnp.bool_(restore))
        history.append(curves)
        if on_curves is not None:
            on_curves(schedule[c], jax.tree.map(np.asarray, curves))
        if on_chunk is not None:
            state["step"].block_until_ready()
            on_chunk(c + 1)
    choices = {spec.name: lr_choice(spec, state["arms"][spec.name], lr_target) for spec in static.arms}
    metrics = finish(static, state["arms"], np.asarray(data.y_test), choices)
    train_seconds = time.perf_counter() - begin
    eval_axis = 2 if job_axis else 1
    stacked = jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs], axis=eval_axis), *history)
    curves = {  # the chosen learning rate's: train_loss [..., evals, L, G], val_bce [..., evals, L, G, H]
        arm: {name: pick(value, choices[arm], -2 if name == "train_loss" else -3) for name, value in arm_curves.items()}
        for arm, arm_curves in stacked.items()
    }
    return TrainOutput(metrics, curves, schedule, compiled.compile_seconds, train_seconds)
