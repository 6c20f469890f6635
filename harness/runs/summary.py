"""The end-of-sweep summary: jobs ok / diverged / failed / skipped by resume / without a result.

A Hydra callback (registered in conf/config.yaml), so it works the same whichever
launcher ran the jobs (in process, fused, Ray, Submitit): at the end of a multirun it
reads the result.json of every job folder that this multirun wrote, prints one line
(and a second naming the diverged jobs, if any), and sets FAILED when any job failed or
left no result, which makes `harness.run.cli` exit with status 1.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from harness.runs.results import RESULT_FILE, UnreadableResult, discard_if_bookkeeping_only, read_result

FAILED = False
ORDER = ("ok", "diverged", "failed", "skipped", "no result")
# File timestamps may be coarser than the clock (and than a few milliseconds of skew).
SLACK_SECONDS = 1.0
# Left in a job's folder by a job that resume skipped in this multirun (and removed when the job starts).
SKIPPED_MARKER = ".skipped"


# Jobs of this process's multirun that could not write their folder (a full disk), by
# folder, with the reason: their partial files are removed, so the summary counts them
# from here. Launchers that run jobs in other processes (Ray, Submitit) keep the files.
UNWRITTEN: dict[Path, str] = {}


def unwritten(folder: Path, reason: str) -> None:
    """Remove what a job that could not write left in its folder, and count it as failed."""
    discard_if_bookkeeping_only(folder)
    UNWRITTEN[Path(folder).resolve()] = reason


def statuses(sweep_dir: str | Path, since: float) -> dict[str, str]:
    """Status by job folder (relative to `sweep_dir`) of the jobs whose Hydra files were
    written at or after `since`.

    A job folder with SKIPPED_MARKER was skipped by resume: its result.json is an earlier run's.
    """
    found: dict[str, str] = {}
    for marker in sorted(Path(sweep_dir).rglob(".hydra/overrides.yaml")):
        if marker.stat().st_mtime < since - SLACK_SECONDS:
            continue  # a job folder of an earlier, different sweep in the same folder
        path = marker.parent.parent / RESULT_FILE
        job = str(path.parent.relative_to(sweep_dir))
        try:
            status = read_result(path).get("status", "no result")
        except UnreadableResult:
            found[job] = "no result"
            continue
        found[job] = "skipped" if (path.parent / SKIPPED_MARKER).exists() else status
    return found


def describe(counts: Counter[str]) -> str:
    total = sum(counts.values())
    parts = [f"{counts[name]} {name}" for name in ORDER if counts[name]] or ["nothing"]
    return f"sweep: {total} jobs: {', '.join(parts)}"


class SweepSummary(Callback):
    # Per job, in the process that runs it (whichever launcher): mark the jobs that resume skipped.
    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        (Path(str(config.hydra.runtime.output_dir)) / SKIPPED_MARKER).unlink(missing_ok=True)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if job_return.status == JobStatus.COMPLETED and job_return.return_value == "skipped":
            (Path(str(config.hydra.runtime.output_dir)) / SKIPPED_MARKER).touch()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.started = time.time()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        global FAILED
        sweep_dir = Path(str(config.hydra.sweep.dir))
        found = statuses(sweep_dir, self.started)
        lost = {f: why for f, why in UNWRITTEN.items() if f.is_relative_to(sweep_dir.resolve())}
        found |= {str(f.relative_to(sweep_dir.resolve())): "failed" for f in lost}
        counts = Counter(found.values())
        print(f"{describe(counts)} (in {sweep_dir})", file=sys.stderr)
        if lost:
            jobs = ", ".join(f"{f.name} ({why})" for f, why in sorted(lost.items()))
            print(f"failed jobs that could not write their folder (partial files removed): {jobs}", file=sys.stderr)
            for folder in lost:
                del UNWRITTEN[folder]
        diverged = [job for job, status in found.items() if status == "diverged"]
        if diverged:  # results without records, left out of the report's verdicts
            print(f"diverged jobs (no records, left out of verdicts): {', '.join(diverged)}", file=sys.stderr)
        if counts["failed"] or counts["no result"]:
            FAILED = True
            print("error: some jobs failed; their result.json files hold the errors", file=sys.stderr)
