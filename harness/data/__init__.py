"""Task suites: each turns a DataConfig and a data seed into a Dataset."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness.config import ConfigError, DataConfig
from harness.data import digits, scenes, synthetic, table
from harness.data.base import Dataset

SUITES: dict[str, Callable[[DataConfig, int], Dataset]] = {
    "synthetic": synthetic.make,
    "scenes": scenes.make,
    "digits": digits.make,
    "table": table.make,
}


def make_dataset(cfg: DataConfig, seed: int) -> Dataset:
    if cfg.suite not in SUITES:
        raise ConfigError(f"data.suite={cfg.suite!r} is not available; choose one of {', '.join(SUITES)}")
    return SUITES[cfg.suite](cfg, seed)


def make_replicates(cfg: DataConfig, replicates: int) -> Dataset:
    """One draw per replicate (data seed cfg.seed + r), stacked on a leading axis."""
    draws = [make_dataset(cfg, cfg.seed + r) for r in range(replicates)]
    return Dataset(*(np.stack(parts) for parts in zip(*draws, strict=True)))


def task_names(cfg: DataConfig) -> list[str]:
    if cfg.suite == "scenes":
        return scenes.task_names(cfg.tasks)
    if cfg.suite == "digits":
        return digits.task_names()
    if cfg.suite == "table":
        return list(cfg.labels)
    return [f"task{k}" for k in range(cfg.tasks)]


def features_used(cfg: DataConfig) -> dict | None:
    """A table's feature columns and the columns automatic selection left out; None for generated suites."""
    if cfg.suite != "table":
        return None
    parsed = table.load(cfg)
    return {"used": list(parsed.features), "excluded": list(parsed.excluded)}
