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


def refusal(path, labels=("a",)) -> str:
    run = DataConfig(suite="table", path=str(path), labels=list(labels), tasks=len(labels))
    with pytest.raises(ConfigError) as error:
        table.load(run)
    return str(error.value)


def test_each_kind_of_unusable_path_is_named(tmp_path, monkeypatch):
    (tmp_path / "dangling.csv").symlink_to(tmp_path / "nowhere.csv")
    assert refusal(tmp_path / "dangling.csv") == f"{tmp_path / 'dangling.csv'}: a broken symlink (data.path)"
    assert refusal(tmp_path / "none.csv") == f"{tmp_path / 'none.csv'}: file not found (data.path)"
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    assert refusal(loop) == f"{loop}: a symlink loop (data.path)"
    long = tmp_path / ("x" * 300 + ".csv")
    assert refusal(long) == f"{long}: cannot be opened: File name too long (data.path)"
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert refusal(fifo) == f"{fifo}: is not a regular file (data.path)"
    plain = tmp_path / "t.csv"
    plain.write_text("f,a\n1,0\n")
    monkeypatch.setattr(table.os, "access", lambda path, mode: False)  # a root user may read anything
    assert refusal(plain) == f"{plain}: not readable (permission denied) (data.path)"


def test_the_header_is_read_as_pandas_reads_it(tmp_path):
    # A quoted name after ", " is one name, so a repeated quoted name is caught before pandas renames it.
    path = tmp_path / "quoted.csv"
    path.write_text('"b", x, "b"\n1,2,3\n')
    assert refusal(path) == f"{path}: column names appear more than once: 'b'; every column needs its own name"
    # Blank lines before the header are skipped, and a file of blank lines is empty.
    path = tmp_path / "blank_first.csv"
    path.write_text('\n   \nf, a\n1.5, "1"\n2, 0\n')  # quoted cells after ", " too
    parsed = table.load(DataConfig(suite="table", path=str(path), labels=["a"], tasks=1))
    np.testing.assert_array_equal(parsed.x[:, 0], [1.5, 2.0])
    np.testing.assert_array_equal(parsed.y[:, 0], [1.0, 0.0])
    path = tmp_path / "blank.csv"
    path.write_text("\n   \n")
    assert refusal(path) == f"{path}: the file is empty"


def test_unnamed_and_repeated_columns_are_named_by_position_and_five_names_at_most(tmp_path):
    path = tmp_path / "unnamed.csv"
    path.write_text("f,,a,\n1,2,0,3\n")
    assert refusal(path) == f"{path}: column 2 of the header has no name"
    path = tmp_path / "repeated.csv"
    names = [f"c{i}" for i in range(6)]
    path.write_text(",".join(names * 2) + "\n" + ",".join("1" * 12) + "\n")
    quoted = ", ".join(f"'{name}'" for name in names[:5])
    assert refusal(path) == f"{path}: column names appear more than once: {quoted}; every column needs its own name"


def test_a_pq_file_is_parquet(tmp_path):
    import pandas as pd

    path = tmp_path / "data.PQ"
    pd.DataFrame({"f": [0.5, 1.5], "a": [1, 0]}).to_parquet(path)
    parsed = table.load(DataConfig(suite="table", path=str(path), labels=["a"], tasks=1))
    np.testing.assert_array_equal(parsed.x[:, 0], [0.5, 1.5])


@pytest.mark.parametrize(
    ("message", "detail"),
    [
        ("first line\nsecond line", "'first line'"),
        ("", "'RuntimeError'"),
        ("y" * 130, repr("y" * 120) + "..."),
    ],
)
def test_a_reader_failure_is_one_line_with_its_first_line_or_its_type(tmp_path, monkeypatch, message, detail):
    import pandas as pd

    def fail(*args, **kwargs):
        raise RuntimeError(message)

    path = tmp_path / "t.csv"
    path.write_text("f,a\n1,0\n")
    monkeypatch.setattr(pd, "read_csv", fail)
    assert refusal(path) == f"{path}: cannot be read as a table: {detail}"


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zip"])
def test_a_compressed_csv_loads_as_the_plain_file_does(tmp_path, suffix):
    import bz2
    import gzip
    import lzma
    import zipfile

    plain = tmp_path / "t.csv"
    write_csv(plain, balanced())
    packed = tmp_path / f"t.csv{suffix}"
    if suffix == ".zip":
        with zipfile.ZipFile(packed, "w") as archive:
            archive.write(plain, "t.csv")
    else:
        opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}[suffix]
        with opener(packed, "wb") as handle:
            handle.write(plain.read_bytes())
    expected, got = table.load(cfg(plain)), table.load(cfg(packed))
    np.testing.assert_array_equal(got.x, expected.x)
    np.testing.assert_array_equal(got.y, expected.y)


def test_a_zip_of_several_files_is_refused(tmp_path):
    import zipfile

    packed = tmp_path / "t.csv.zip"
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("one.csv", "f1,a\n1,0\n")
        archive.writestr("two.csv", "f1,a\n1,0\n")
    with pytest.raises(ConfigError, match=r"t\.csv\.zip: a \.zip must hold exactly one CSV file; it holds 2"):
        table.load(cfg(packed))


def test_held_out_rows_that_repeat_a_training_row_are_counted_warned_about_and_refused_beyond_the_limit(
    tmp_path, caplog
):
    rows = [f"{i * 0.5},{i % 7},{i % 2},{(i // 2) % 2}" for i in range(ROWS)]
    path = tmp_path / "repeated.csv"
    path.write_text("f1,f2,a,b\n" + "\n".join(rows + rows[:1]) + "\n")  # one row twice
    run = cfg(path)
    parsed = table.load(run)
    train, val, test = table.split_rows(run, parsed, 0)
    held = np.concatenate([val, test])
    twice = {0, ROWS}  # the file rows of the repeated row
    expected = int(len(twice & set(held.tolist())) == 1)  # one copy held out, the other trained on
    assert table.duplicates(parsed, train, held) == expected
    path.write_text("f1,f2,a,b\n" + "\n".join(rows + rows) + "\n")  # every row twice: about half repeat
    run = cfg(path)
    with pytest.raises(ConfigError, match=r"repeated\.csv: \d+ of the 40 validation and test rows of data seed \d "):
        table.readable(run, 2)
    run.max_duplicates = 1.0
    with caplog.at_level("WARNING"):
        table.readable(run, 2)  # allowed, and still said
    assert "have the feature values of a training row, so their scores are optimistic" in caplog.text
