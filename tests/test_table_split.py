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
    table.check(DataConfig(**{**run.__dict__, "seed": good}), 1)  # the seeds before it are not checked
    bad = next(s for s in range(good + 1, 12) if verdicts[s])
    with pytest.raises(ConfigError, match=f"one class only in the test split of data seed {bad}"):
        table.check(DataConfig(**{**run.__dict__, "seed": good}), bad - good + 1)


def test_check_refuses_a_label_budget_the_training_split_cannot_meet(tmp_path):
    # 40 fully labelled rows: 10 validation, 10 test, 20 training rows per task.
    path = write(tmp_path / "t.csv", np.random.default_rng(1).integers(0, 2, size=(40, 3)))
    table.check(cfg(path, n_per_task=20, val_fraction=0.25, test_fraction=0.25), 3)
    with pytest.raises(ConfigError) as error:
        table.check(cfg(path, n_per_task=21, val_fraction=0.25, test_fraction=0.25), 1)
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
    eight = tmp_path / "eight.csv"
    eight.write_text(",".join(f"f{i}" for i in range(8)) + "\n" + ",".join("1" for _ in range(8)) + "\n")
    with pytest.raises(ConfigError) as error:
        table.load(cfg(eight, labels=["f0"], features=["f1", "zz"], tasks=1))
    assert str(error.value) == f"{eight}: column 'zz' (data.features) is not in the file; its columns: {columns}"
