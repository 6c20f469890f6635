"""A job's curves sent to its tracking run while it trains, one point per evaluation.

The tracking callback opens the job's run when the job starts (in the job's own process,
so on a Submitit or Ray worker too) and attaches it here; the job's trainer hands every
evaluation's curves to `publish`. A job trained inside a fused program (hydra/launcher=fused)
trains before its run opens, so its run gets the curves when it ends, like every run does.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness.runs.tracking.record import metric_name

# (step, {metric name: value}) -> logged; None while no tracked job runs in this process.
Sink = Callable[[int, dict[str, float]], None]
_sink: Sink | None = None


def attach(sink: Sink | None) -> None:
    global _sink
    _sink = sink


def attached() -> bool:
    return _sink is not None


def live_metrics(curves: dict[str, dict[str, np.ndarray]]) -> dict[str, float]:
    """One evaluation's curves (arm -> train_loss [S, L, G], val_bce [S, L, G, H]) as
    `live/train_loss/ARM` and `live/val_bce/ARM`: the mean over seeds, networks (and tasks)
    at the learning rate whose mean is lowest at this evaluation. The learning rate is
    chosen only when training ends, so these are a view of progress; the final curves at
    the chosen rate are logged when the job ends."""
    out = {}
    for arm, arm_curves in curves.items():
        for name, value in arm_curves.items():
            if name not in ("train_loss", "val_bce"):
                continue
            values = np.asarray(value, dtype=float)
            per_lr = np.moveaxis(values, 1, 0).reshape(values.shape[1], -1)
            finite = np.isfinite(per_lr)  # unused heads and step 0's training loss are NaN
            counts = finite.sum(axis=1)
            if counts.any():
                means = np.where(finite, per_lr, 0).sum(axis=1)[counts > 0] / counts[counts > 0]
                out[metric_name("live", name, arm)] = float(means.min())
    return out


def publish(step: int, curves: dict[str, dict[str, np.ndarray]]) -> None:
    """Log one evaluation's live metrics to the attached run, if any."""
    if _sink is not None:
        _sink(step, live_metrics(curves))
