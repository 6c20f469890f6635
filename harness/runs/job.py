"""One job: build the data, train every arm on it, and return the result payload.

Plain functions of a typed RunConfig; the Hydra entry point (harness/cli/run.py) and the
tests call the same code.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from harness.arms import ARMS, PAD, ArmSpec, make_arm
from harness.config import ModelConfig, RunConfig, resolve_groups, to_dict
from harness.data import features_used, make_replicates, task_names
from harness.data.base import Dataset
from harness.data.references import references
from harness.runs import grouping, results
from harness.runs.resume import config_hash
from harness.runs.runtime import environment, progress_bar, ticking
from harness.runs.tracking import live
from harness.train.metrics import divergence
from harness.train.models import make_model
from harness.train.program import Static
from harness.train.trainer import TrainOutput, evaluation_steps, hyperparams, train


def static_of(run: RunConfig, input_shape: tuple[int, ...]) -> Static:
    """The compiled program's structure (a partition arm: the partition of train.groups)."""

    def width(name: str) -> int | None:
        return equal_params_width(run, input_shape, ARMS[name].sharing) if ARMS[name].equal_params else None

    partition = None
    if run.train.groups is not None:  # task names resolve here: they are known once the suite is
        partition = resolve_groups(run.train.groups, run.data.tasks, task_names(run.data))
    return Static(
        arms=tuple(make_arm(name, run.data.tasks, width(name), run.data.target, partition) for name in run.arms),
        model=run.model,
        optimizer=run.train.optimizer,
        batch_size=run.train.batch_size,
        eval_every=run.train.eval_every,
        eval_schedule=run.train.eval_schedule,
        weighting=run.train.weighting,
        affinity_every=run.train.affinity_every,
        affinity_until=run.train.affinity_steps,
        sampling=run.train.sampling,
    )


def lr_target(run: RunConfig) -> int:
    """The task whose validation loss picks learning rates (train.lr_objective=target), or -1: the sum."""
    return run.data.target if run.train.lr_objective == "target" else -1


def replicate_keys(run: RunConfig) -> jax.Array:
    """Replicate r trains with fold_in(PRNGKey(train.seed), r) on data seed data.seed + r."""
    base = jax.random.PRNGKey(run.train.seed)
    return jax.vmap(lambda r: jax.random.fold_in(base, r))(np.arange(run.train.seeds))


def count_params(
    run: RunConfig, heads: int, width: int | None, input_shape: tuple[int, ...], sharing: str = "hard"
) -> int:
    """Parameters of one network (trunk and heads), from shapes alone."""
    return _param_count(run.model, heads, width, tuple(input_shape), sharing)


@functools.cache  # tracing Flax's init costs tens of ms, and every job of a sweep asks again
def _param_count(model_cfg: ModelConfig, heads: int, width: int | None, input_shape: tuple, sharing: str) -> int:
    model = make_model(model_cfg, heads, width, sharing)
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, *input_shape)))
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(shapes)))


def equal_params_width(run: RunConfig, input_shape: tuple[int, ...], sharing: str = "hard") -> int:
    """The width of a shared network (of `sharing`) whose parameter count is closest to K separate networks'."""
    k = run.data.tasks
    target = k * count_params(run, 1, None, input_shape)

    def size(w: int) -> int:
        return count_params(run, k, w, input_shape, sharing)

    low, high = 1, max(2, run.model.width)
    while size(high) < target:
        high *= 2
    while high - low > 1:  # parameter count grows with width
        mid = (low + high) // 2
        low, high = (mid, high) if size(mid) < target else (low, mid)
    return min((low, high), key=lambda w: abs(size(w) - target))


class Problem(NamedTuple):
    """What one job's arms train and are scored on: the data, replicate-stacked [S, ...],
    its tasks' names, its references [S, K] (harness/data/references.py) and its features."""

    data: Dataset
    task_names: list[str]
    references: dict[str, np.ndarray]
    features: dict | None
    input_shape: tuple[int, ...]  # one row's
    seconds: float  # building it


def problem_of(run: RunConfig) -> Problem:
    """The job's data for every replicate, with what it is named and measured against."""
    begin = time.perf_counter()
    data = make_replicates(run.data, run.train.seeds)
    seconds = time.perf_counter() - begin
    refs = references(run.data, data)
    return Problem(data, task_names(run.data), refs, features_used(run.data), data.x_train.shape[2:], seconds)


