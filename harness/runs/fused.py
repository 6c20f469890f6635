"""Fused sweeps: jobs with the same compiled shapes train as one program, vmapped over jobs.

Jobs fuse when their static structure (arms, model, optimiser, batch size, evaluation
period), data shapes, replicate count, step count and learning-rate grid size agree; what differs between them
(relatedness, label sizes, missing fractions, learning rate, seeds) becomes a leading
job axis. Each job's slice of the output becomes the same payload `run_job` returns.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from harness.config import RunConfig
from harness.data import make_dataset
from harness.data.base import Dataset
from harness.runs.job import lr_target, payload, problem_of, replicate_keys, run_job, searches_partition, static_of
from harness.train.program import make_program
from harness.train.trainer import TrainOutput, hyperparams, train

# Fraction of the device's memory that one fused program may plan for.
MEMORY_SHARE = 0.5
# Scratch memory (activations, gradients, optimiser temporaries) relative to the state.
WORKSPACE_FACTOR = 4


def group_key(run: RunConfig) -> tuple:
    """Jobs with equal keys can share one compiled program (one replicate is built to read the shapes)."""
    probe = make_dataset(run.data, run.data.seed)
    shapes = tuple((np.shape(a), np.asarray(a).dtype.str) for a in probe)
    static = static_of(run, probe.x_train.shape[1:])
    grid = len(run.train.lr_grid or [run.train.lr])
    # The evaluation schedule, which all jobs of a program share, depends on pretraining's length.
    pretrain = run.train.pretrain_steps if any(spec.transfer for spec in static.arms) else None
    return static, shapes, run.train.seeds, run.train.steps, grid, pretrain


def job_bytes(run: RunConfig) -> int:
    """Estimated device memory of one job in a fused program: data, training state and scratch."""
    probe = make_dataset(run.data, run.data.seed)
    static = static_of(run, probe.x_train.shape[1:])
    hp = hyperparams(run.train)
    grid = len(hp["lr"])  # every network trains once per learning rate
    state = jax.eval_shape(make_program(static).init, jax.random.PRNGKey(0), probe, jax.tree.map(lambda a: a[0], hp))
    state_bytes = sum(np.prod(x.shape) * x.dtype.itemsize for x in jax.tree.leaves(state))
    data_bytes = sum(np.asarray(a).nbytes for a in probe)
    # Evaluation runs every network on the validation and test rows at once.
    eval_rows = probe.x_val.shape[0] + probe.x_test.shape[0]
    networks = sum(spec.networks for spec in static.arms)
    eval_bytes = 4 * networks * eval_rows * max(spec.width or run.model.width for spec in static.arms)
    return int(run.train.seeds * (data_bytes + grid * (WORKSPACE_FACTOR * state_bytes + 2 * eval_bytes)))


def device_memory() -> int:
    stats = jax.devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"])
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def plan(runs: Sequence[RunConfig], max_jobs: int | None = None) -> list[list[int]]:
    """Indices of `runs` in fusable groups, in sweep order, each split into chunks that fit in memory.

    A job whose data cannot be built to read its shapes is a chunk of its own, last.
    """
    groups: dict[Any, list[int]] = {}
    alone = []
    for i, run in enumerate(runs):
        if searches_partition(run):
            groups[("alone", i)] = [i]
            continue
        try:
            groups.setdefault(group_key(run), []).append(i)
        except Exception:  # noqa: BLE001 - the launcher runs it by itself and records its failure
            alone.append([i])
    chunks = []
    for members in groups.values():
        if searches_partition(runs[members[0]]):
            chunks.append(members)
            continue
        size = max_jobs or max(1, int(MEMORY_SHARE * device_memory()) // job_bytes(runs[members[0]]))
        chunks += [members[start : start + size] for start in range(0, len(members), size)]
    return chunks + alone


def job_slice(out: TrainOutput, j: int, jobs: int) -> TrainOutput:
    """Job j's part of a fused TrainOutput; each job is charged an even share of the time."""
    return TrainOutput(
        metrics=jax.tree.map(lambda x: x[j], out.metrics),
        curves=jax.tree.map(lambda x: x[j], out.curves),
        eval_steps=out.eval_steps,
        compile_seconds=out.compile_seconds / jobs,
        train_seconds=out.train_seconds / jobs,
    )


def run_group(runs: Sequence[RunConfig], on_chunk: Callable[[int], None] | None = None) -> list[dict]:
    """Train same-shape jobs as one program; return each job's result payload, in order."""
    if searches_partition(runs[0]):  # planned alone
        return [run_job(runs[0], progress=False)]
    problems = [problem_of(run) for run in runs]
    first = runs[0]
    static = static_of(first, problems[0].input_shape)
    data = Dataset(*(np.stack(parts) for parts in zip(*(p.data for p in problems), strict=True)))
    keys = jnp.stack([replicate_keys(run) for run in runs])
    hp = jax.tree.map(lambda *xs: jnp.stack(xs), *(hyperparams(r.train) for r in runs))
    targets = np.asarray([lr_target(run) for run in runs])
    out = train(static, keys, data, hp, first.train.steps, on_chunk, job_axis=True, lr_target=targets)
    return [
        payload(run, problem, static, job_slice(out, j, len(runs)), len(runs))
        for j, (run, problem) in enumerate(zip(runs, problems, strict=True))
    ]
