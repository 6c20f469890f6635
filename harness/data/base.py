"""The shape every task suite produces, and the label budget shared by generated suites."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from harness.config import DataConfig


class Dataset(NamedTuple):
    """One draw of a task suite.

    The training split is a fixed-size pool; which of its labels exist is the mask
    `m_train` (1 = labelled, 0 = "?"), so per-task sizes and missing fractions are
    values, never shapes. Validation and test splits are fully labelled.
    """

    x_train: np.ndarray  # [pool, *input_shape] float32
    y_train: np.ndarray  # [pool, K] float32 in {0, 1}
    m_train: np.ndarray  # [pool, K] float32 in {0, 1}
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def task_sizes(cfg: DataConfig) -> np.ndarray:
    """Labelled training rows per task before hiding (DataConfig.task_sizes), as an array."""
    return np.asarray(cfg.task_sizes, dtype=np.int64)


def label_mask(cfg: DataConfig, rng: np.random.Generator) -> np.ndarray:
    """Observation mask over the pool.

    data.labelling=overlap: task k is labelled on the first n_k pool rows (the pool is in
    random order, so a prefix is a random sample, and rows labelled for several tasks
    exist as in the lecture's label matrix). disjoint: task k is labelled on the n_k rows
    after those of tasks 0..k-1, so no row is labelled for two tasks (each task comes
    with its own examples; the config check ensures the pool holds them all). Then
    round(missing * n_k) of each task's labels, chosen at random, are hidden as "?".
    """
    sizes = task_sizes(cfg)
    start = np.cumsum(sizes) - sizes if cfg.labelling == "disjoint" else np.zeros_like(sizes)
    rows = np.arange(cfg.pool)[:, None]
    mask = ((rows >= start) & (rows < start + sizes)).astype(np.float32)
    for k, n in enumerate(sizes):
        hide = int(round(cfg.missing * n))
        if hide:
            mask[start[k] + rng.choice(n, size=hide, replace=False), k] = 0.0
    return mask
