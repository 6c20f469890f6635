"""The table reader's label budget, its split check over replicate seeds and its messages, by value."""

from __future__ import annotations

import numpy as np
import pytest

from harness.config import ConfigError, DataConfig
from harness.data import table


def cfg(path="t.csv", **kw) -> DataConfig:
    return DataConfig(**{"suite": "table", "path": str(path), "labels": ["a", "b", "c"], "tasks": 3, **kw})


# 30 training rows: task a labelled on 20, b on 12, c on 1.
OBSERVED = np.zeros((30, 3), dtype=bool)
OBSERVED[:20, 0] = True
OBSERVED[5:17, 1] = True
OBSERVED[29, 2] = True


def test_budget_keeps_each_tasks_own_labels_when_no_size_is_set():
    mask = table.budget(cfg(n_per_task=0), OBSERVED, np.random.default_rng(0))
    assert mask.dtype == np.float32
    np.testing.assert_array_equal(mask, OBSERVED.astype(np.float32))


def test_budget_keeps_that_many_of_each_tasks_labelled_rows_then_hides_the_missing_fraction():
    mask = table.budget(cfg(n_per_task=1, missing=0.0), OBSERVED, np.random.default_rng(0))
    np.testing.assert_array_equal(mask.sum(axis=0), [1, 1, 1])
    assert mask[29, 2] == 1.0  # c's only label, kept
    observed = OBSERVED.copy()
    observed[:, 2] = observed[:, 0]
    mask = table.budget(cfg(n_target=10, n_other=4, target=1, missing=0.5), observed, np.random.default_rng(0))
    np.testing.assert_array_equal(mask.sum(axis=0), [2, 5, 2])  # 4 kept, 2 hidden; 10 kept, 5 hidden
    assert not (mask.astype(bool) & ~observed).any()  # only the file's labels


@pytest.mark.parametrize(
    ("sizes", "column", "rows", "key"),
    [
        ({"n_per_task": 13}, "b", 12, "data.n_per_task=13"),
        ({"n_target": 13, "n_other": 1, "target": 1}, "b", 12, "data.n_target=13"),
        ({"n_target": 1, "n_other": 2, "target": 0}, "c", 1, "data.n_other=2"),
    ],
)
def test_asking_a_task_for_more_labels_than_it_has_names_the_column_and_the_key(sizes, column, rows, key):
    with pytest.raises(ConfigError) as error:
        table.budget(cfg(**sizes), OBSERVED, np.random.default_rng(0))
    assert str(error.value) == f"t.csv: column '{column}' (label) has {rows} labelled training rows, fewer than {key}"


def test_a_task_without_labelled_training_rows_is_an_error():
    observed = OBSERVED.copy()
    observed[:, 2] = False
    with pytest.raises(ConfigError) as error:
        table.budget(cfg(n_per_task=0), observed, np.random.default_rng(0))
    assert str(error.value) == "t.csv: column 'c' (label) has no labelled training rows"


def write(path, labels: np.ndarray) -> str:
    lines = ["f,a,b,c"] + [f"{i},{a},{b},{c}" for i, (a, b, c) in enumerate(labels)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_check_refuses_exactly_the_replicate_seeds_whose_split_make_refuses(tmp_path):
    # Label c is positive on 2 of 40 rows: some data seeds put neither in the test split.
    labels = np.random.default_rng(0).integers(0, 2, size=(40, 3))
    labels[:, 2] = 0
    labels[[3, 30], 2] = 1
    run = cfg(write(tmp_path / "rare.csv", labels), n_per_task=0, val_fraction=0.25, test_fraction=0.25)

    def refused(seed: int) -> bool:
        try:
            table.make(DataConfig(**{**run.__dict__, "seed": seed}), seed)
        except ConfigError:
            return True
        return False

    verdicts = [refused(seed) for seed in range(12)]
    assert any(verdicts) and not all(verdicts)
    good = next(s for s in range(1, 12) if not verdicts[s] and any(verdicts[:s]))
    table.readable(DataConfig(**{**run.__dict__, "seed": good}), 1)  # the seeds before it are not checked
    bad = next(s for s in range(good + 1, 12) if verdicts[s])
    with pytest.raises(ConfigError, match=f"one class only in the test split of data seed {bad}"):
        table.readable(DataConfig(**{**run.__dict__, "seed": good}), bad - good + 1)


def test_check_refuses_a_label_budget_the_training_split_cannot_meet(tmp_path):
    # 40 fully labelled rows: 10 validation, 10 test, 20 training rows per task.
    path = write(tmp_path / "t.csv", np.random.default_rng(1).integers(0, 2, size=(40, 3)))
    table.readable(cfg(path, n_per_task=20, val_fraction=0.25, test_fraction=0.25), 3)
    with pytest.raises(ConfigError) as error:
        table.readable(cfg(path, n_per_task=21, val_fraction=0.25, test_fraction=0.25), 1)
    expected = "column 'a' (label) has 20 labelled training rows, fewer than data.n_per_task=21"
    assert str(error.value) == f"{path}: {expected}"


def test_a_column_not_in_the_file_lists_the_first_eight_columns_and_how_many_more(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"f{i}" for i in range(10)) + "\n" + ",".join("1" for _ in range(10)) + "\n")
    with pytest.raises(ConfigError) as error:
        table.load(cfg(path, labels=["zz"], tasks=1))
    columns = ", ".join(f"'f{i}'" for i in range(8))
    expected = f"column 'zz' (data.labels) is not in the file; its columns: {columns} and 2 more"
    assert str(error.value) == f"{path}: {expected}"
    nine = tmp_path / "nine.csv"
    nine.write_text(",".join(f"f{i}" for i in range(9)) + "\n" + ",".join("1" for _ in range(9)) + "\n")
    with pytest.raises(ConfigError) as error:
        table.load(cfg(nine, labels=["zz"], tasks=1))
    assert str(error.value).endswith(f"its columns: {columns} and 1 more")
    eight = tmp_path / "eight.csv"
    eight.write_text(",".join(f"f{i}" for i in range(8)) + "\n" + ",".join("1" for _ in range(8)) + "\n")
    with pytest.raises(ConfigError) as error:
        table.load(cfg(eight, labels=["f0"], features=["f1", "zz"], tasks=1))
    assert str(error.value) == f"{eight}: column 'zz' (data.features) is not in the file; its columns: {columns}"


