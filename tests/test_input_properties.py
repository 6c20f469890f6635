"""Property-based tests: any generated table or config either loads, with what was used
recorded, or is refused in one line (ConfigError); never a traceback, never a silent change."""

from __future__ import annotations

import csv
import gzip
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sweeps import CONF_DIR

from harness.config import ConfigError, RunConfig, from_omegaconf, schema_keys
from harness.config.schema import MODEL_KINDS, OPTIMIZERS, WEIGHTINGS
from harness.data import SUITES, table
from harness.runs import preflight

# Few examples: the machine is small and shared; the strategies aim at the edges.
FEW = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

NUMBERS = st.one_of(
    st.integers(-(10**25), 10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e308", "-1e400", "1e150", "0", "-0.0", " 3.5", "7 "]),
)
CELLS = st.one_of(
    NUMBERS,
    NUMBERS,
    st.sampled_from(["", "?", "yes", "No", "TRUE", "1", "0", "nan", "NA", "abc", "a,b", 'q"uote']),
    st.text(alphabet="xyz 1.e-\t\x1b", max_size=6),
)
GOOD = {
    "feature": st.one_of(st.floats(-1e6, 1e6).map(repr), st.integers(-(10**6), 10**6).map(str)),
    "label": st.sampled_from(["", "?", "yes", "No", "TRUE", "false", "1", "0", "1.0", "nan", "NA"]),
}


@st.composite
def tables(draw):
    """Mostly well-formed tables (so that loading is exercised), each cell hostile now and then."""
    header = draw(st.permutations(["a", "f1", "f2", "f3"]))[: draw(st.integers(2, 4))]
    if "a" not in header:
        header[0] = "a"
    if draw(st.integers(0, 4)) == 0:  # a duplicated, unnamed or space-padded name
        header.append(draw(st.sampled_from([*header, "", " f4 "])))
    rows = []
    for _ in range(draw(st.integers(1, 8))):
        kinds = ["label" if name == "a" else "feature" for name in header]
        rows.append([draw(CELLS) if draw(st.integers(0, 9)) == 0 else draw(GOOD[kind]) for kind in kinds])
    features = draw(st.none() | st.lists(st.sampled_from(header), min_size=1, max_size=3, unique=True))
    return header, rows, features


def label(cell: str) -> tuple[bool, float] | None:
    """(observed, y) of a label cell as the reader documents it; None if it is not a label value."""
    text = cell.strip().lower()
    if text in table.MISSING or text in ("na",):
        return False, 0.0
    if text in table.TRUE:
        return True, 1.0
    if text in table.FALSE:
        return True, 0.0
    return None


def load_written(header, rows, features):
    """The table written as a CSV file (csv.writer's quoting) and loaded with label column "a";
    a refusal's ConfigError carries the file's path as `path`."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.csv"
        with open(path, "w", newline="") as handle:
            csv.writer(handle).writerows([header, *rows])
        config = table.DataConfig(suite="table", path=str(path), labels=["a"], tasks=1, features=features)
        try:
            return table.load(config)
        except ConfigError as error:
            error.path = str(path)
            raise


@FEW
@given(tables())
def test_any_table_loads_as_written_or_is_refused_in_one_line(drawn):
    header, rows, features = drawn
    try:
        parsed = load_written(header, rows, features)
    except ConfigError as error:
        message, path = str(error), error.path
        assert "\n" not in message and message.startswith(path) and len(message) < len(path) + 300
        event(" ".join(message[len(path) + 2 :].split(" ")[:4]))
        return
    event("loaded")
    names = [name.strip() for name in header]
    assert len(set(names)) == len(names) and "" not in names  # duplicates and unnamed columns are refused
    if features is None:  # what was left out is recorded, nothing else vanished
        assert sorted(parsed.features + parsed.excluded) == sorted(n for n in names if n != "a")
    else:
        assert list(parsed.features) == features
    for j, name in enumerate(parsed.features):
        for r, row in enumerate(rows):
            value = float(row[names.index(name)].strip())  # every used cell, exactly as written
            assert parsed.x[r, j] == value and abs(value) <= table.FEATURE_LIMIT
    for r, row in enumerate(rows):
        observed, y = label(row[names.index("a")])
        assert parsed.observed[r, 0] == observed and parsed.y[r, 0] == y


@st.composite
def valid_tables(draw):
    """Tables the reader documents as valid: distinct names, every feature a finite number within
    the limit, every label a documented value, one of them observed, features all or some."""
    header = ["a", *draw(st.lists(st.sampled_from(["f1", "f2", "f3"]), min_size=1, max_size=3, unique=True))]
    rows = [
        [draw(GOOD["label" if name == "a" else "feature"]) for name in header] for _ in range(draw(st.integers(1, 8)))
    ]
    rows[0][0] = draw(st.sampled_from(["1", "0", "yes", "false"]))
    features = draw(st.none() | st.lists(st.sampled_from(header[1:]), min_size=1, unique=True))
    return header, rows, features


@FEW
@given(valid_tables())
def test_every_valid_table_loads_with_every_cell_as_written(drawn):
    """Guards against a reader that refuses what it documents as valid (the property above
    would pass if every table were refused)."""
    header, rows, features = drawn
    parsed = load_written(header, rows, features)  # a ConfigError here fails the test
    assert list(parsed.features) == (features or header[1:])
    for j, name in enumerate(parsed.features):
        assert [parsed.x[r, j] for r in range(len(rows))] == [float(row[header.index(name)]) for row in rows]
    assert [(bool(parsed.observed[r, 0]), float(parsed.y[r, 0])) for r in range(len(rows))] == [
        label(row[0]) for row in rows
    ]


@FEW
@given(st.lists(st.integers(-1, 1), min_size=1, max_size=8), st.booleans())
def test_a_row_with_more_or_fewer_fields_than_the_header_is_refused_at_its_line(changes, compressed):
    """Ragged rows (a trailing comma on every row among them) never shift or fill a column."""
    header = ["f1", "f2", "a"]
    rows = [[f"{r}.5", str(-r), str(r % 2)][: 3 + change] + [""] * max(change, 0) for r, change in enumerate(changes)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("t.csv.gz" if compressed else "t.csv")
        with gzip.open(path, "wt", newline="") if compressed else open(path, "w", newline="") as handle:
            csv.writer(handle).writerows([header, *rows])
        config = table.DataConfig(suite="table", path=str(path), labels=["a"], tasks=1)
        ragged = [r for r, change in enumerate(changes) if change]
        if not ragged:
            assert table.load(config).x.tolist() == [[float(row[0]), float(row[1])] for row in rows]
            return
        with pytest.raises(ConfigError) as error:
            table.load(config)
        first, fields = ragged[0], 3 + changes[ragged[0]]
        assert str(error.value).startswith(f"{path}: line {first + 2} has {fields} fields, the header 3")


PARQUET_COLUMNS = {
    "float": lambda n: np.linspace(-2.0, 2.0, n),
    "int8": lambda n: np.arange(n, dtype="int8"),
    "uint64": lambda n: np.arange(n, dtype="uint64"),
    "nullable int": lambda n: pd.array(np.arange(n), dtype="Int64"),
    "bool": lambda n: np.arange(n) % 3 == 0,
    "numeric text": lambda n: pd.array([str(i) for i in range(n)], dtype="string"),
    "text": lambda n: [f"id{i}" for i in range(n)],
    "datetime": lambda n: pd.date_range("2020-01-01", periods=n),
    "datetime with zone": lambda n: pd.date_range("2020-01-01", periods=n, tz="UTC"),
    "timedelta": lambda n: pd.to_timedelta(np.arange(n), unit="s"),
    "category": lambda n: pd.Categorical(np.where(np.arange(n) % 2, "x", "y")),
    "list": lambda n: [[i, i + 1] for i in range(n)],
    "bytes": lambda n: [bytes([i]) for i in range(n)],
}
NUMBERS_OF = {"float", "int8", "uint64", "nullable int", "bool", "numeric text"}  # a number per cell in the file
WITHOUT_NUMBERS = {"text"}  # left out by automatic selection, recorded


@FEW
@given(st.sampled_from(sorted(PARQUET_COLUMNS)), st.booleans())
def test_a_parquet_column_is_used_as_the_numbers_it_holds_or_refused_by_name(kind, listed):
    """No dtype becomes a number the file never held (a datetime's nanoseconds, a category's codes)."""
    n = 12
    frame = pd.DataFrame({"f1": np.arange(n, dtype=float), "col": PARQUET_COLUMNS[kind](n), "a": np.arange(n) % 2})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.parquet"
        frame.to_parquet(path)
        config = table.DataConfig(
            suite="table", path=str(path), labels=["a"], tasks=1, features=["f1", "col"] if listed else None
        )
        if kind in NUMBERS_OF:
            parsed = table.load(config)
            expected = pd.to_numeric(pd.Series(frame["col"]).astype(str).replace({"True": 1, "False": 0}))
            np.testing.assert_array_equal(parsed.x[:, 1], expected.to_numpy(dtype=float))
        elif kind in WITHOUT_NUMBERS and not listed:
            assert table.load(config).excluded == ("col",)
        else:
            with pytest.raises(ConfigError) as error:
                table.load(config)
            assert str(error.value).startswith(f"{path}: column 'col' (feature)") and "\n" not in str(error.value)


SCHEMA = {section: keys for section in schema_keys() if (keys := schema_keys(section))}  # sections, not arms or study
HOSTILE = st.one_of(
    st.integers(-(2**40), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
    st.lists(st.sampled_from(["a", "b", 0.5, 2]), max_size=3),
)
CHOICES = {"suite": tuple(SUITES), "kind": MODEL_KINDS, "optimizer": OPTIMIZERS, "weighting": WEIGHTINGS}


def plausible(key: str, default):
    """A value of the key's own type near its usual range."""
    if key in CHOICES:
        return st.sampled_from(CHOICES[key])
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, int):
        return st.integers(-1, 12)
    if isinstance(default, float):
        return st.floats(-0.5, 1.5)
    return st.just(default)


