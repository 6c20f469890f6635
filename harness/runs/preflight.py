"""What every job must pass before any job of a sweep starts: its compilation cache
folder can be written, its data source can be read and split, and it fits in memory.

The default and fused launchers check every job of a sweep before the first one trains
(as they do the config values); each job checks itself again when it starts (single
runs, other launchers, and a file edited since). Imports neither JAX nor the trainer.
"""

from __future__ import annotations

import os

from harness.arms import ARMS
from harness.config import ConfigError, RunConfig
from harness.data import suite_of
from harness.data.suite import Size
from harness.runs.runtime import cache_folder

# The estimate: float32 inputs and labels, per network three copies of its parameters
# (weights, gradient, optimiser moment) and one layer's activations on the validation and
# test rows (a lower bound), and what generating one replicate's data holds at its peak
# (the suite's Size.generation, within a factor of 4 of the measured peak). A job that
# needs more than the machine has cannot run.
BYTES = 4
PARAMETER_COPIES = 3


def check(run: RunConfig) -> None:
    """A one-line ConfigError for a data source that cannot be used or a job that cannot fit."""
    cache_folder(run.runtime.cache_dir)
    suite = suite_of(run.data)
    check_memory(run, suite.size(run.data))
    if suite.readable is not None:
        suite.readable(run.data, run.train.seeds)


def network_bytes(run: RunConfig, inputs: int, held_out: int) -> int:
    """A lower bound on one replicate's networks: parameters and evaluation activations."""
    m, tasks = run.model, run.data.tasks
    first = 9 * 3 * m.width if m.kind == "cnn" else inputs * m.width
    hidden = (9 if m.kind == "cnn" else 1) * (m.depth - 1) * m.width**2
    total = 0
    for arm in map(ARMS.get, run.arms):
        params = first + hidden + m.width * arm.heads(tasks)
        total += arm.networks(tasks) * (PARAMETER_COPIES * params + held_out * m.width) * BYTES
    return total


def available_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(run: RunConfig, size: Size) -> None:
    seeds = run.train.seeds
    data = size.rows * (size.inputs + run.data.tasks) * BYTES
    nets = network_bytes(run, size.inputs, size.held_out)
    need, have = seeds * (data + nets) + size.generation, available_memory()
    if need > have:
        m = run.model
        net_keys = f"model.width={m.width}, model.depth={m.depth}, arms={','.join(run.arms)}"
        making = f", and {_size(size.generation)} while generating a replicate's data" if size.generation else ""
        raise ConfigError(
            f"a job needs at least {_size(need)} of memory, more than this machine's {_size(have)}: "
            f"train.seeds={seeds} replicates of {_size(data)} data ({size.keys}, data.tasks={run.data.tasks}) "
            f"and {_size(nets)} networks ({net_keys}){making}; lower train.seeds or these sizes"
        )


def _size(count: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count / 2**10:,.1f} KiB"
