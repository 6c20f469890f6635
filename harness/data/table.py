"""Bring your own data: a CSV or Parquet table with feature columns and binary label columns.

data.path is the file (.parquet / .pq read as Parquet, anything else as CSV),
data.labels its label columns (one task each, in that order), data.features its
feature columns (null: every other numeric column). A label cell is 0/1, true/false
or yes/no (any case); an empty cell, NaN or ? is a missing label ("?").

Split, per data seed (so each replicate gets its own split): validation and test rows
must be fully labelled, so they are drawn from the rows that have every label,
data.val_fraction and data.test_fraction of those; every other row, partially
labelled ones included, is training data. Shapes therefore depend only on the file and
the fractions. Features are standardised with the training rows' mean and standard
deviation.

Label budget: the training mask is the file's own. data.n_per_task (0 = all), or
data.n_target / data.n_other, keep a random subset of that many of each task's
labelled training rows, and data.missing then hides that fraction of the kept ones;
asking for more labels than a task has is an error. These are values, not shapes: a
sweep over them on one table compiles once.

Every problem with the file is a ConfigError of one line naming the file, the column
and the problem.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from harness.config import ConfigError, DataConfig
from harness.data.base import Dataset, task_sizes

TRUE = {"1", "1.0", "true", "yes"}
FALSE = {"0", "0.0", "false", "no"}
MISSING = {"", "?"}


class Table(NamedTuple):
    x: np.ndarray  # [n, F] float64, raw
    y: np.ndarray  # [n, K] float32 in {0, 1} (0 where missing)
    observed: np.ndarray  # [n, K] bool
    features: tuple[str, ...]


def _read(path: str):
    import pandas as pd

    if not os.path.isfile(path):
        raise ConfigError(f"{path}: file not found (data.path)")
    try:
        if path.lower().endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        return pd.read_csv(path, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ConfigError(f"{path}: the file is empty") from None
    except Exception as error:  # noqa: BLE001 - any reader failure is a bad file
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"{path}: cannot be read as a table: {detail}") from None


def _labels(path: str, name: str, column) -> tuple[np.ndarray, np.ndarray]:
    text = column.astype(str).str.strip().str.lower()
    missing = column.isna().to_numpy() | text.isin(MISSING).to_numpy()
    positive, negative = text.isin(TRUE).to_numpy(), text.isin(FALSE).to_numpy()
    bad = ~(missing | positive | negative)
    if bad.any():
        values = ", ".join(repr(v) for v in column[bad].astype(str).unique()[:3])
        raise ConfigError(
            f"{path}: column '{name}' (label) has values other than 0/1, true/false, yes/no or missing: {values}"
        )
    if missing.all():
        raise ConfigError(f"{path}: column '{name}' (label) has no labelled rows")
    return positive.astype(np.float32), ~missing


@lru_cache(maxsize=4)
def _load(path: str, stamp: float, labels: tuple[str, ...], features: tuple[str, ...] | None) -> Table:
    """The parsed file; `stamp` (its modification time) makes an edited file be read again."""
    import pandas as pd

    frame = _read(path)
    if frame.shape[0] == 0:
        raise ConfigError(f"{path}: the file has no data rows")
    for key, names in (("data.labels", labels), ("data.features", features or ())):
        for name in names:
            if name not in frame.columns:
                columns = ", ".join(map(str, frame.columns))
                raise ConfigError(f"{path}: column '{name}' ({key}) is not in the file; its columns: {columns}")
    if features is None:
        features = tuple(
            str(c) for c in frame.columns if c not in labels and pd.api.types.is_numeric_dtype(frame[c].dtype)
        )
        if not features:
            raise ConfigError(f"{path}: no numeric feature column besides the labels; name them in data.features")
    for name in features:
        column = frame[name]
        if not pd.api.types.is_numeric_dtype(column.dtype):
            text = column[pd.to_numeric(column, errors="coerce").isna() & column.notna()].astype(str)
            example = f", e.g. {text.iloc[0]!r}" if len(text) else " (numbers stored as text)"
            raise ConfigError(f"{path}: column '{name}' (feature) is not numeric{example}")
        if column.isna().any():
            raise ConfigError(f"{path}: column '{name}' (feature) has {int(column.isna().sum())} empty cells")
    parsed = [_labels(path, name, frame[name]) for name in labels]
    y = np.stack([p[0] for p in parsed], axis=1)
    observed = np.stack([p[1] for p in parsed], axis=1)
    x = frame[list(features)].to_numpy(dtype=np.float64)
    return Table(x, y, observed, features)


def load(cfg: DataConfig) -> Table:
    path = os.path.expanduser(cfg.path)
    stamp = os.path.getmtime(path) if os.path.isfile(path) else 0.0
    features = tuple(cfg.features) if cfg.features is not None else None
    return _load(path, stamp, tuple(cfg.labels), features)


def split_sizes(cfg: DataConfig, table: Table) -> tuple[int, int]:
    """Validation and test rows, drawn from the fully labelled rows."""
    complete = int(table.observed.all(axis=1).sum())
    n_val, n_test = round(cfg.val_fraction * complete), round(cfg.test_fraction * complete)
    if min(n_val, n_test) < 2:
        raise ConfigError(
            f"{cfg.path}: only {complete} rows have every label of data.labels, too few for "
            f"data.val_fraction={cfg.val_fraction} and data.test_fraction={cfg.test_fraction} (2 rows each at least)"
        )
    return n_val, n_test


def budget(cfg: DataConfig, observed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The training mask: the file's labels, cut to the configured per-task sizes, then hidden."""
    mask = observed.astype(np.float32)
    every = cfg.n_target is None and cfg.n_per_task == 0
    for k, name in enumerate(cfg.labels):
        rows = rng.permutation(np.flatnonzero(observed[:, k]))
        if rows.size == 0:
            raise ConfigError(f"{cfg.path}: column '{name}' (label) has no labelled training rows")
        keep = rows.size if every else int(task_sizes(cfg)[k])
        if keep > rows.size:
            key = "data.n_target" if k == cfg.target else "data.n_other"
            key = "data.n_per_task" if cfg.n_target is None else key
            raise ConfigError(
                f"{cfg.path}: column '{name}' (label) has {rows.size} labelled training rows, fewer than {key}={keep}"
            )
        mask[rows[keep:], k] = 0.0
        mask[rows[: int(round(cfg.missing * keep))], k] = 0.0
    return mask


