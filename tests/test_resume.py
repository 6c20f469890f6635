"""Failure recording, the sweep summary, resume, and a sweep killed with SIGKILL then resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sweeps import ROOT, assert_nothing_corrupt, assert_same_records, cli_command, records

from harness.config import RunConfig
from harness.runs import resume
from harness.runs.job import failed_payload
from harness.runs.results import RESULT_FILE, SCHEMA_VERSION, write_json_atomic
from harness.runs.summary import describe


def fake_run_job(run: RunConfig, progress=None, label="train") -> dict:
    """Stands in for training: fails for lr >= 0.05, otherwise one record carrying the lr."""
    if run.train.lr >= 0.05:
        raise RuntimeError(f"exploded at lr {run.train.lr}\nsecond line")
    payload = failed_payload(run, "")
    record = {"arm": "mtl", "task": 0, "network": 0, "seed": 0, "test_bce": run.train.lr}
    return {**payload, "status": "ok", "error": None, "records": [record]}


# The CLI in a fresh process (Hydra configures logging process-wide), training replaced by fake_run_job.
FAKE_CLI = (
    "import sys; sys.path.insert(0, {tests!r}); import harness.runs.job, test_resume; "
    "harness.runs.job.run_job = test_resume.fake_run_job; import harness.runs.fused; "
    "harness.runs.fused.run_group = test_resume.failing_group; from harness.cli.run import cli; cli()"
)


def failing_group(runs, on_chunk=None):
    raise MemoryError("fused program out of memory")


def run_cli(*args: str) -> tuple[int, str]:
    code = FAKE_CLI.format(tests=str(ROOT / "tests"))
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    return done.returncode, done.stderr


def load(folder: Path) -> dict:
    return json.loads((folder / RESULT_FILE).read_text())


@pytest.mark.slow
def test_failed_job_is_recorded_and_the_sweep_goes_on(tmp_path):
    sweep = tmp_path / "sweep"
    code, err = run_cli("-m", "train.lr=0.001,0.1,0.002", f"hydra.sweep.dir={sweep}")
    assert code == 1
    assert "sweep: 3 jobs: 2 ok, 1 failed" in err
    statuses = [load(sweep / str(j))["status"] for j in range(3)]
    assert statuses == ["ok", "failed", "ok"]
    failed = load(sweep / "1")
    assert failed["error"] == "RuntimeError: exploded at lr 0.1 second line"
    assert failed["records"] == [] and failed["config"]["train"]["lr"] == 0.1
    assert len(failed["config_hash"]) == 64 and failed["config_hash"] != load(sweep / "0")["config_hash"]


@pytest.mark.slow
def test_single_run_failure_exits_1_with_one_line(tmp_path):
    code, err = run_cli("train.lr=0.5", f"hydra.run.dir={tmp_path / 'run'}")
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("error: job failed: RuntimeError: exploded at lr 0.5")
    assert load(tmp_path / "run")["status"] == "failed"


@pytest.mark.slow
def test_resume_skips_complete_jobs_and_reruns_the_rest(tmp_path):
    sweep = tmp_path / "sweep"
    base = ["-m", "train.lr=0.001,0.1,0.002,0.003", f"hydra.sweep.dir={sweep}"]
    assert run_cli(*base)[0] == 1
    before = {j: (sweep / str(j) / RESULT_FILE).stat().st_mtime_ns for j in range(4)}
    # Job 2's file is corrupt, job 3's is from another config, and an interrupted write left a temporary file.
    (sweep / "2" / RESULT_FILE).write_text('{"status": "ok", "records": [')
    other = load(sweep / "3")
    write_json_atomic(sweep / "3" / RESULT_FILE, {**other, "config_hash": "0" * 64})
    (sweep / "0" / f".{RESULT_FILE}.abc.tmp").write_text('{"trunc')

    code, err = run_cli(*base, "runtime.resume=true")
    assert code == 1  # job 1 fails again
    assert "sweep: 4 jobs: 2 ok, 1 failed, 1 skipped" in err
    assert (sweep / "0" / RESULT_FILE).stat().st_mtime_ns == before[0]
    assert not list(sweep.rglob("*.tmp"))
    assert [load(sweep / str(j))["status"] for j in range(4)] == ["ok", "failed", "ok", "ok"]
    assert load(sweep / "3")["config_hash"] != "0" * 64  # rerun, not kept


@pytest.mark.slow
def test_fused_program_that_raises_is_rerun_job_by_job_and_resumes(tmp_path):
    sweep = tmp_path / "sweep"
    base = ["-m", "train.lr=0.001,0.1,0.002", "hydra/launcher=fused", f"hydra.sweep.dir={sweep}"]
    code, err = run_cli(*base)
    assert code == 1 and "sweep: 3 jobs: 2 ok, 1 failed" in err
    assert [load(sweep / str(j))["status"] for j in range(3)] == ["ok", "failed", "ok"]
    code, err = run_cli(*base, "runtime.resume=true")
    assert code == 1 and "sweep: 3 jobs: 1 failed, 2 skipped" in err


def test_config_hash_ignores_runtime_and_sees_everything_else():
    run = RunConfig()
    changed_runtime = RunConfig()
    changed_runtime.runtime.resume, changed_runtime.runtime.cache_dir = True, ""
    assert resume.config_hash(run) == resume.config_hash(changed_runtime)
    other = RunConfig()
    other.data.relatedness = 0.5
    assert resume.config_hash(run) != resume.config_hash(other)


def test_completed_requires_final_status_schema_and_hash(tmp_path):
    run = RunConfig()
    good = {"schema_version": SCHEMA_VERSION, "status": "ok", "config_hash": resume.config_hash(run)}
    assert not resume.completed(tmp_path, run)  # no file
    for payload, expected in [
        (good, True),
        ({**good, "status": "diverged"}, True),
        ({**good, "status": "failed"}, False),
        ({**good, "schema_version": 0}, False),
        ({**good, "config_hash": "x"}, False),
    ]:
        write_json_atomic(tmp_path / RESULT_FILE, payload)
        assert resume.completed(tmp_path, run) is expected
    (tmp_path / RESULT_FILE).write_text("{")
    assert not resume.completed(tmp_path, run)


@pytest.mark.slow
def test_sweep_killed_with_sigkill_resumes_to_the_uninterrupted_table(tmp_path, uninterrupted):
    sweep, cache = tmp_path / "sweep", tmp_path / "cache"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    process = subprocess.Popen(
        cli_command(sweep, cache), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # Kill as soon as the first result is written; however loaded the machine, whatever was
    # written by then is complete (atomic writes) and resume must skip exactly that.
    deadline = time.monotonic() + 600
    while not list(sweep.glob(f"*/{RESULT_FILE}")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    written = len(list(sweep.glob(f"*/{RESULT_FILE}")))
    assert written >= 1
    assert_nothing_corrupt(sweep)

    resumed = subprocess.run(
        cli_command(sweep, cache, "runtime.resume=true"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert describe(Counter(ok=6 - written, skipped=written)) in resumed.stderr
    assert_nothing_corrupt(sweep)
    assert_same_records(records(sweep), uninterrupted)
