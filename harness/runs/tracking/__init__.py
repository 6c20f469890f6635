"""Experiment tracking: every sweep and job mirrored into a tracking backend (runtime.tracking).

A Hydra callback (registered in conf/config.yaml), so every launcher gets it:
the sweep's parent run starts where the multirun starts (the launching process), and each
job's run opens where the job starts (in process, or on a Submitit or Ray worker), receives
the job's live curves while it trains (live.py), and is completed when the job ends from the
result.json the job wrote. The sweep folder's SWEEP_FILE names the parent run, so that
`harness.report` adds its figures to it. A backend is one module with a class that implements
`Backend`; `BACKENDS` names it for runtime.tracking.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse
from urllib.request import url2pathname

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from harness.config import ConfigError
from harness.config.errors import excerpt
from harness.runs.results import RESULT_FILE, UnreadableResult, read_result
from harness.runs.tracking import live
from harness.runs.tracking.record import JobRecord, job_record

# runtime.tracking value -> "module:Class" of its backend (harness.config.TRACKERS lists them and "none").
BACKENDS = {"mlflow": "harness.runs.tracking.mlflow_backend:MLflowBackend"}
DEFAULT_EXPERIMENT = "mtl-harness"
# The report's files that the sweep's run keeps, when `harness.report` has written them into SWEEP/report/.
REPORT_FILES = ("REPORT.md", "*.png", "*.pdf", "*.svg")
# In a tracked sweep's folder: the backend, store and parent run the report's files go to.
SWEEP_FILE = "tracking.json"
MAX_NAME_CHARS = 250
# How long the store may take to answer before a run is refused (a client would retry for minutes).
PROBE_SECONDS = 5.0


class Backend(Protocol):
    def start_sweep(self, experiment: str, name: str, tags: dict[str, str]) -> str:
        """Open the sweep's parent run; returns its id."""

    def start_job(self, experiment: str, parent: str | None, name: str) -> str:
        """Open the job's run (a child of `parent`, if given); returns its id."""

    def log_point(self, run_id: str, step: int, metrics: dict[str, float]) -> None:
        """Metrics of one evaluation, while the job trains."""

    def end_job(self, run_id: str, job: JobRecord) -> None:
        """Log the finished job's params, curves, metrics and files, and close its run."""

    def drop_job(self, run_id: str) -> None:
        """Remove the run of a job that was refused before it trained."""

    def log_artifacts(self, run_id: str, artifacts: list[Path]) -> None:
        """Add files to a run, open or closed."""

    def end_sweep(self, run_id: str, failed: bool, metrics: dict[str, float], artifacts: list[Path]) -> None:
        """Close the parent run with the sweep's counts and files."""


def make_backend(name: str, uri: str) -> Backend:
    module, _, cls = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), cls)(uri)


def tracking_uri(config: DictConfig) -> str:
    """runtime.tracking_uri as given if it is a URI, a folder as a file URI; default: mlruns/ beside the outputs."""
    cwd = Path(str(OmegaConf.select(config, "hydra.runtime.cwd", default=os.getcwd())))
    given = str(OmegaConf.select(config, "runtime.tracking_uri", default="") or "")
    if len(urlparse(given).scheme) > 1:  # a one-letter scheme is a Windows drive
        return given
    if not given:
        key = "hydra.sweep.dir" if OmegaConf.select(config, "hydra.mode") == RunMode.MULTIRUN else "hydra.run.dir"
        given = str(Path(str(OmegaConf.select(config, key))).parent / "mlruns")
    return (cwd / Path(given).expanduser()).resolve().as_uri()


def check_reachable(uri: str) -> None:
    """A one-line ConfigError naming runtime.tracking_uri unless its store can be used: a
    server that answers the tracking API within PROBE_SECONDS, or a folder that can be written."""
    import tempfile
    import urllib.error
    import urllib.request

    parsed = urlparse(uri)
    try:
        if parsed.scheme in ("http", "https"):
            probe = uri.rstrip("/") + "/api/2.0/mlflow/experiments/search?max_results=1"
            try:
                urllib.request.urlopen(probe, timeout=PROBE_SECONDS).close()
            except urllib.error.HTTPError as error:
                if error.code not in (401, 403):  # a server that wants credentials the client has
                    raise OSError(f"it answered HTTP {error.code}, not as a tracking server") from None
            except urllib.error.URLError as error:
                raise error.reason if isinstance(error.reason, OSError) else OSError(str(error.reason)) from None
        elif parsed.scheme == "file":
            folder = Path(url2pathname(parsed.path))
            existing = next(p for p in (folder, *folder.parents) if p.exists())
            try:
                tempfile.TemporaryDirectory(dir=existing).cleanup()  # where the store's folders will be made
            except OSError:
                raise OSError(f"no folder can be made in {existing}") from None
    except (OSError, ValueError) as error:
        reason = f"no answer within {PROBE_SECONDS:g} s" if isinstance(error, TimeoutError) else str(error)
        fix = "give a writable folder" if parsed.scheme == "file" else "start the tracking server, correct the URI"
        raise ConfigError(
            f"runtime.tracking_uri={excerpt(uri)} cannot be used: {excerpt(reason, 80)}; {fix}, "
            "or set runtime.tracking=none"
        ) from None


