"""Reading a table file (data.path) into a pandas frame, checking what pandas would
silently change: repeated or unnamed header names, rows with more or fewer fields than
the header, compression it infers from the suffix, and Parquet columns whose type is no
number or text. Every problem is a one-line ConfigError naming the file.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import stat

from harness.config import ConfigError
from harness.config.errors import excerpt


def check_file(path: str) -> None:
    """A ConfigError unless `path` is a readable regular file, saying what it is instead."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        broken = os.path.islink(path)
        raise ConfigError(f"{path}: {'a broken symlink' if broken else 'file not found'} (data.path)") from None
    except OSError as error:
        what = "a symlink loop" if error.errno == errno.ELOOP else f"cannot be opened: {error.strerror}"
        raise ConfigError(f"{path}: {what} (data.path)") from None
    if stat.S_ISDIR(mode):
        raise ConfigError(f"{path}: is a folder, not a file (data.path)")
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{path}: is not a regular file (data.path)")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{path}: not readable (permission denied) (data.path)")


# A CSV's compression, from its suffix, as pandas infers it (and `.zstd`, which it does not).
COMPRESSED = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip", ".zst": "zstd", ".zstd": "zstd"}
TEXT = {"encoding": "utf-8-sig", "newline": ""}


def _compression(path: str) -> str | None:
    return COMPRESSED.get(os.path.splitext(path.lower())[1])


def _text(path: str, kind: str | None):
    """The CSV's text, decompressed as pandas would read it, for the harness's own checks."""
    import bz2
    import gzip
    import lzma

    openers = {None: open, "gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}
    if kind in openers:
        return openers[kind](path, "rt", **TEXT)
    if kind == "zip":
        import zipfile

        archive = zipfile.ZipFile(path)
        members = [m for m in archive.namelist() if not m.endswith("/")]
        if len(members) != 1:
            raise ConfigError(f"{path}: a .zip must hold exactly one CSV file; it holds {len(members)}")
        return io.TextIOWrapper(archive.open(members[0]), **TEXT)
    try:
        import zstandard
    except ImportError:
        raise ConfigError(
            f"{path}: a zstd-compressed CSV needs the zstandard package (pip install zstandard); or decompress it"
        ) from None
    return io.TextIOWrapper(zstandard.open(path, "rb"), **TEXT)


def _csv_header(path: str, kind: str | None) -> list[str]:
    """The column names as the file spells them (pandas would rename a duplicate, a -> a.1),
    checked, and every later record checked to have as many fields.

    Like pandas, the header is the first line that is not blank (empty or spaces only), and
    blank lines are skipped. pandas reads one field more on every row (a trailing comma) as
    an index column, which shifts every column by one, and fills a short row with missing
    values: either is an error naming its line.
    """
    with _text(path, kind) as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        rows = (row for row in reader if row not in ([], [""]))
        header = [name.strip() for name in next(rows, [])]
        if not header:
            raise ConfigError(f"{path}: the file is empty")
        _distinct(path, header)
        for row in rows:
            if len(row) != len(header):
                hint = " (a trailing comma?)" if len(row) == len(header) + 1 and row[-1] == "" else ""
                raise ConfigError(
                    f"{path}: line {reader.line_num} has {len(row)} fields, the header {len(header)}{hint}; "
                    "every row needs one field per column"
                )
    return header


def read_frame(path: str):
    """The file as a pandas frame: CSV cells as text, Parquet columns as typed; its header checked first."""
    import pandas as pd

    try:
        if path.lower().endswith((".parquet", ".pq")):
            import pyarrow.parquet as pq

            header = [str(name).strip() for name in pq.read_schema(path).names]
            if not header:
                raise ConfigError(f"{path}: the file is empty")
            _distinct(path, header)
            frame = pd.read_parquet(path)
        else:
            kind = _compression(path)
            _csv_header(path, kind)
            # Every CSV cell as text: the reader, not pandas' type guess, decides what is a number.
            frame = pd.read_csv(path, skipinitialspace=True, dtype=str, compression=kind or "infer")
    except ConfigError:
        raise
    except Exception as error:  # noqa: BLE001 - any reader failure is a bad file
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"{path}: cannot be read as a table: {excerpt(detail, 120)}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _distinct(path: str, header: list[str]) -> None:
    """Every column named, each name once (pandas would name the first 'Unnamed: 0')."""
    if "" in header:
        raise ConfigError(f"{path}: column {header.index('') + 1} of the header has no name")
    seen, repeated = set(), []
    for name in header:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    if repeated:
        names = ", ".join(excerpt(name) for name in repeated[:5])
        raise ConfigError(f"{path}: column names appear more than once: {names}; every column needs its own name")


def _foreign_type(column) -> str | None:
    """The dtype of a column that holds neither numbers nor text (a Parquet file's datetime,
    timedelta, category, interval or nested column), or None.

    pandas would turn a datetime or timedelta into its nanoseconds and a category into its
    codes: a number the file never held.
    """
    import pandas as pd
    from pandas.api import types

    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if types.is_bool_dtype(dtype) or (types.is_numeric_dtype(dtype) and not types.is_complex_dtype(dtype)):
        return None
    if types.is_string_dtype(dtype):
        if column.dropna().map(lambda v: isinstance(v, str)).all():
            return None  # text, as every CSV cell is: parsed as numbers where it holds them
        return "nested or binary"
    return str(dtype)


def check_types(path: str, frame, names) -> None:
    """A ConfigError for the first feature column whose type is not a number or text."""
    for name in names:
        kind = _foreign_type(frame[name])
        if kind is not None:
            raise ConfigError(
                f"{path}: column {excerpt(name)} (feature) is a {excerpt(kind)} column, not numbers; convert it "
                "to numbers in the file, or list the feature columns without it in data.features"
            )
