"""Task suites: each turns a DataConfig and a data seed into a Dataset.

`SUITES` holds one record per suite (harness/data/suite.py); every other part of the
harness reads a suite from its record. Adding a suite is one module and one entry here
(docs/extending.md).
"""

from __future__ import annotations

import numpy as np

from harness.config import ConfigError, DataConfig
from harness.data import digits, features, scenes, synthetic, table
from harness.data.base import Dataset
from harness.data.suite import Suite

SUITES: dict[str, Suite] = {
    "synthetic": synthetic.SUITE,
    "features": features.SUITE,
    "scenes": scenes.SUITE,
    "digits": digits.SUITE,
    "table": table.SUITE,
}


def suite_of(cfg: DataConfig) -> Suite:
    if cfg.suite not in SUITES:
        raise ConfigError(f"data.suite={cfg.suite!r} is not available; choose one of {', '.join(SUITES)}")
    return SUITES[cfg.suite]


def make_dataset(cfg: DataConfig, seed: int) -> Dataset:
    return suite_of(cfg).make(cfg, seed)


def make_replicates(cfg: DataConfig, replicates: int) -> Dataset:
    """One draw per replicate (data seed cfg.seed + r), stacked on a leading axis."""
    draws = [make_dataset(cfg, cfg.seed + r) for r in range(replicates)]
    return Dataset(*(np.stack(parts) for parts in zip(*draws, strict=True)))


def task_names(cfg: DataConfig) -> list[str]:
    return suite_of(cfg).task_names(cfg)


def features_used(cfg: DataConfig) -> dict | None:
    """A file's feature columns and the columns automatic selection left out; None for generated suites."""
    return suite_of(cfg).features(cfg)
