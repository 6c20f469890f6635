"""One job: build the data, train every arm on it, and return the result payload.

Plain functions of a typed RunConfig; the Hydra entry point (harness/cli/run.py) and the
tests call the same code.
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from harness.arms import DESCRIPTIONS, PAD, make_arm
from harness.config import ModelConfig, RunConfig, resolve_groups, to_dict
from harness.data import features_used, make_replicates, task_names
from harness.data.base import Dataset
from harness.data.references import references
from harness.runs import grouping, results
from harness.runs.resume import config_hash
from harness.runs.runtime import environment
from harness.train.metrics import divergence
from harness.train.models import make_model
from harness.train.trainer import Static, TrainOutput, evaluation_steps, hyperparams, train


def static_of(run: RunConfig, input_shape: tuple[int, ...]) -> Static:
    """The compiled program's structure (arm groups: the partition of train.groups)."""
    width = equal_params_width(run, input_shape) if "mtl_equal_params" in run.arms else None
    partition = None
    if run.train.groups is not None:  # task names resolve here: they are known once the suite is
        partition = resolve_groups(run.train.groups, run.data.tasks, task_names(run.data))
    return Static(
        arms=tuple(make_arm(name, run.data.tasks, width, run.data.target, partition) for name in run.arms),
        model=run.model,
        optimizer=run.train.optimizer,
        batch_size=run.train.batch_size,
        eval_every=run.train.eval_every,
        eval_schedule=run.train.eval_schedule,
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
    """Train the configured arms and return the result.json payload.

    Arm groups without train.groups first trains the other arms together with the
    search's signal arms, chooses the partition from that signal (harness/runs/grouping.py),
    then trains the groups on the same data and keys.
    """
    data, data_seconds = build_data(run)
    shape = data.x_train.shape[2:]
    show = run.runtime.progress if progress is None else progress

    def fit(static: Static, desc: str) -> TrainOutput:
        chunks = len(evaluation_steps(static, run.train.steps, run.train.pretrain_steps))
        with tqdm(total=chunks, desc=desc, unit="eval", leave=False, disable=None if show else True) as bar:
            hp = hyperparams(run.train)
            return train(static, replicate_keys(run), data, hp, run.train.steps, on_chunk=lambda _: bar.update(1))

    if "groups" not in run.arms or run.train.groups is not None:
        static = static_of(run, shape)
        return payload(run, static, fit(static, label), shape, data_seconds, references(run.data, data))
    first = signal_static(run, shape)
    out = fit(first, f"{label}: grouping signal")
    search = search_groups(run, first, out)
    second = dataclasses.replace(first, arms=(make_arm("groups", run.data.tasks, partition=search["partition"]),))
    more = fit(second, f"{label}: groups")
    static = dataclasses.replace(first, arms=first.arms + second.arms)
    out = TrainOutput(
        {**out.metrics, **more.metrics},
        {**out.curves, **more.curves},
        out.eval_steps,  # both programs share one schedule (same Static but for the arms)
        out.compile_seconds + more.compile_seconds,
        out.train_seconds + more.train_seconds,
    )
    result = payload(run, static, out, shape, data_seconds, references(run.data, data))
    result["grouping"] = search["record"]
    return result


SIGNAL_ARMS = {"affinity": ("mtl",), "pairs": ("stl", "pairs")}


def signal_static(run: RunConfig, input_shape: tuple[int, ...]) -> Static:
    """Every configured arm but groups, plus the arms the grouping signal is measured on."""
    arms = [name for name in run.arms if name != "groups"]
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


def payload(
    run: RunConfig,
    static: Static,
    out: TrainOutput,
    input_shape: tuple[int, ...],
    data_seconds: float,
    refs: dict[str, np.ndarray],
    fused_jobs: int = 1,
) -> dict:
    """The result.json payload of one job from its TrainOutput (metrics [S, G, H], no job axis)
    and its data's references ([S, K], harness.data.references).

    `fused_jobs` > 1: the job trained in one program with that many others; its timing is
    its even share of the program's.
    """
    arms, rows, diverged, affinity = {}, [], [], None
    names = task_names(run.data)
    for spec in static.arms:
        metrics = dict(out.metrics[spec.name])
        finite = np.asarray(metrics.pop("finite"))
        source_step = metrics.pop("pretrain_best_step", None)
        # Still improving when training stopped: a longer budget might have changed the result.
        metrics["undertrained"] = np.asarray(metrics["best_step"]) == out.eval_steps[-1]
        metrics["lr"] = np.asarray(run.train.lr_grid or [run.train.lr])[metrics.pop("lr_index")]
        if "affinity" in metrics:  # [S, G=1, K, K] -> [seed][i][j], Z_{i->j}
            affinity = {"arm": spec.name, "every": static.affinity_every}
            affinity["matrix"] = np.asarray(metrics.pop("affinity"))[:, 0].tolist()
        reported = spec.groups
        if spec.target_only:  # head 0 is the target; the other heads only served it
            metrics = {name: value[..., :1] for name, value in metrics.items()}
            reported = ((spec.groups[0][0],),)
        # Where training ended, too: with evaluation from step 0, a run that blew up keeps its
        # initial network as its best step, and that must not pass as a trained result.
        last_val = np.asarray(out.curves[spec.name]["val_bce"])[:, -1]  # [S, G, H]
        last_val = last_val[..., :1] if spec.target_only else last_val
        reasons = divergence(finite, np.concatenate([np.asarray(metrics["val_bce"]), last_val], axis=-1))
        diverged += [{"arm": spec.name, "seed": s, "reason": r} for s, r in enumerate(reasons) if r]
        arms[spec.name] = {
            "description": DESCRIPTIONS[spec.name],
            "networks": spec.networks,
            "heads": spec.heads,
            "groups": [[k for k in g if k != PAD] for g in spec.groups],
            "width": spec.width or run.model.width,
            "params_per_network": count_params(run, spec.heads, spec.width, input_shape),
            "weighting": run.train.weighting if spec.weighted else "equal",
            "lr_grid": list(run.train.lr_grid or [run.train.lr]),
        }
        if spec.name == "groups":
            arms[spec.name]["partition"] = [[names[k] for k in g] for g in arms[spec.name]["groups"]]
        if spec.transfer:
            arms[spec.name]["pretrain_steps"] = run.train.pretrain_steps
            arms[spec.name]["finetune_steps"] = run.train.steps - run.train.pretrain_steps
            arms[spec.name]["pretrain_best_step"] = np.asarray(source_step)[:, 0].tolist()  # per seed
        rows += results.records(spec.name, reported, metrics, refs)
    net_steps = sum(spec.networks for spec in static.arms) * run.train.seeds * run.train.steps
    curves = {"steps": list(out.eval_steps)}
    for name, arm_curves in out.curves.items():
        curves[name] = {k: np.asarray(v).tolist() for k, v in arm_curves.items()}
    return {
        "schema_version": results.SCHEMA_VERSION,
        "status": "diverged" if diverged else "ok",
        "error": None,
        "created": results.now(),
        "config": to_dict(run),
        "config_hash": config_hash(run),
        "task_names": names,
        "features": features_used(run.data),
        "arms": arms,
        "records": [] if diverged else rows,
        "references": {name: np.asarray(value).tolist() for name, value in refs.items()},
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
