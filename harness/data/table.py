"""Bring your own data: a CSV or Parquet table with feature columns and binary label columns.

data.path is the file (.parquet / .pq read as Parquet, anything else as CSV),
data.labels its label columns (one task each, in that order), data.features its
feature columns (null: every other column that holds a number; columns without any are
left out, logged and recorded in result.json's `features`). A label cell is 0/1,
true/false or yes/no (any case); an empty cell, NaN or ? is a missing label ("?").
Every feature cell must be a finite number within +-FEATURE_LIMIT: one that is not is
an error naming the column and row, never a dropped column. Column names must be
distinct (read from the header itself: pandas would rename a duplicate).

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
and the problem, quoting at most a short excerpt of a cell or name.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from harness.config import ConfigError, DataConfig, check
from harness.config.errors import excerpt
from harness.data.base import Dataset, task_sizes
from harness.data.suite import Size, Suite
from harness.data.table_file import check_file, check_types, read_frame

TRUE = {"1", "1.0", "true", "yes"}
FALSE = {"0", "0.0", "false", "no"}
MISSING = {"", "?", "nan"}
# Largest feature magnitude: standardising squares deviations in float64, which overflows
# for values near its maximum (1.8e308, also a common "missing" sentinel) and stays exact
# below this bound for any row count up to 4e7.
FEATURE_LIMIT = 1e150
log = logging.getLogger(__name__)


class Table(NamedTuple):
    x: np.ndarray  # [n, F] float64, raw
    y: np.ndarray  # [n, K] float32 in {0, 1} (0 where missing)
    observed: np.ndarray  # [n, K] bool
    features: tuple[str, ...]
    excluded: tuple[str, ...] = ()  # columns automatic selection left out (no number in them)


def _columns(frame) -> str:
    names = [excerpt(c) for c in frame.columns[:8]]
    more = f" and {len(frame.columns) - 8} more" if len(frame.columns) > 8 else ""
    return ", ".join(names) + more


def _labels(path: str, name: str, column) -> tuple[np.ndarray, np.ndarray]:
    text = column.astype(str).str.strip().str.lower()
    missing = column.isna().to_numpy() | text.isin(MISSING).to_numpy()
    positive, negative = text.isin(TRUE).to_numpy(), text.isin(FALSE).to_numpy()
    bad = ~(missing | positive | negative)
    if bad.any():
        values = ", ".join(excerpt(v) for v in column[bad].astype(str).unique()[:3])
        raise ConfigError(
            f"{path}: column {excerpt(name)} (label) has values other than 0/1, true/false, yes/no or missing: {values}"
        )
    if missing.all():
        raise ConfigError(f"{path}: column {excerpt(name)} (label) has no labelled rows")
    return positive.astype(np.float32), ~missing


def _parse(column) -> np.ndarray:
    """A column's cells as float64; NaN where a cell is empty or not a number."""
    import pandas as pd

    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _numbers(path: str, name: str, column) -> np.ndarray:
    """A feature column as float64, or a ConfigError naming its first cell that is not a usable number.

    Rows count from 1, the first row after the header.
    """
    values = _parse(column)
    empty = column.isna().to_numpy()
    if empty.any():
        first = int(np.flatnonzero(empty)[0]) + 1
        raise ConfigError(
            f"{path}: column {excerpt(name)} (feature) has {int(empty.sum())} empty cells, the first in row {first}"
        )
    bad = ~(np.abs(values) <= FEATURE_LIMIT)  # NaN (not a number), inf and overflowing values
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value, cell = values[row], excerpt(column.iloc[row])
        if np.isnan(value):
            problem = f"{cell} is not a number; fix the cell or leave the column out of data.features"
        elif np.isinf(value):
            problem = f"{cell} is not a finite number"
        else:
            problem = f"{cell} is beyond +-{FEATURE_LIMIT:g}, too large to standardise in float64"
        raise ConfigError(f"{path}: column {excerpt(name)} (feature), row {row + 1}: {problem}")
    return values