@st.composite
def configs(draw):
    config = {}
    for section, keys in SCHEMA.items():
        defaults = getattr(RunConfig(), section)
        chosen = draw(st.lists(st.sampled_from(keys), max_size=3, unique=True))
        config[section] = {
            key: draw(HOSTILE if draw(st.integers(0, 4)) == 0 else plausible(key, getattr(defaults, key)))
            for key in chosen
        }
    if draw(st.booleans()):
        config["arms"] = draw(st.lists(st.sampled_from(["mtl", "stl", "pairs", "transfer_head", "nope"]), max_size=3))
    return config


@settings(max_examples=150, deadline=None, derandomize=True)
@given(configs())
def test_any_config_loads_as_given_or_is_refused_in_one_line(config):
    try:
        run = from_omegaconf(config)
        preflight.check(run)
    except ConfigError as error:
        message = str(error)
        assert "\n" not in message and len(message) < 700
        event(message.split("=")[0])
        return
    event("loaded")
    for section, values in config.items():
        if section == "arms":
            assert run.arms == values
            continue
        for key, value in values.items():
            used = getattr(getattr(run, section), key)
            if (section, key) == ("data", "tasks") and run.data.suite == "table":
                continue  # a table's tasks are its label columns
            assert used == value and type(used) is type(value), (section, key)
            if isinstance(value, float):
                assert math.isfinite(value)


