"""The end-of-sweep tally: statuses from result.json, "skipped" from the marker a skipped job leaves."""

from __future__ import annotations

import time
from collections import Counter

from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from harness.results import RESULT_FILE, write_json_atomic
from harness.summary import SKIPPED_MARKER, SweepSummary, describe, tally


def job(sweep, name: str, status: str | None, skipped: bool = False):
    folder = sweep / name
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("[]\n")
    if status is not None:
        write_json_atomic(folder / RESULT_FILE, {"status": status})
    if skipped:
        (folder / SKIPPED_MARKER).touch()
    return folder


def test_tally_counts_statuses_and_marked_skips(tmp_path):
    since = time.time()
    job(tmp_path, "0", "ok")
    job(tmp_path, "1", "ok", skipped=True)
    job(tmp_path, "2", "diverged")
    job(tmp_path, "3", "failed")
    job(tmp_path, "4", None)
    counts = tally(tmp_path, since)
    assert counts == Counter({"ok": 1, "skipped": 1, "diverged": 1, "failed": 1, "no result": 1})
    assert describe(counts) == "sweep: 5 jobs: 1 ok, 1 diverged, 1 failed, 1 skipped, 1 no result"
    assert tally(tmp_path, since + 60) == Counter(), "job folders of an earlier sweep are left out"


def test_a_job_marks_itself_skipped_only_when_resume_skipped_it(tmp_path):
    folder = job(tmp_path, "0", "ok", skipped=True)
    config = OmegaConf.create({"hydra": {"runtime": {"output_dir": str(folder)}}})
    callback = SweepSummary()
    callback.on_job_start(config)
    assert not (folder / SKIPPED_MARKER).exists(), "a job that starts is not skipped yet"
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