def _automatic_features(frame, labels: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Every non-label column that holds a number, and the columns without any (left out).

    A column with some numbers and some text is a feature, so its text cells are an error
    later instead of the column vanishing.
    """
    used, excluded = [], []
    for name in frame.columns:
        if name not in labels:
            (used if np.isfinite(_parse(frame[name])).any() else excluded).append(str(name))
    return tuple(used), tuple(excluded)


@lru_cache(maxsize=4)
def _load(path: str, stamp: float, labels: tuple[str, ...], features: tuple[str, ...] | None) -> Table:
    """The parsed file; `stamp` (its modification time) makes an edited file be read again."""
    frame = read_frame(path)
    if frame.shape[0] == 0:
        raise ConfigError(f"{path}: the file has no data rows")
    for key, names in (("data.labels", labels), ("data.features", features or ())):
        for name in names:
            if name not in frame.columns:
                raise ConfigError(
                    f"{path}: column {excerpt(name)} ({key}) is not in the file; its columns: {_columns(frame)}"
                )
    check_types(path, frame, features if features is not None else [c for c in frame.columns if c not in labels])
    excluded: tuple[str, ...] = ()
    if features is None:
        features, excluded = _automatic_features(frame, labels)
        if not features:
            raise ConfigError(f"{path}: no numeric feature column besides the labels; name them in data.features")
        if excluded:
            log.warning(f"{path}: data.features unset; left out columns without numbers: {', '.join(excluded)}")
    x = np.stack([_numbers(path, name, frame[name]) for name in features], axis=1)
    parsed = [_labels(path, name, frame[name]) for name in labels]
    y = np.stack([p[0] for p in parsed], axis=1)
    observed = np.stack([p[1] for p in parsed], axis=1)
    return Table(x, y, observed, features, excluded)


def load(cfg: DataConfig) -> Table:
    path = os.path.expanduser(cfg.path)
    check_file(path)
    stamp = os.path.getmtime(path)
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
            f"{cfg.path}: column {excerpt(cfg.labels[one_class[0]])} (label) has one class only in the test split "
            f"of data seed {seed}; raise data.test_fraction"
        )
    return train, val, test


def _row_keys(x: np.ndarray) -> np.ndarray:
    """Each row's values as one comparable item (-0.0 and 0.0 alike)."""
    rows = np.ascontiguousarray(x + 0.0)
    return rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()


def duplicates(table: Table, train: np.ndarray, held: np.ndarray) -> int:
    """Held-out rows whose feature values equal a training row's: the model may have seen them."""
    return int(np.isin(_row_keys(table.x[held]), _row_keys(table.x[train])).sum())


def check_duplicates(cfg: DataConfig, counts: list[tuple[int, int, int]]) -> None:
    """A warning for held-out rows that repeat a training row, a ConfigError beyond data.max_duplicates.

    `counts` holds (repeated rows, held-out rows, data seed) per replicate; the worst share is told.
    """
    count, held, seed = max(counts, key=lambda c: c[0] / c[1])
    if not count:
        return
    what = (
        f"{cfg.path}: {count} of the {held} validation and test rows of data seed {seed} ({count / held:.1%}) "
        "have the feature values of a training row, so their scores are optimistic"
    )
    if count / held > cfg.max_duplicates:
        raise ConfigError(
            f"{what}; more than data.max_duplicates={cfg.max_duplicates:g}: remove the repeated rows, or raise "
            "data.max_duplicates (1 allows all)"
        )
    log.warning(what)


def readable(cfg: DataConfig, replicates: int) -> Table:
    """What `make` would refuse for any of the replicates' data seeds, without building them."""
    parsed = load(cfg)
    counts = []
    for seed in range(cfg.seed, cfg.seed + replicates):
        train, val, test = split_rows(cfg, parsed, seed)
        budget(cfg, parsed.observed[train], np.random.default_rng([seed, 1]))
        held = np.concatenate([val, test])
        counts.append((duplicates(parsed, train, held), len(held), seed))
    check_duplicates(cfg, counts)
    return parsed


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


def check_keys(d: DataConfig) -> None:
    """The file, its label and feature columns; data.tasks becomes the number of labels."""
    check(bool(d.path), "data.path", d.path, "the CSV or Parquet file to read (data.suite=table)")
    check(bool(d.labels), "data.labels", d.labels, "a non-empty list of the file's binary label columns")
    check(len(set(d.labels)) == len(d.labels), "data.labels", d.labels, "distinct column names")
    check(d.tasks in (0, len(d.labels)), "data.tasks", d.tasks, f"0 or {len(d.labels)}, one per label column")
    d.tasks = len(d.labels)  # a table's tasks are its label columns
    if d.features is not None:
        check(len(d.features) > 0, "data.features", d.features, "a non-empty list of columns, or null for all")
        both = sorted(set(d.features) & set(d.labels))
        check(not both, "data.features", d.features, f"no label column (both: {', '.join(both)})")


def size(d: DataConfig) -> Size:
    parsed = load(d)
    complete = int(parsed.observed.all(axis=1).sum())
    rows, inputs = parsed.x.shape
    held_out = round((d.val_fraction + d.test_fraction) * complete)
    return Size(rows, inputs, held_out, f"the {rows} rows and {inputs} feature columns of data.path")


def features_used(d: DataConfig) -> dict:
    """The feature columns used, and those automatic selection left out."""
    parsed = load(d)
    return {"used": list(parsed.features), "excluded": list(parsed.excluded)}


SUITE = Suite(
    make=make,
    task_names=lambda d: list(d.labels),
    size=size,
    title="your table",
    check=check_keys,
    from_file=True,
    readable=readable,
    features=features_used,
)