def test_bad_labels_are_quoted_three_at_most(tmp_path):
    labels = ["0", "2", "x", "1", "maybe", "2", "no way", "1"]
    path = tmp_path / "bad.csv"
    path.write_text("f,a\n" + "\n".join(f"{i},{v}" for i, v in enumerate(labels)) + "\n")
    with pytest.raises(ConfigError) as error:
        table.load(cfg(path, labels=["a"], tasks=1))
    expected = "column 'a' (label) has values other than 0/1, true/false, yes/no or missing: '2', 'x', 'maybe'"
    assert str(error.value) == f"{path}: {expected}"


def test_empty_feature_cells_are_counted_and_the_first_named_by_row(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("f,a\n1,0\n2,1\n,0\n4,1\n,1\n")
    with pytest.raises(ConfigError) as error:
        table.load(cfg(path, labels=["a"], tasks=1))
    assert str(error.value) == f"{path}: column 'f' (feature) has 2 empty cells, the first in row 3"


def test_whole_number_and_boolean_features_are_read_as_float64_and_labels_as_float32(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"f": [1, 2, 3, 4], "g": [True, False, True, False], "a": [0, 1, 1, 0]})
    frame.to_parquet(tmp_path / "ints.parquet")
    frame.drop(columns="g").to_csv(tmp_path / "ints.csv", index=False)
    for name, x in (("ints.parquet", [[1, 1], [2, 0], [3, 1], [4, 0]]), ("ints.csv", [[1], [2], [3], [4]])):
        parsed = table.load(cfg(tmp_path / name, labels=["a"], tasks=1))
        assert parsed.x.dtype == np.float64 and parsed.y.dtype == np.float32
        np.testing.assert_array_equal(parsed.x, x)
        np.testing.assert_array_equal(parsed.y[:, 0], [0, 1, 1, 0])


def rows_file(tmp_path, complete: int, partial: int) -> str:
    """`complete` fully labelled rows (f = row / 100, g = row), then `partial` rows with one "?" each
    (a on even ones, b on odd ones) and g = 5."""
    lines = ["f,g,a,b"]
    lines += [f"{i * 0.01},{i},{i % 2},{(i // 2) % 2}" for i in range(complete)]
    lines += [
        f"{(complete + i) * 0.01},5,{'?' if i % 2 == 0 else i % 3 % 2},{'?' if i % 2 else i % 3 % 2}"
        for i in range(partial)
    ]
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_two_validation_and_two_test_rows_are_enough(tmp_path):
    path = rows_file(tmp_path, complete=8, partial=0)
    run = cfg(path, labels=["a", "b"], tasks=2, n_per_task=0, val_fraction=0.25, test_fraction=0.25)
    assert table.split_sizes(run, table.load(run)) == (2, 2)
    small = cfg(path, labels=["a", "b"], tasks=2, n_per_task=0, val_fraction=0.25, test_fraction=0.125)
    with pytest.raises(ConfigError) as error:
        table.split_sizes(small, table.load(small))
    assert str(error.value) == (
        f"{path}: only 8 rows have every label of data.labels, too few for data.val_fraction=0.25 and "
        "data.test_fraction=0.125 (2 rows each at least)"
    )


def test_make_standardises_by_the_training_rows_and_returns_the_files_labels(tmp_path):
    # 8 complete rows, all of them validation and test rows; the 6 training rows have a "?" and g = 5.
    path = rows_file(tmp_path, complete=8, partial=6)
    run = cfg(path, labels=["a", "b"], tasks=2, n_per_task=0, val_fraction=0.5, test_fraction=0.5)
    parsed, data = table.load(run), table.make(run, 3)
    train, val, test = table.split_rows(run, parsed, 3)
    assert set(train) == set(range(8, 14))
    for split in (data.x_train, data.x_val, data.x_test, data.y_val, data.m_train):
        assert split.dtype == np.float32
    f = parsed.x[:, 0]
    np.testing.assert_allclose(data.x_train[:, 0], (f[train] - f[train].mean()) / f[train].std(), rtol=1e-6)
    np.testing.assert_allclose(data.x_train[:, 0].std(), 1.0, rtol=1e-5)  # a column whose std is below 1
    # g is constant (5) on the training rows: centred there, never scaled, so other rows keep their units
    np.testing.assert_array_equal(data.x_train[:, 1], 0.0)
    np.testing.assert_array_equal(data.x_val[:, 1], parsed.x[val, 1] - 5.0)
    np.testing.assert_array_equal(data.y_val, parsed.y[val])
    np.testing.assert_array_equal(data.y_test, parsed.y[test])
    np.testing.assert_array_equal(data.y_train, parsed.y[train])


def test_the_label_budget_of_a_data_seed_is_the_same_every_time(tmp_path):
    path = rows_file(tmp_path, complete=40, partial=0)
    run = cfg(path, labels=["a", "b"], tasks=2, n_per_task=5, val_fraction=0.25, test_fraction=0.25)
    first, again, other = table.make(run, 0).m_train, table.make(run, 0).m_train, table.make(run, 1).m_train
    np.testing.assert_array_equal(first.sum(axis=0), [5, 5])
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
