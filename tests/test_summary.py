"""The end-of-sweep tally: statuses from result.json, "skipped" from the marker a skipped job leaves."""

from __future__ import annotations

import os
import shutil
from collections import Counter

from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from harness.runs import summary
from harness.runs.results import RESULT_FILE, write_json_atomic
from harness.runs.summary import SKIPPED_MARKER, SLACK_SECONDS, SweepSummary, describe, statuses


def job(sweep, name: str, payload: dict | None, skipped: bool = False, written: float | None = None):
    folder = sweep / name
    (folder / ".hydra").mkdir(parents=True)
    overrides = folder / ".hydra" / "overrides.yaml"
    overrides.write_text("[]\n")
    if written is not None:
        os.utime(overrides, (written, written))
    if payload is not None:
        write_json_atomic(folder / RESULT_FILE, payload)
    if skipped:
        (folder / SKIPPED_MARKER).touch()
    return folder


def test_statuses_count_results_and_marked_skips(tmp_path):
    since = 1001.0  # the multirun's start; every job folder below but "0" was written after it
    job(tmp_path, "0", {"status": "ok"}, written=since - SLACK_SECONDS - 1)  # an earlier sweep's
    job(tmp_path, "1", None)
    job(tmp_path, "2", {"status": "ok"}, written=since - SLACK_SECONDS)  # within the clock's slack
    job(tmp_path, "3", {"status": "ok"}, skipped=True)
    job(tmp_path, "4", {"status": "diverged"})
    job(tmp_path, "5", {"status": "failed"})
    job(tmp_path, "6", {"schema_version": 1})  # no status
    job(tmp_path, "7", {"status": "ok"})
    job(tmp_path, "8", None)
    found = statuses(tmp_path, since)
    assert found["3"] == "skipped" and found["6"] == "no result" and "0" not in found
    counts = Counter(found.values())
    assert counts == Counter({"ok": 2, "skipped": 1, "diverged": 1, "failed": 1, "no result": 3})
    assert describe(counts) == "sweep: 8 jobs: 2 ok, 1 diverged, 1 failed, 1 skipped, 3 no result"
    assert describe(Counter()) == "sweep: 0 jobs: nothing"


def test_a_job_marks_itself_skipped_only_when_resume_skipped_it(tmp_path):
    folder = job(tmp_path, "0", "ok", skipped=True)
    config = OmegaConf.create({"hydra": {"runtime": {"output_dir": str(folder)}}})
    callback = SweepSummary()
    callback.on_job_start(config)
    assert not (folder / SKIPPED_MARKER).exists(), "a job that starts is not skipped yet"
    callback.on_job_start(config)  # nor does it need a marker to be there
    for value, status, marked in (("ok", JobStatus.COMPLETED, False), ("skipped", JobStatus.COMPLETED, True)):
        ret = JobReturn(status=status)
        ret.return_value = value
        callback.on_job_end(config, ret)
        assert (folder / SKIPPED_MARKER).exists() is marked
        (folder / SKIPPED_MARKER).unlink(missing_ok=True)
    failed = JobReturn(status=JobStatus.FAILED)
    failed.return_value = RuntimeError("boom")
    callback.on_job_end(config, failed)
    assert not (folder / SKIPPED_MARKER).exists()


def test_the_multirun_summary_prints_one_line_and_fails_the_cli_on_a_failed_job(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(summary, "FAILED", False)
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    callback = SweepSummary()
    callback.on_multirun_start(config)
    job(tmp_path, "0", {"status": "ok"})
    job(tmp_path, "1", {"status": "ok"}, skipped=True)
    callback.on_multirun_end(config)
    assert capsys.readouterr().err == f"sweep: 2 jobs: 1 ok, 1 skipped (in {tmp_path})\n"
    assert summary.FAILED is False
    for name, payload in (("2", {"status": "failed"}), ("3", None)):  # each alone
        folder = job(tmp_path, name, payload)
        monkeypatch.setattr(summary, "FAILED", False)
        callback.on_multirun_end(config)
        lines = capsys.readouterr().err.splitlines()
        assert lines[1] == "error: some jobs failed; their result.json files hold the errors"
        assert summary.FAILED is True
        shutil.rmtree(folder)
