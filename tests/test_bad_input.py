"""Bad input, in process: the table reader, config values, the preflight checks, the
divergence rule and the sweep folder's lock (issue examples, each as a test)."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from sweeps import CONF_DIR, SMALL_RUN, hold

from harness.config import ConfigError, DataConfig, from_omegaconf
from harness.data import features_used, make_dataset, suite_of, table
from harness.runs import preflight, sweep_lock
from harness.train.metrics import DIVERGED_BCE, divergence

# A numeric table: 40 fully labelled rows, features f1..f3, labels a, b.
ROWS = [(i, (i * 7) % 11, (i * 3) % 5 - 2.5, i % 2, (i // 2) % 2) for i in range(40)]
HEADER = "f1,f2,f3,a,b"


def write(tmp_path, header=HEADER, rows=ROWS, edit=None, name="t.csv"):
    lines = [header] + [",".join(str(v) for v in row) for row in rows]
    if edit:
        (row, column), value = edit
        cells = lines[row + 1].split(",")
        cells[column] = value
        lines[row + 1] = ",".join(cells)
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def cfg(path, **kw) -> DataConfig:
    return DataConfig(**{"suite": "table", "path": str(path), "labels": ["a", "b"], "tasks": 2, "n_per_task": 0, **kw})


def refused(config: DataConfig) -> str:
    with pytest.raises(ConfigError) as error:
        table.load(config)
    message = str(error.value)
    assert "\n" not in message and message.startswith(config.path)
    return message


# --- 1. a numeric column with one stray cell ------------------------------------------


def test_stray_text_cell_in_a_numeric_column_is_an_error_naming_column_row_and_value(tmp_path):
    message = refused(cfg(write(tmp_path, edit=((6, 1), "abc"))))
    assert "column 'f2' (feature), row 7: 'abc' is not a number" in message


def test_automatic_selection_says_what_it_left_out_and_the_result_records_it(tmp_path, caplog):
    rows = [(*row, "x" if i % 2 else "y") for i, row in enumerate(ROWS)]
    path = write(tmp_path, header=HEADER + ",name", rows=rows)
    with caplog.at_level(logging.WARNING, logger="harness.data.table"):
        parsed = table.load(cfg(path))
    assert parsed.features == ("f1", "f2", "f3") and parsed.excluded == ("name",)
    assert "left out columns without numbers: name" in caplog.text
    assert features_used(cfg(path)) == {"used": ["f1", "f2", "f3"], "excluded": ["name"]}
    assert features_used(DataConfig()) is None


# --- 2. extreme values ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("1e308", "'1e308' is beyond +-1e+150, too large to standardise in float64"),
        ("inf", "'inf' is not a finite number"),
        ("-1e999", "'-1e999' is not a finite number"),
    ],
)
def test_non_finite_and_overflowing_values_are_refused_naming_column_and_row(tmp_path, value, problem):
    rows = [list(r) for r in ROWS]
    rows[3][0] = rows[9][0] = value
    message = refused(cfg(write(tmp_path, rows=rows)))
    assert f"column 'f1' (feature), row 4: {problem}" in message


def test_large_finite_values_standardise_without_overflow(tmp_path):
    rows = [list(r) for r in ROWS]
    rows[3][0] = rows[9][0] = "1e150"
    x = make_dataset(cfg(write(tmp_path, rows=rows)), 0).x_train[:, 0]
    assert np.all(np.isfinite(x)) and len(np.unique(x)) > 1  # not the constant -0.0 of an overflow


# --- 3. duplicate column names ----------------------------------------------------------


@pytest.mark.parametrize(("header", "repeated"), [("f1,f2,f3,a,b,a", "'a'"), ("f1,f1,f3,a,b", "'f1'")])
def test_duplicate_column_names_are_an_error(tmp_path, header, repeated):
    rows = [(*row, row[3]) for row in ROWS] if header.count(",") == 5 else ROWS
    message = refused(cfg(write(tmp_path, header=header, rows=rows)))
    assert f"column names appear more than once: {repeated}" in message


def test_duplicate_column_names_in_parquet_are_an_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = [pa.array([float(r[0]) for r in ROWS]), pa.array([r[3] for r in ROWS]), pa.array([r[4] for r in ROWS])]
    path = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_arrays([*columns, columns[1]], names=["f1", "a", "b", "a"]), path)
    assert "column names appear more than once: 'a'" in refused(cfg(path))


# --- 13 and 15: short excerpts; folders and symlink loops ---------------------------------


def test_messages_quote_only_a_short_printable_excerpt(tmp_path):
    prose = tmp_path / "notes.csv"
    prose.write_text("This is not a table but a long line of prose " * 20 + "\nsecond line\n")
    message = refused(cfg(prose))
    assert "(data.labels) is not in the file" in message and len(message) < len(str(prose)) + 200
    long_cell = "\x1b[31m" + "z" * 500
    message = refused(cfg(write(tmp_path, edit=((2, 0), long_cell))))
    assert "z" * 40 not in message and "\x1b" not in message and "'\\x1b[31mzzzz" in message


def test_a_folder_or_a_symlink_loop_is_named_as_such(tmp_path):
    assert "is a folder, not a file" in refused(cfg(tmp_path))
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    assert "a symlink loop" in refused(cfg(loop))
    assert "file not found" in refused(cfg(tmp_path / "missing.csv"))


# --- 8 and 10: config values and the memory estimate ---------------------------------------


def compose(*overrides: str):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from harness.config import register_schema

    register_schema()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return from_omegaconf(hydra_compose("config", overrides=list(overrides)))


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "model.width=99999999999999999999",
            "model.width=99999999999999999999 is not accepted; expected an integer <=",
        ),
        ("data.seed=-1", "data.seed=-1 is not accepted; expected an integer in [0, 2147483647]"),
        ("train.seed=-3", "train.seed=-3 is not accepted"),
        ("train.lr=inf", "train.lr=inf is not accepted; expected a finite number"),
        ("data.noise=inf", "data.noise=inf is not accepted; expected a finite number"),
        ("data.relatedness=nan", "data.relatedness=nan is not accepted; expected a finite number"),
        ("train.lr=1e39", "train.lr=1e+39 is not accepted; expected a number in (0, 3.403e+38]"),
        ("data.target=8", "data.target=8 is not accepted; expected a task index in [0, 7]"),
    ],
)
def test_config_refuses_non_finite_values_and_out_of_range_sizes_naming_the_key(override, expected):
    with pytest.raises(ConfigError) as error:
        compose(override)
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_memory_estimate_refuses_what_cannot_fit_naming_the_keys():
    preflight.check(compose(*SMALL_RUN, "train.seeds=1"))
    with pytest.raises(ConfigError) as error:
        preflight.check(compose(*SMALL_RUN, "train.seeds=1000000"))
    message = str(error.value)
    assert (
        message.startswith("a job needs at least ") and "train.seeds=1000000" in message and "data.pool=1024" in message
    )
    with pytest.raises(ConfigError, match="model.width=2147483647"):
        preflight.check(compose("model.width=2147483647"))


def test_memory_estimate_is_a_lower_bound_of_a_run(monkeypatch):
    """The estimate of the default job is below what it really allocates (about 10 MiB of state and data)."""
    run = compose()
    monkeypatch.setattr(preflight, "available_memory", lambda: 2**20)
    with pytest.raises(ConfigError, match="more than this machine's 1.0 MiB"):
        preflight.check(run)
    monkeypatch.setattr(preflight, "available_memory", lambda: 64 * 2**20)
    preflight.check(run)


def test_table_data_is_checked_for_every_replicate_seed(tmp_path):
    rows = [(*row[:3], row[3], 1) for row in ROWS]  # label b has one class only
    with pytest.raises(ConfigError, match="column 'b' \\(label\\) has one class only in the test split of data seed"):
        preflight.check(from_omegaconf({"data": {**cfg(write(tmp_path, rows=rows)).__dict__}}))


# --- 4. the divergence rule ----------------------------------------------------------------


def test_divergence_rule():
    val = np.full((3, 2, 4), 0.6)
    val[1, 0, 2] = DIVERGED_BCE * 1.01
    assert divergence(np.array([True, True, False]), val) == [
        None,
        "validation log loss 7.001 above 6.931 (10 ln 2)",
        "non-finite training loss",
    ]
    val[0, 1, 1] = np.nan
    assert divergence(np.ones(3, bool), val)[0] is not None
    assert pytest.approx(6.931, abs=1e-3) == DIVERGED_BCE


def test_a_validation_loss_of_exactly_ten_ln_2_is_not_diverged():
    assert divergence(np.array([True, True]), np.array([[DIVERGED_BCE], [np.nextafter(DIVERGED_BCE, 99)]])) == [
        None,
        f"validation log loss {np.nextafter(DIVERGED_BCE, 99):.4g} above 6.931 (10 ln 2)",
    ]


def test_a_run_that_blows_up_after_step_0_is_diverged_not_ok(tiny):
    """Guards the last evaluation's part in the rule: at lr 30 every network's best step is
    its initial one (log loss near ln 2), so only the loss where training ended (above
    10 ln 2) tells that it blew up; such a run has no records."""
    from harness.runs.job import run_job

    result = run_job(tiny(arms=["mtl", "stl"], train={"lr": 30.0}), progress=False)
    assert result["status"] == "diverged" and result["records"] == []
    assert {(d["arm"], d["seed"]) for d in result["diverged"]} == {(a, s) for a in ("mtl", "stl") for s in (0, 1)}
    assert all(d["reason"].startswith("validation log loss") for d in result["diverged"])


# --- 5. the sweep folder's lock and owner ----------------------------------------------------


def test_a_running_sweep_holds_the_folder_and_a_killed_one_does_not(tmp_path):
    owner = tmp_path / sweep_lock.OWNER
    other = hold(tmp_path)
    try:
        with pytest.raises(ConfigError, match=f"another sweep is running in this folder \\(pid {other.pid} on"):
            sweep_lock.acquire(tmp_path)
        os.kill(other.pid, signal.SIGKILL)  # and not reaped: a zombie, whose pid still answers os.kill
        deadline = time.monotonic() + 10
        while True:
            try:
                sweep_lock.acquire(tmp_path)
                break
            except ConfigError:
                assert time.monotonic() < deadline, "the lock outlived its killed holder"
                time.sleep(0.05)
        assert Path(f"/proc/{other.pid}/stat").read_text().split()[2] == "Z"
        assert f'"pid": {os.getpid()}' in owner.read_text()
    finally:
        other.kill()
        other.wait(timeout=30)
    sweep_lock.release(tmp_path)
    assert not owner.exists()
    owner.write_text(f'{{"pid": {os.getppid()}, "host": "{os.uname().nodename}", "started": "then"}}')
    sweep_lock.acquire(tmp_path)  # a file naming a live process, but no lock held: taken
    sweep_lock.release(tmp_path)


def test_a_folder_holding_another_sweep_is_refused_but_the_same_sweep_is_not(tmp_path):
    (tmp_path / "multirun.yaml").write_text("hydra:\n  overrides:\n    task:\n    - train.lr=0.1,0.2\n")
    sweep_lock.check_owner(tmp_path, ["train.lr=0.1,0.2", "runtime.resume=true"])
    sweep_lock.check_owner(tmp_path / "new", ["train.lr=0.5"])
    with pytest.raises(ConfigError, match="holds the results of another sweep \\('train.lr=0.1,0.2'\\)"):
        sweep_lock.check_owner(tmp_path, ["train.lr=0.3,0.4"])


# --- 1 and 4 in result.json: the features used, and diverged runs --------------------------


def fake_output(run, val_bce: float, finite: bool = True):
    from harness.runs.job import static_of
    from harness.train.trainer import TrainOutput

    static = static_of(run, (3,))
    metrics = {}
    for spec in static.arms:
        shape = (run.train.seeds, spec.networks, spec.heads)
        metrics[spec.name] = {name: np.full(shape, 0.5) for name in ("test_bce", "test_acc", "test_auroc")}
        metrics[spec.name].update(val_bce=np.full(shape, val_bce), best_step=np.full(shape, 10))
        metrics[spec.name]["lr_index"] = np.zeros(shape, int)
        metrics[spec.name]["finite"] = np.full(run.train.seeds, finite)
    curves = {name: {"val_bce": np.repeat(m["val_bce"][:, None], 3, axis=1)} for name, m in metrics.items()}
    return static, TrainOutput(metrics, curves, [0, 10, 20], 0.0, 1.0)


@pytest.mark.parametrize(
    ("val_bce", "finite", "status"), [(0.6, True, "ok"), (DIVERGED_BCE + 1, True, "diverged"), (0.6, False, "diverged")]
)
def test_result_records_the_features_used_and_diverged_runs(tmp_path, val_bce, finite, status):
    from harness.data import features_used, task_names
    from harness.runs.job import Problem, payload

    rows = [(*row, "x" if i % 3 else "y") for i, row in enumerate(ROWS)]
    data = {**cfg(write(tmp_path, header=HEADER + ",name", rows=rows)).__dict__}
    run = from_omegaconf({"data": data, "train": {"seeds": 2, "steps": 20, "eval_every": 10}})
    static, out = fake_output(run, val_bce, finite)
    refs = {name: np.full((2, run.data.tasks), 0.69) for name in ("constant_bce", "bayes_bce", "bayes_auroc")}
    problem = Problem(None, task_names(run.data), refs, features_used(run.data), (3,), 0.0)
    result = payload(run, problem, static, out)
    assert result["features"] == {"used": ["f1", "f2", "f3"], "excluded": ["name"]}
    assert result["status"] == status
    if status == "diverged":
        assert result["records"] == []
        assert [(d["arm"], d["seed"]) for d in result["diverged"]] == [(a, s) for a in ("mtl", "stl") for s in (0, 1)]


@pytest.mark.slow
def test_tiny_run_at_lr_1e6_is_diverged_and_at_the_default_lr_is_ok():
    """The issue's TINY run: test log loss from 4,792 to 122,948 was reported as ok."""
    from harness.runs.job import run_job

    def tiny(lr: float):
        data = {"tasks": 3, "n_val": 100, "n_test": 200}
        train = {"steps": 50, "eval_every": 25, "seeds": 1, "lr": lr}
        return run_job(from_omegaconf({"data": data, "model": {"width": 4}, "train": train}), progress=False)

    exploded = tiny(1e6)
    assert exploded["status"] == "diverged" and exploded["records"] == []
    assert {d["arm"] for d in exploded["diverged"]} == {"mtl", "stl"}
    normal = tiny(1e-3)
    assert normal["status"] == "ok" and max(r["val_bce"] for r in normal["records"]) < 1.0