def fit(run: RunConfig, static: Static, data: Dataset, desc: str, show: bool) -> TrainOutput:
    """Train the program of `static` on `data`, with a progress bar over its evaluations that
    reads "compiling" (its elapsed time ticking) until the programs are compiled, and each
    evaluation's curves sent to the job's tracking run, if one is open (harness/runs/tracking/live.py)."""
    chunks = len(evaluation_steps(static, run.train.steps, run.train.pretrain_steps))
    with progress_bar(show, total=chunks, desc=f"{desc}: compiling", unit="eval", leave=False) as bar, ticking(bar):
        return train(
            static,
            replicate_keys(run),
            data,
            hyperparams(run.train),
            run.train.steps,
            lambda _: bar.update(1),
            lr_target=lr_target(run),
            on_compiled=lambda: bar.set_description(desc),
            on_curves=live.publish if live.attached() else None,
        )


def run_job(run: RunConfig, progress: bool | None = None, label: str = "train") -> dict:
    """Train the configured arms and return the result.json payload.

    A partition arm without train.groups first trains the other arms together with the
    search's signal arms, chooses the partition from that signal (harness/runs/grouping.py),
    then trains the groups on the same data and keys.
    """
    problem = problem_of(run)
    show = run.runtime.progress if progress is None else progress
    if not searches_partition(run):
        static = static_of(run, problem.input_shape)
        return payload(run, problem, static, fit(run, static, problem.data, label, show))
    first = signal_static(run, problem.input_shape)
    out = fit(run, first, problem.data, f"{label}: grouping signal", show)
    search = search_groups(run, first, out)
    partition = search["partition"]
    arms = tuple(make_arm(name, run.data.tasks, partition=partition) for name in partition_arm_names(run))
    second = dataclasses.replace(first, arms=arms)
    more = fit(run, second, problem.data, f"{label}: groups", show)
    static = dataclasses.replace(first, arms=first.arms + second.arms)
    out = TrainOutput(
        {**out.metrics, **more.metrics},
        {**out.curves, **more.curves},
        out.eval_steps,  # both programs share one schedule (same Static but for the arms)
        out.compile_seconds + more.compile_seconds,
        out.train_seconds + more.train_seconds,
    )
    return payload(run, problem, static, out) | {"grouping": search["record"]}


def partition_arm_names(run: RunConfig) -> list[str]:
    return [name for name in run.arms if ARMS[name].layout == "partition"]


def searches_partition(run: RunConfig) -> bool:
    """The job chooses a partition arm's groups itself, so that arm's shape is known only inside it."""
    return bool(partition_arm_names(run)) and run.train.groups is None


SIGNAL_ARMS = {"affinity": ("mtl",), "pairs": ("stl", "pairs")}


def signal_static(run: RunConfig, input_shape: tuple[int, ...]) -> Static:
    """Every configured arm but the partition arms, plus the arms the grouping signal is measured on."""
    arms = [name for name in run.arms if name not in partition_arm_names(run)]
    arms += [name for name in SIGNAL_ARMS[run.train.grouping_signal] if name not in arms]
    every = run.train.affinity_every
    if run.train.grouping_signal == "affinity":
        every = every or run.train.eval_every
    static = static_of(dataclasses.replace(run, arms=arms), input_shape)
    return dataclasses.replace(static, affinity_every=every)


def search_groups(run: RunConfig, static: Static, out: TrainOutput) -> dict:
    """The partition chosen from the signal in `out`, and the record of how it was chosen."""
    signal_name = run.train.grouping_signal
    if signal_name == "affinity":
        signal = out.metrics["mtl"]["affinity"][:, 0]  # [S, K, K]
    else:
        pairs = next(spec for spec in static.arms if spec.name == "pairs")
        single = out.metrics["stl"]["val_bce"][..., 0]  # [S, K]
        signal = grouping.pair_gains(pairs.groups, out.metrics["pairs"]["val_bce"], single)
    choice = grouping.choose(signal, run.train.max_networks)
    per_seed = [grouping.choose(signal[s : s + 1], run.train.max_networks).partition for s in range(len(signal))]
    arms = SIGNAL_ARMS[signal_name]
    networks = sum(spec.networks for spec in static.arms if spec.name in arms)
    return {
        "partition": choice.partition,
        "record": {
            "signal": signal_name,
            "signal_arms": list(arms),
            "signal_net_steps": networks * run.train.seeds * run.train.steps,
            "signal_compile_seconds": out.compile_seconds,  # the program also trained the other arms
            "signal_train_seconds": out.train_seconds,
            "method": choice.method,
            "max_networks": run.train.max_networks,
            "score": choice.score,
            "score_se": choice.score_se,
            "best": [list(g) for g in choice.best],
            "partitions_evaluated": choice.evaluated,
            "search_seconds": choice.seconds,
            "per_seed": [[list(g) for g in p] for p in per_seed],
        },
    }


