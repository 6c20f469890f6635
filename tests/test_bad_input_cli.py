"""Bad input and faults at the command line (subprocesses; training replaced by a stand-in
where the test is about the sweep, not the numbers)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweeps import ROOT, SMALL_RUN, hold

from harness.config import ConfigError, RunConfig
from harness.runs.results import RESULT_FILE

pytestmark = pytest.mark.slow

GOOD = "f1,f2,a,b\n" + "".join(f"{i},{i % 7},{i % 2},{(i // 2) % 2}\n" for i in range(40))


def fake_run_job(run: RunConfig, progress=None, label="train") -> dict:
    """Stands in for training: builds one replicate's data (so data faults surface), then
    fails with a data error for lr = 0.1, diverges for lr = 0.5, else returns one record
    carrying the lr."""
    from harness.data import make_dataset
    from harness.runs.job import failed_payload

    make_dataset(run.data, run.data.seed)
    if run.train.lr == 0.1:
        raise ConfigError(f"{run.data.path}: changed since the sweep started")
    record = {"arm": "mtl", "task": 0, "network": 0, "seed": 0, "test_bce": run.train.lr}
    if run.train.lr == 0.5:
        diverged = [{"arm": "mtl", "seed": 0, "reason": "non-finite training loss"}]
        return {**failed_payload(run, ""), "status": "diverged", "error": None, "diverged": diverged}
    return {**failed_payload(run, ""), "status": "ok", "error": None, "records": [record]}


def fake_group(runs, on_chunk=None):
    return [fake_run_job(run) for run in runs]


def failing_seven(cfg, seed):
    """The synthetic suite, except that data seed 7 cannot be built."""
    if seed == 7:
        raise RuntimeError("data seed 7 cannot be built")
    return ORIGINAL(cfg, seed)


def full_disk_for_job_1(fd):
    if f"{os.sep}1{os.sep}.{RESULT_FILE}" in os.readlink(f"/proc/self/fd/{fd}"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as a real write reports it: no file name
    return ORIGINAL_FSYNC(fd)


def hydra_full_disk_for_job_1(cfg, filename, output_dir):
    if output_dir.parent.name == "1":  # job 1's .hydra folder
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return ORIGINAL_SAVE(cfg, filename, output_dir)


ORIGINAL = ORIGINAL_FSYNC = ORIGINAL_SAVE = None
FAKE_CLI = """
import os, sys
sys.path.insert(0, {tests!r})
import dataclasses, harness.runs.job, harness.runs.fused, harness.data, harness.runs.results, hydra.core.utils
import test_bad_input_cli as t
harness.runs.job.run_job = t.fake_run_job
harness.runs.fused.run_group = t.fake_group
t.ORIGINAL = harness.data.SUITES["synthetic"].make
harness.data.SUITES["synthetic"] = dataclasses.replace(harness.data.SUITES["synthetic"], make=t.failing_seven)
t.ORIGINAL_FSYNC = os.fsync
harness.runs.results.os.fsync = t.full_disk_for_job_1 if {full_disk!r} == "result" else os.fsync
t.ORIGINAL_SAVE = hydra.core.utils._save_config
if {full_disk!r} == "hydra":
    hydra.core.utils._save_config = t.hydra_full_disk_for_job_1