OVERRIDE_VALUES = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["${nope}", "'${train.lr}'", "null", "[1,2]", "[a,b]", "true", "1e999", "x" * 500]),
    st.text(alphabet="abc019.-_ ", min_size=1, max_size=8),
)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(st.sampled_from([f"{s}.{k}" for s, keys in SCHEMA.items() for k in keys]), OVERRIDE_VALUES),
        min_size=1,
        max_size=3,
        unique_by=lambda pair: pair[0],
    )
)
def test_any_command_line_override_loads_or_is_one_short_line(pairs):
    """Through Hydra's composition, as `python -m harness.run` composes: what the CLI prints is one_line()."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from harness.config import register_schema
    from harness.config.errors import one_line

    register_schema()
    try:
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            from_omegaconf(compose("config", overrides=[f"{key}={value}" for key, value in pairs]))
    except (ConfigError, OmegaConfBaseException, HydraException) as error:  # a refusal; anything else is a bug
        message = one_line(error)
        assert "\n" not in message and len(message) <= 700 and message.isprintable()
        event(type(error).__name__)
        return
    event("loaded")


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    seeds=st.integers(1, 20),
    width=st.integers(1, 256),
    lr=st.floats(1e-5, 0.5),
    relatedness=st.floats(0.0, 1.0),
    missing=st.sampled_from([0.0, 0.1, 0.25, 0.5]),
)
def test_valid_command_line_overrides_load_as_given(seeds, width, lr, relatedness, missing):
    """The other side of the refusals: values inside the documented ranges are accepted, unchanged."""
    from hydra import compose, initialize_config_dir

    from harness.config import register_schema

    register_schema()
    overrides = [f"train.seeds={seeds}", f"model.width={width}", f"train.lr={lr!r}"]
    overrides += [f"data.relatedness={relatedness!r}", f"data.missing={missing!r}"]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        run = from_omegaconf(compose("config", overrides=overrides))
    assert (run.train.seeds, run.model.width, run.train.lr) == (seeds, width, lr)
    assert (run.data.relatedness, run.data.missing) == (relatedness, missing)
