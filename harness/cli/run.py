"""`python -m harness.run`: the Hydra entry point (single runs and -m multiruns).

Kept thin: compose, validate into typed configs, call harness.runs.job.run_job, write
result.json atomically into the job's output folder.

- A configuration error (a bad value, an interpolation that does not resolve, or in a
  single run a data file that cannot be used or a job that cannot fit in memory) ends
  the process with one line on stderr and exit status 2, and leaves no result folder.
- A job that raises anything else is recorded as failed (result.json with its error)
  and the sweep goes on; so is, in a multirun, a job whose data fails its checks at run
  time (the launcher checked it before the sweep started; the file may have changed). A
  single run then exits with status 1, a multirun reports its failures in the summary at
  the end (harness/runs/summary.py) and exits with status 1.
- A result that cannot be written (a full disk) is one line naming the file; a failed
  result with that reason is written where it still fits, else the job's partial files
  are removed; the sweep goes on and its summary counts the job as failed.
- With runtime.resume=true a job whose folder already holds a valid result.json for
  the same config is skipped (harness/runs/resume.py).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from harness.config import ConfigError, from_omegaconf, register_schema
from harness.config.errors import one_line
from harness.config.locations import conf_dir
from harness.runs import preflight, resume, summary
from harness.runs.results import RESULT_FILE, discard_if_bookkeeping_only, write_json_atomic

CONF_DIR = str(conf_dir())  # conf/ of a source checkout, or the package data of an installed wheel
log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> str:
    logging.getLogger("jax").setLevel(logging.WARNING)  # not its INFO line about a missing TPU backend
    hydra_cfg = HydraConfig.get()
    output_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode.name == "MULTIRUN"
    try:
        run = from_omegaconf(cfg)
    except (ConfigError, OmegaConfBaseException) as error:  # a bad value or interpolation
        refuse(one_line(error), output_dir)
    if run.runtime.resume:
        resume.remove_partial_writes(output_dir)
        if resume.completed(output_dir, run):
            log.info(f"resume: {output_dir / RESULT_FILE} is complete for this config; skipped")
            return "skipped"
    from harness.runs.runtime import enable_compilation_cache, request_fast_compile

    if run.runtime.fast_compile:
        request_fast_compile()
    from harness.runs.job import failed_payload, run_job  # imports JAX; kept out of config-only paths

    label = f"job {hydra_cfg.job.num}" if multirun else "train"
    try:
        preflight.check(run)  # a sweep's launcher checked this before the first job; a file may have changed since
        enable_compilation_cache(run.runtime.cache_dir)
        result = run_job(run, label=label)
    except ConfigError as error:
        if not multirun:
            refuse(str(error), output_dir)
        log.error(f"job refused: {error}")  # one job's data: recorded as failed, the sweep goes on
        result = failed_payload(run, str(error))
    except Exception as error:  # noqa: BLE001 - recorded as a failed job; the sweep goes on
        log.exception("job failed")
        result = failed_payload(run, one_line(error))
    if not record(result):
        if not multirun:
            sys.exit(1)
        return "no result"
    if result["status"] == "failed" and not multirun:
        print(f"error: job failed: {result['error']} (recorded in {output_dir / RESULT_FILE})", file=sys.stderr)
        sys.exit(1)
    if not multirun:  # a sweep's jobs are counted by its summary instead
        from harness.analysis.run_summary import run_summary

        print(f"{result['status']}: {output_dir / RESULT_FILE}")
        line = run_summary(result)
        if line:
            print(line)
    return result["status"]


def refuse(message: str, output_dir: Path) -> NoReturn:
    """Bad configuration or data: one line, exit status 2, no result folder.

    SystemExit passes through Hydra's job wrapper, which would otherwise add its own report.
    """
    print(f"error: {message}", file=sys.stderr)
    discard_if_bookkeeping_only(output_dir)
    sys.exit(2)


def write_result(result: dict) -> None:
    """Write a payload into the current Hydra job's output folder, with the job's overrides."""
    hydra_cfg = HydraConfig.get()
    result["overrides"] = list(hydra_cfg.overrides.task)
    write_json_atomic(Path(hydra_cfg.runtime.output_dir) / RESULT_FILE, result)


def record(result: dict) -> bool:
    """Write the job's result; on a write error (a full disk) say so in one line naming the file.

    Returns whether it was written. If not, a failed result with the reason is written
    where it still fits; where nothing fits, the job's partial files are removed and the
    sweep's summary counts it as failed. The sweep goes on either way.
    """
    try:
        write_result(result)
    except OSError as error:
        reason = f"cannot write {error.filename}: {error.strerror or error}"
        print(f"error: {reason}", file=sys.stderr)
        try:
            write_result({**result, "status": "failed", "error": reason, "records": [], "curves": {}})
        except OSError:
            summary.unwritten(Path(HydraConfig.get().runtime.output_dir), error.strerror or str(error))
        return False
    return True


def run_entry(entry) -> None:
    """Call a Hydra entry point (`main` here, harness.advise's) so that any error it raises is one
    line on stderr and exit status 2, never a traceback."""
    register_schema()
    # Let exceptions reach us, so that each becomes one line instead of a report.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        entry()
    except Exception as error:  # noqa: BLE001 - every failure gets one line
        print(f"error: {one_line(error)}", file=sys.stderr)
        sys.exit(2)


def cli() -> None:
    run_entry(main)
    if summary.FAILED:
        sys.exit(1)