# --- 12. resume counts a deeply nested or oversized result.json as corrupt --------------------------


@pytest.mark.parametrize("damage", ["deep", "oversized"])
def test_resume_reruns_a_job_whose_result_cannot_be_read(tmp_path, damage):
    from harness.runs import resume
    from harness.runs.results import MAX_RESULT_BYTES, RESULT_FILE

    path = tmp_path / RESULT_FILE
    if damage == "deep":
        path.write_text("[" * 200_000 + "]" * 200_000)
    else:
        with open(path, "wb") as handle:  # sparse: no disk used
            handle.truncate(MAX_RESULT_BYTES + 1)
    assert not resume.completed(tmp_path, from_omegaconf({}))


@pytest.mark.parametrize("suite", ["synthetic", "features"])
def test_the_memory_estimate_covers_generating_the_data(monkeypatch, suite):
    """Generating many tasks holds far more than the data it returns: the estimate counts it,
    within a factor of 4 of the measured peak, and a machine too small for it refuses the job."""
    import tracemalloc

    run = compose(f"data={suite}", "data.tasks=1500", "train.seeds=1")
    size = suite_of(run.data).size(run.data)
    tracemalloc.start()
    make_dataset(run.data, 0)
    data, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (peak - data) / 4 < size.generation < 4 * (peak - data)
    have = size.generation  # room for the generation alone, not for the data and networks as well
    monkeypatch.setattr(preflight, "available_memory", lambda: have)
    with pytest.raises(ConfigError, match="while generating a replicate's data; lower train.seeds or these sizes"):
        preflight.check(run)


def test_scores_computed_in_chunks_of_rows_equal_those_computed_at_once(monkeypatch):
    from harness.data import features, suite, synthetic

    run = compose("data.tasks=4")
    x = np.random.default_rng(0).standard_normal((300, run.data.dim))
    whole = [synthetic.score(synthetic.family(run.data, 0), x), features.parts(features.family(run.data, 0), x)]
    monkeypatch.setattr(suite, "CHUNK_VALUES", 64)  # a few rows per chunk
    chunked = [synthetic.score(synthetic.family(run.data, 0), x), features.parts(features.family(run.data, 0), x)]
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