def refuse_unreachable(config: DictConfig) -> None:
    """Before anything runs or is written: one line and exit status 2 if the store cannot be reached.

    SystemExit: Hydra turns a callback's exceptions into warnings and goes on.
    """
    try:
        check_reachable(tracking_uri(config))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


def experiment_name(config: DictConfig) -> str:
    """The study (experiment=NAME) the sweep runs, or the harness's name."""
    return str(OmegaConf.select(config, "hydra.runtime.choices.experiment", default=None) or DEFAULT_EXPERIMENT)


def swept_keys(overrides: list[str]) -> set[str]:
    """The keys that a multirun's command-line overrides sweep (`key=a,b`, ranges, globs)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    last = {o.get_key_element(): o for o in OverridesParser.create().parse_overrides(overrides)}  # the last one wins
    return {key for key, o in last.items() if o.is_sweep_override()}


def job_name(config: DictConfig, swept: set[str]) -> str:
    """A multirun job's number and its values of the swept keys; a single run's folder name."""
    if OmegaConf.select(config, "hydra.mode") != RunMode.MULTIRUN:
        return Path(str(config.hydra.runtime.output_dir)).name
    own = [o for o in config.hydra.overrides.task if o.split("=", 1)[0] in swept]
    return f"{config.hydra.job.num}: {' '.join(own)}".strip(": ")[:MAX_NAME_CHARS]


def report_files(folder: Path) -> list[Path]:
    """A report's REPORT.md and figures in `folder`."""
    return sorted({path for pattern in REPORT_FILES for path in folder.glob(pattern)})


def log_report(sweep_dir: Path, report_dir: Path) -> str | None:
    """Add the report in `report_dir` to the parent run of the tracked sweep in `sweep_dir`;
    the run's id, or None for a sweep that was not tracked."""
    try:
        record = json.loads((sweep_dir / SWEEP_FILE).read_text())
    except (OSError, ValueError):
        return None
    make_backend(record["tracking"], record["uri"]).log_artifacts(record["run_id"], report_files(report_dir))
    return record["run_id"]


class TrackingCallback(Callback):
    """Off unless runtime.tracking names a backend; then a parent run per sweep and a run per job."""

    def __init__(self) -> None:
        self.parent: str | None = None
        self.swept: set[str] = set()  # the keys the sweep varies
        self.job_run: str | None = None  # the run of the job this process is running

    @staticmethod
    def _backend(config: DictConfig) -> Backend | None:
        name = str(OmegaConf.select(config, "runtime.tracking", default="none"))
        return make_backend(name, tracking_uri(config)) if name in BACKENDS else None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if str(OmegaConf.select(config, "runtime.tracking", default="none")) in BACKENDS:
            refuse_unreachable(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from harness.config import from_omegaconf

        if str(OmegaConf.select(config, "runtime.tracking", default="none")) not in BACKENDS:
            return
        try:
            from_omegaconf(config)  # a bad value ends the sweep before any job: no run to open
        except ConfigError:
            return
        refuse_unreachable(config)
        backend = self._backend(config)
        self.started = time.time()
        sweep_dir = Path(str(config.hydra.sweep.dir))
        self.swept = swept_keys(list(config.hydra.overrides.task)) | set(config.hydra.sweeper.get("params") or {})
        tags = {
            "harness.sweep_dir": str(sweep_dir.resolve()),
            "harness.overrides": " ".join(config.hydra.overrides.task),
        }
        self.parent = backend.start_sweep(experiment_name(config), sweep_dir.name, tags)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        record = {"tracking": str(config.runtime.tracking), "uri": tracking_uri(config), "run_id": self.parent}
        (sweep_dir / SWEEP_FILE).write_text(json.dumps(record, indent=1) + "\n")

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        backend = self._backend(config)
        if backend is None:
            return
        run_id = backend.start_job(experiment_name(config), self.parent, job_name(config, self.swept))
        self.job_run = run_id
        live.attach(lambda step, metrics: backend.log_point(run_id, step, metrics))

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        live.attach(None)
        backend, run_id, self.job_run = self._backend(config), self.job_run, None
        if backend is None or run_id is None:
            return
        path = Path(str(config.hydra.runtime.output_dir)) / RESULT_FILE
        try:
            result = read_result(path)
        except UnreadableResult:  # rejected before it ran (bad config): nothing to track
            backend.drop_job(run_id)
            return
        backend.end_job(run_id, job_record(result, path, job_name(config, self.swept)))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.parent is None:
            return
        from collections import Counter

        from harness.runs.summary import statuses

        backend = self._backend(config)
        sweep_dir = Path(str(config.hydra.sweep.dir))
        counts = Counter(statuses(sweep_dir, self.started).values())
        metrics = {f"jobs_{status.replace(' ', '_')}": float(n) for status, n in counts.items()}
        failed = bool(counts["failed"] or counts["no result"])
        artifacts = [p for p in (sweep_dir / "multirun.yaml", *report_files(sweep_dir / "report")) if p.exists()]
        backend.end_sweep(self.parent, failed, metrics, artifacts)
        self.parent = None
