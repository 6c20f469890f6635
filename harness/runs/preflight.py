"""What every job must pass before any job of a sweep starts: its data source can be
read and split, and it fits in memory.

The default and fused launchers check every job of a sweep before the first one trains
(as they do the config values); each job checks itself again when it starts (single
runs, other launchers, and a file edited since). Imports neither JAX nor the trainer.
"""

from __future__ import annotations

import os

from harness.config import ConfigError, RunConfig
from harness.data import digits, table

# The estimate is a lower bound: float32 inputs and labels, and per network three copies
# of its parameters (weights, gradient, optimiser moment) and one layer's activations on
# the validation and test rows. A job that needs more than the machine has cannot run.
BYTES = 4
PARAMETER_COPIES = 3


def check(run: RunConfig) -> None:
    """A one-line ConfigError for a data source that cannot be used or a job that cannot fit."""
    d = run.data
    if d.suite == "table":
        parsed = table.load(d)
        complete = int(parsed.observed.all(axis=1).sum())
        rows, inputs, held_out = len(parsed.x), parsed.x.shape[1], round((d.val_fraction + d.test_fraction) * complete)
        data_keys = f"the {rows} rows and {inputs} feature columns of data.path"
    else:
        rows, held_out = d.pool + d.n_val + d.n_test, d.n_val + d.n_test
        inputs, input_key = {
            "synthetic": (d.dim, f"data.dim={d.dim}"),
            "scenes": (3 * d.image_size**2, f"data.image_size={d.image_size}"),
            "digits": ((digits.CELL * d.grid) ** 2, f"data.grid={d.grid}"),
        }[d.suite]
        data_keys = f"data.pool={d.pool}, data.n_val={d.n_val}, data.n_test={d.n_test}, {input_key}"
    check_memory(run, rows, inputs, held_out, data_keys)
    if d.suite == "table":
        table.check(d, run.train.seeds)


def networks(arm: str, tasks: int) -> int:
    """Networks an arm trains (harness/arms.py), counted without building its task groups."""
    return {"stl": tasks, "pairs": tasks * (tasks - 1) // 2}.get(arm, 1)


def network_bytes(run: RunConfig, inputs: int, held_out: int) -> int:
    """A lower bound on one replicate's networks: parameters and evaluation activations."""
    m, tasks = run.model, run.data.tasks
    first = 9 * 3 * m.width if m.kind == "cnn" else inputs * m.width
    hidden = (9 if m.kind == "cnn" else 1) * (m.depth - 1) * m.width**2
    total = 0
    for arm in run.arms:
        heads = tasks if arm not in ("stl", "pairs") else (1 if arm == "stl" else 2)
        params = first + hidden + m.width * heads
        total += networks(arm, tasks) * (PARAMETER_COPIES * params + held_out * m.width) * BYTES
    return total


def available_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(run: RunConfig, rows: int, inputs: int, held_out: int, data_keys: str) -> None:
    seeds = run.train.seeds
    data = rows * (inputs + run.data.tasks) * BYTES
    nets = network_bytes(run, inputs, held_out)
    need, have = seeds * (data + nets), available_memory()
    if need > have:
        m = run.model
        net_keys = f"model.width={m.width}, model.depth={m.depth}, arms={','.join(run.arms)}"
        raise ConfigError(
            f"a job needs at least {_size(need)} of memory, more than this machine's {_size(have)}: "
            f"train.seeds={seeds} replicates of {_size(data)} data ({data_keys}, data.tasks={run.data.tasks}) "
            f"and {_size(nets)} networks ({net_keys}); lower train.seeds or these sizes"
        )


def _size(count: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count / 2**10:,.1f} KiB"