def payload(run: RunConfig, problem: Problem, static: Static, out: TrainOutput, fused_jobs: int = 1) -> dict:
    """The result.json payload of one job from its TrainOutput (metrics [S, G, H], no job axis).

    `fused_jobs` > 1: the job trained in one program with that many others; its timing is
    its even share of the program's.
    """
    arms, rows, diverged, affinity = {}, [], [], None
    for spec in static.arms:
        metrics, source_step = arm_metrics(run, spec, out)
        if "affinity" in metrics:  # [S, G=1, K, K] -> [seed][i][j], Z_{i->j}
            matrix = np.asarray(metrics.pop("affinity"))[:, 0].tolist()
            affinity = {"arm": spec.name, "every": static.affinity_every, "matrix": matrix}
        finite = np.asarray(metrics.pop("finite"))
        reported = spec.groups
        if spec.target_only:  # head 0 is the target; the other heads only served it
            metrics = {name: value[..., :1] for name, value in metrics.items()}
            reported = ((spec.groups[0][0],),)
        reasons = divergence(finite, np.concatenate([np.asarray(metrics["val_bce"]), last_val_bce(spec, out)], axis=-1))
        diverged += [{"arm": spec.name, "seed": s, "reason": r} for s, r in enumerate(reasons) if r]
        arms[spec.name] = arm_entry(run, spec, problem, source_step)
        rows += results.records(spec.name, reported, metrics, problem.references)
    return {
        "schema_version": results.SCHEMA_VERSION,
        "status": "diverged" if diverged else "ok",
        "error": None,
        "created": results.now(),
        "config": to_dict(run),
        "config_hash": config_hash(run),
        "task_names": problem.task_names,
        "features": problem.features,
        "arms": arms,
        "records": [] if diverged else rows,
        "references": {name: np.asarray(value).tolist() for name, value in problem.references.items()},
        "diverged": diverged,
        "curves": curves_of(out),
        "affinity": affinity,
        "timing": timing(run, static, out, problem.seconds, fused_jobs),
        "environment": environment(),
    }


def arm_metrics(run: RunConfig, spec: ArmSpec, out: TrainOutput) -> tuple[dict, np.ndarray | None]:
    """One arm's metrics as recorded (undertrained flag, chosen lr), and its pretraining's best step."""
    metrics = dict(out.metrics[spec.name])
    source_step = metrics.pop("pretrain_best_step", None)
    # Still improving when training stopped: a longer budget might have changed the result.
    metrics["undertrained"] = np.asarray(metrics["best_step"]) == out.eval_steps[-1]
    metrics["lr"] = np.asarray(run.train.lr_grid or [run.train.lr])[metrics.pop("lr_index")]
    return metrics, source_step


def last_val_bce(spec: ArmSpec, out: TrainOutput) -> np.ndarray:
    """Validation loss where training ended [S, G, H]: with evaluation from step 0, a run that
    blew up keeps its initial network as its best step, and that must not pass as trained."""
    last = np.asarray(out.curves[spec.name]["val_bce"])[:, -1]
    return last[..., :1] if spec.target_only else last


def arm_entry(run: RunConfig, spec: ArmSpec, problem: Problem, source_step: np.ndarray | None) -> dict:
    """result.json's description of one arm: its networks, heads, groups and training."""
    groups = [[k for k in g if k != PAD] for g in spec.groups]
    entry = {
        "description": ARMS[spec.name].description,
        "networks": spec.networks,
        "heads": spec.heads,
        "groups": groups,
        "width": spec.width or run.model.width,
        "params_per_network": count_params(run, spec.heads, spec.width, problem.input_shape, spec.sharing),
        "weighting": run.train.weighting if spec.weighted else "equal",
        "lr_grid": list(run.train.lr_grid or [run.train.lr]),
    }
    if ARMS[spec.name].layout == "partition":
        entry["partition"] = [[problem.task_names[k] for k in g] for g in groups]
    if spec.transfer:
        entry["pretrain_steps"] = run.train.pretrain_steps
        entry["finetune_steps"] = run.train.steps - run.train.pretrain_steps
        entry["pretrain_best_step"] = np.asarray(source_step)[:, 0].tolist()  # per seed
    return entry


def curves_of(out: TrainOutput) -> dict:
    curves = {"steps": list(out.eval_steps)}
    for name, arm_curves in out.curves.items():
        curves[name] = {k: np.asarray(v).tolist() for k, v in arm_curves.items()}
    return curves


def timing(run: RunConfig, static: Static, out: TrainOutput, data_seconds: float, fused_jobs: int) -> dict:
    net_steps = sum(spec.networks for spec in static.arms) * run.train.seeds * run.train.steps
    return {
        "data_seconds": data_seconds,
        "compile_seconds": out.compile_seconds,
        "train_seconds": out.train_seconds,
        "net_steps": net_steps,
        "net_steps_per_second": net_steps / out.train_seconds,
        "fused_jobs": fused_jobs,
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