def split_rows(cfg: DataConfig, table: Table, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """File rows of the training (in random order), validation and test splits of data seed `seed`."""
    n_val, n_test = split_sizes(cfg, table)
    rng = np.random.default_rng([seed, 0])
    held = rng.permutation(np.flatnonzero(table.observed.all(axis=1)))[: n_val + n_test]
    train = rng.permutation(np.setdiff1d(np.arange(len(table.y)), held))
    val, test = held[:n_val], held[n_val:]
    counts = table.y[test].sum(axis=0)
    one_class = np.flatnonzero((counts == 0) | (counts == len(test)))
    if one_class.size:  # its test AUROC would be undefined
        raise ConfigError(
            f"{cfg.path}: column '{cfg.labels[one_class[0]]}' (label) has one class only in the test split "
            f"of data seed {seed}; raise data.test_fraction"
        )
    return train, val, test


def make(cfg: DataConfig, seed: int) -> Dataset:
    table = load(cfg)
    train, val, test = split_rows(cfg, table, seed)
    mean = table.x[train].mean(axis=0)
    std = table.x[train].std(axis=0)
    std = np.where(std > 0, std, 1.0)  # a constant column stays constant (zero)

    def features(rows: np.ndarray) -> np.ndarray:
        return ((table.x[rows] - mean) / std).astype(np.float32)

    mask = budget(cfg, table.observed[train], np.random.default_rng([seed, 1]))
    return Dataset(features(train), table.y[train], mask, features(val), table.y[val], features(test), table.y[test])
