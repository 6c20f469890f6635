"""Real handwriting: mosaics of scikit-learn's bundled 8x8 digits, ten tasks "contains digit d".

No download: `sklearn.datasets.load_digits` ships with scikit-learn (1,797 images by
43 writers, grey levels 0..16, scaled here to [0, 1]). A mosaic is a data.grid x
data.grid array of cells, [8 * grid, 8 * grid, 1]; each cell is blank with
probability data.blank, otherwise a source digit drawn uniformly from the split's
pool. Task d is "is there a d anywhere in the mosaic?".

The source images are split into train / validation / test pools (data.val_fraction,
data.test_fraction of them, by the data seed) before any mosaic is composed, so no
test digit image is ever seen in training, only other writings of the same digit.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from harness.config import DataConfig, check
from harness.data.base import Dataset, label_mask
from harness.data.suite import Suite, generated_size

CELL = 8
TASKS = 10


def task_names() -> list[str]:
    return [f"digit_{d}" for d in range(TASKS)]


@cache
def source() -> tuple[np.ndarray, np.ndarray]:
    """The bundled digits: images [1797, 8, 8] float32 in [0, 1] and their digit [1797]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.images / 16.0).astype(np.float32), bunch.target.astype(np.int64)


def source_split(cfg: DataConfig, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint indices of the source images for the train, validation and test pools."""
    n = len(source()[1])
    order = np.random.default_rng([seed, 0]).permutation(n)
    n_val, n_test = round(cfg.val_fraction * n), round(cfg.test_fraction * n)
    return order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test]


def compose(
    cfg: DataConfig, pool: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n mosaics from the source images `pool`: images [n, S, S, 1], labels [n, 10], and the
    source index of every cell [n, grid, grid] (-1 for a blank cell)."""
    images, digits = source()
    g = cfg.grid
    cells = np.where(rng.random((n, g, g)) < cfg.blank, -1, pool[rng.integers(len(pool), size=(n, g, g))])
    tiles = np.where((cells >= 0)[..., None, None], images[np.maximum(cells, 0)], 0.0)  # [n, g, g, 8, 8]
    mosaic = tiles.transpose(0, 1, 3, 2, 4).reshape(n, g * CELL, g * CELL, 1)
    found = np.where(cells >= 0, digits[np.maximum(cells, 0)], -1).reshape(n, -1)
    labels = (found[:, :, None] == np.arange(TASKS)).any(axis=1)
    return mosaic.astype(np.float32), labels.astype(np.float32), cells


def make(cfg: DataConfig, seed: int) -> Dataset:
    train, val, test = source_split(cfg, seed)
    x_train, y_train, _ = compose(cfg, train, cfg.pool, np.random.default_rng([seed, 1]))
    x_val, y_val, _ = compose(cfg, val, cfg.n_val, np.random.default_rng([seed, 2]))
    x_test, y_test, _ = compose(cfg, test, cfg.n_test, np.random.default_rng([seed, 3]))
    mask = label_mask(cfg, np.random.default_rng([seed, 4]))
    return Dataset(x_train, y_train, mask, x_val, y_val, x_test, y_test)


def check_keys(d: DataConfig) -> None:
    check(d.tasks == TASKS, "data.tasks", d.tasks, f"{TASKS} for data.suite=digits (one task per digit)")


SUITE = Suite(
    make=make,
    task_names=lambda d: task_names(),
    size=lambda d: generated_size(d, (CELL * d.grid) ** 2, f"data.grid={d.grid}"),
    title="handwritten digits",
    check=check_keys,
    images=True,
)
