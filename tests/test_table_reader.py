"""The table reader's guards: a one-class test split, a constant feature column, and its file cache."""

from __future__ import annotations

import os

import numpy as np
import pytest

from harness.config import ConfigError, DataConfig
from harness.data import table

ROWS = 40


def write_csv(path, labels: np.ndarray, constant: float = 3.0) -> None:
    lines = ["f1,f2,a,b"]
    lines += [f"{i * 0.5},{constant},{a},{b}" for i, (a, b) in enumerate(labels)]
    path.write_text("\n".join(lines) + "\n")


def cfg(path) -> DataConfig:
    return DataConfig(
        suite="table", path=str(path), labels=["a", "b"], tasks=2, n_per_task=0, val_fraction=0.25, test_fraction=0.25
    )


def balanced() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 2, size=(ROWS, 2))


def test_a_label_with_one_class_in_the_test_split_is_a_one_line_error(tmp_path):
    labels = balanced()
    labels[:, 1] = 0
    path = tmp_path / "one_class.csv"
    write_csv(path, labels)
    with pytest.raises(ConfigError) as error:
        table.make(cfg(path), 0)
    message = str(error.value)
    assert "\n" not in message and "column 'b' (label) has one class only in the test split" in message


def test_a_constant_feature_column_is_standardised_to_zero(tmp_path):
    path = tmp_path / "constant.csv"
    write_csv(path, balanced())
    data = table.make(cfg(path), 0)
    for split in (data.x_train, data.x_val, data.x_test):
        np.testing.assert_array_equal(split[:, 1], 0.0)
        assert np.all(np.isfinite(split))
    np.testing.assert_allclose(data.x_train[:, 0].mean(), 0.0, atol=1e-6)
    np.testing.assert_allclose(data.x_train[:, 0].std(), 1.0, rtol=1e-5)


def test_the_file_is_read_once_and_again_when_it_changes(tmp_path):
    path = tmp_path / "edited.csv"
    write_csv(path, balanced(), constant=3.0)
    run = cfg(path)
    first = table.load(run)
    assert table.load(run) is first  # cached
    write_csv(path, balanced(), constant=4.0)  # same size, other values
    stamp = os.path.getmtime(path) + 10.0
    os.utime(path, (stamp, stamp))
    again = table.load(run)
    np.testing.assert_array_equal(first.x[:, 1], 3.0)
    np.testing.assert_array_equal(again.x[:, 1], 4.0)
