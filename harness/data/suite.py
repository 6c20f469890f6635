"""What a task suite is: one record that every part of the harness reads it from.

The config layer checks a suite's keys with `check`, preflight estimates its memory
from `size` and reads its source with `readable`, the job draws it with `make` and
names its tasks with `task_names`, the references score against `posterior`, and the
report names it with `title`. Imports neither JAX nor the trainer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from harness.config import DataConfig
from harness.data.base import Dataset

# float64 values a generator's temporaries hold at once (16 MiB): scores are computed in
# chunks of rows this size, so that a family of many tasks does not need rows x tasks x
# features at a time.
CHUNK_VALUES = 2**21


class Size(NamedTuple):
    """A job's data, for the memory estimate: rows of every split, input values per row,
    validation and test rows, the keys (or file) that set them, for the error, and the
    bytes that generating one replicate's data holds at its peak beyond the data itself."""

    rows: int
    inputs: int
    held_out: int
    keys: str
    generation: int = 0


def generated_size(cfg: DataConfig, inputs: int, input_key: str, generation: int = 0) -> Size:
    """The size of a generated suite: a pool of data.pool rows and fixed held-out splits."""
    keys = f"data.pool={cfg.pool}, data.n_val={cfg.n_val}, data.n_test={cfg.n_test}, {input_key}"
    return Size(cfg.pool + cfg.n_val + cfg.n_test, inputs, cfg.n_val + cfg.n_test, keys, generation)


def by_rows(score: Callable[[np.ndarray], np.ndarray], x: np.ndarray, width: int, axis: int = 0) -> np.ndarray:
    """`score(x)`, computed over chunks of x's rows whose temporaries hold `width` values per row
    and about CHUNK_VALUES in all; the results joined along `axis` (their row axis)."""
    step = max(1, CHUNK_VALUES // max(width, 1))
    if len(x) <= step:
        return score(x)
    return np.concatenate([score(x[i : i + step]) for i in range(0, len(x), step)], axis=axis)


def _no_check(cfg: DataConfig) -> None:
    return None


@dataclass(frozen=True)
class Suite:
    make: Callable[[DataConfig, int], Dataset]  # one draw of the data, for a data seed
    task_names: Callable[[DataConfig], list[str]]
    size: Callable[[DataConfig], Size]
    title: str  # how figures and verdicts name it
    check: Callable[[DataConfig], None] = _no_check  # its own config rules, a ConfigError each
    images: bool = False  # inputs are [H, W, 3] images: model.kind=cnn applies
    # Sizes are caps on the labels a file has (checked when it is read), not rows of data.pool.
    from_file: bool = False
    # The exact posterior, where the generator knows it: (cfg, data seed, inputs) -> logits [n, K].
    posterior: Callable[[DataConfig, int, np.ndarray], np.ndarray] | None = None
    # What would refuse to build any replicate's data (cfg, replicates), checked before a sweep.
    readable: Callable[[DataConfig, int], object] | None = None
    # The feature columns used and left out, recorded in result.json; None: generated inputs.
    features: Callable[[DataConfig], dict | None] = lambda cfg: None