from harness.cli.run import cli
cli()
"""


def fake_cli(*args: str, full_disk: str = "") -> tuple[int, str]:
    code = FAKE_CLI.format(tests=str(ROOT / "tests"), full_disk=full_disk)
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    return done.returncode, done.stderr


def real_cli(*args: str) -> tuple[int, str]:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-m", "harness.run", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    return done.returncode, done.stderr


def status(folder: Path) -> str:
    return json.loads((folder / RESULT_FILE).read_text())["status"]


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# --- 6. data sources are checked before the first job; later failures are recorded ----------


def test_every_jobs_data_file_is_checked_before_the_first_job_starts(tmp_path):
    good, good2 = tmp_path / "good.csv", tmp_path / "good2.csv"
    good.write_text(GOOD)
    good2.write_text(GOOD)
    sweep = tmp_path / "sweep"
    paths = f"{good},{tmp_path / 'missing.csv'},{good2}"
    code, err = real_cli("-m", "data=table", f"data.path={paths}", "data.labels=[a,b]", f"hydra.sweep.dir={sweep}")
    assert code == 2
    line = one_error_line(err)
    assert "missing.csv: file not found (data.path)" in line and "(job 1: data=table data.path=" in line
    assert not sweep.exists()


def test_a_job_whose_data_fails_at_run_time_is_recorded_and_the_sweep_goes_on(tmp_path):
    sweep = tmp_path / "sweep"
    code, err = fake_cli("-m", "train.lr=0.001,0.1,0.002", f"hydra.sweep.dir={sweep}")
    assert code == 1 and "sweep: 3 jobs: 2 ok, 1 failed" in err
    assert [status(sweep / str(j)) for j in range(3)] == ["ok", "failed", "ok"]
    assert json.loads((sweep / "1" / RESULT_FILE).read_text())["error"] == "None: changed since the sweep started"


# --- 9 and 10: an interpolation error; a job that cannot fit ------------------------------------


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.lr='${nope}'", "error: train.lr: Interpolation key 'nope' not found"),
        ("train.seeds=1000000", "error: a job needs at least 360.8 GiB of memory"),
        ("runtime.cache_dir=/proc/version/jax", "error: runtime.cache_dir='/proc/version/jax' cannot be used"),
        ("+seeds=5", "error: unknown config key 'seeds'; did you mean train.seeds?"),
        ("experiment=capacty", "error: experiment=capacty does not exist; did you mean experiment=capacity? options:"),
    ],
)
def test_refused_in_one_line_with_exit_2_and_no_folder(tmp_path, override, expected):
    out = tmp_path / "run"
    code, err = real_cli(*SMALL_RUN, override, f"hydra.run.dir={out}")
    assert code == 2 and one_error_line(err).startswith(expected)
    assert not out.exists()


# --- 4. diverged jobs are listed ----------------------------------------------------------------


def test_the_summary_lists_diverged_jobs(tmp_path):
    sweep = tmp_path / "sweep"
    code, err = fake_cli("-m", "train.lr=0.001,0.5,0.002", f"hydra.sweep.dir={sweep}")
    assert code == 0 and "sweep: 3 jobs: 2 ok, 1 diverged" in err
    assert "diverged jobs (no records, left out of verdicts): 1" in err


# --- 7. the fused launcher ---------------------------------------------------------------------


def test_fused_sweep_with_a_bad_seed_is_refused_up_front(tmp_path):
    sweep = tmp_path / "sweep"
    code, err = real_cli("-m", "hydra/launcher=fused", "data.seed=0,-1,1", f"hydra.sweep.dir={sweep}")
    assert code == 2
    line = one_error_line(err)
    assert "data.seed=-1 is not accepted" in line and "(job 1: data.seed=-1)" in line
    assert not sweep.exists()


def test_fused_launcher_runs_the_rest_when_one_jobs_data_cannot_be_built(tmp_path):
    sweep = tmp_path / "sweep"
    code, err = fake_cli("-m", "hydra/launcher=fused", "data.seed=0,7,1", f"hydra.sweep.dir={sweep}")
    assert code == 1 and "sweep: 3 jobs: 2 ok, 1 failed" in err, err[-2000:]
    assert [status(sweep / str(j)) for j in range(3)] == ["ok", "failed", "ok"]
    assert "data seed 7 cannot be built" in json.loads((sweep / "1" / RESULT_FILE).read_text())["error"]


# --- 5. one sweep per folder ---------------------------------------------------------------------


def test_a_second_sweep_into_the_same_folder_is_refused_and_overwrites_nothing(tmp_path):
    sweep = tmp_path / "sweep"
    first = ["-m", "train.lr=0.001,0.002", f"hydra.sweep.dir={sweep}"]
    assert fake_cli(*first)[0] == 0
    lock_files = (".sweep.lock", ".sweep.owner")  # the lock's own: taken by whichever sweep holds the folder
    before = {p: p.read_bytes() for p in sweep.rglob("*") if p.is_file() and p.name not in lock_files}
    time.sleep(1.1)  # file times must tell skipped jobs from rerun ones

    code, err = fake_cli("-m", "train.lr=0.003,0.004", f"hydra.sweep.dir={sweep}")
    assert code == 2 and "holds the results of another sweep ('train.lr=0.001,0.002')" in one_error_line(err)
    assert {p: p.read_bytes() for p in sweep.rglob("*") if p.is_file() and p.name not in lock_files} == before

    other = hold(sweep)
    try:  # a sweep still running in the folder
        code, err = fake_cli(*first, "runtime.resume=true")
        assert code == 2 and f"another sweep is running in this folder (pid {other.pid} on" in one_error_line(err)
        assert {
            p: p.read_bytes() for p in sweep.rglob("*") if p.is_file() and p.name not in (".sweep.lock", ".sweep.owner")
        } == before
    finally:
        other.kill()
        other.wait(timeout=30)

    code, err = fake_cli(*first, "runtime.resume=true")  # the same sweep, its lock's holder killed: resumes
    assert code == 0 and "sweep: 2 jobs: 2 skipped" in err
    assert not (sweep / ".sweep.owner").exists()  # released: the lock file stays, held by no one


# --- 12. resume reruns jobs whose result.json cannot be read -------------------------------------


def test_resume_reruns_jobs_with_a_deeply_nested_or_oversized_result(tmp_path):
    sweep = tmp_path / "sweep"
    base = ["-m", "train.lr=0.001,0.002,0.003", f"hydra.sweep.dir={sweep}"]
    assert fake_cli(*base)[0] == 0
    (sweep / "0" / RESULT_FILE).write_text("[" * 200_000 + "]" * 200_000)
    with open(sweep / "1" / RESULT_FILE, "r+b") as handle:  # sparse: no disk used
        handle.truncate(65 * 2**20)
    time.sleep(1.1)
    code, err = fake_cli(*base, "runtime.resume=true")
    assert code == 0 and "sweep: 3 jobs: 2 ok, 1 skipped" in err, err[-2000:]
    assert [status(sweep / str(j)) for j in range(3)] == ["ok", "ok", "ok"]


# --- 14. a full disk ---------------------------------------------------------------------------------


def test_a_result_that_cannot_be_written_names_the_file_and_the_sweep_ends_with_its_summary(tmp_path):
    sweep = tmp_path / "sweep"
    code, err = fake_cli("-m", "train.lr=0.001,0.002,0.003", f"hydra.sweep.dir={sweep}", full_disk="result")
    assert code == 1
    assert f"error: cannot write {sweep / '1' / RESULT_FILE}: No space left on device" in err
    assert "sweep: 3 jobs: 2 ok, 1 failed" in err
    assert "failed jobs that could not write their folder (partial files removed): 1 (No space left on device)" in err
    assert not (sweep / "1").exists() and not list(sweep.rglob("*.tmp"))


def test_a_job_folder_that_cannot_be_written_is_named_and_the_sweep_goes_on(tmp_path):
    sweep = tmp_path / "sweep"
    code, err = fake_cli("-m", "train.lr=0.001,0.002,0.003", f"hydra.sweep.dir={sweep}", full_disk="hydra")
    assert code == 1
    assert f"error: job 1: cannot write {sweep / '1'}: No space left on device" in err
    assert "sweep: 3 jobs: 2 ok, 1 failed" in err and "partial files removed): 1 (No space left on device)" in err
    assert [status(sweep / str(j)) for j in (0, 2)] == ["ok", "ok"] and not (sweep / "1").exists()
