"""`python -m harness.run`: the Hydra entry point (single runs and -m multiruns).

Kept thin: compose, validate into typed configs, call harness.job.run_job, write
result.json atomically into the job's output folder.

- A configuration error ends the process with one line on stderr and exit status 2,
  and leaves no result folder.
- A job that raises anything else is recorded as failed (result.json with its error)
  and the sweep goes on; a single run then exits with status 1, a multirun reports its
  failures in the summary at the end (harness/summary.py) and exits with status 1.
- With runtime.resume=true a job whose folder already holds a valid result.json for
  the same config is skipped (harness/resume.py).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from harness import resume, summary
from harness.config import ConfigError, from_omegaconf, register_schema
from harness.errors import one_line
from harness.results import RESULT_FILE, discard_if_bookkeeping_only, write_json_atomic

CONF_DIR = str(Path(__file__).resolve().parent / "conf")  # package data: found from an installed copy too
log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> str:
    hydra_cfg = HydraConfig.get()
    output_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode.name == "MULTIRUN"
    try:
        run = from_omegaconf(cfg)
        if run.runtime.resume:
            resume.remove_partial_writes(output_dir)
            if resume.completed(output_dir, run):
                log.info(f"resume: {output_dir / RESULT_FILE} is complete for this config; skipped")
                return "skipped"
        from harness.runtime import enable_compilation_cache, request_fast_compile

        if run.runtime.fast_compile:
            request_fast_compile()
        from harness.job import failed_payload, run_job  # imports JAX; kept out of config-only paths

        enable_compilation_cache(run.runtime.cache_dir)
        label = f"job {hydra_cfg.job.num}" if multirun else "train"
        try:
            result = run_job(run, label=label)
        except ConfigError:
            raise
        except Exception as error:  # noqa: BLE001 - recorded as a failed job; the sweep goes on
            log.exception("job failed")
            result = failed_payload(run, one_line(error))
    except ConfigError as error:
        # Bad configuration or data file: one line, no result folder. SystemExit passes
        # through Hydra's job wrapper, which would otherwise add its own report.
        print(f"error: {error}", file=sys.stderr)
        discard_if_bookkeeping_only(output_dir)
        sys.exit(2)
    write_result(result)
    if result["status"] == "failed" and not multirun:
        print(f"error: job failed: {result['error']} (recorded in {output_dir / RESULT_FILE})", file=sys.stderr)
        sys.exit(1)
    return result["status"]


def write_result(result: dict) -> None:
    """Write a payload into the current Hydra job's output folder, with the job's overrides."""
    hydra_cfg = HydraConfig.get()
    result["overrides"] = list(hydra_cfg.overrides.task)
    write_json_atomic(Path(hydra_cfg.runtime.output_dir) / RESULT_FILE, result)


def cli() -> None:
    register_schema()
    # Let exceptions reach us, so that each becomes one line instead of a report.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except Exception as error:  # noqa: BLE001 - every failure gets one line
        print(f"error: {one_line(error)}", file=sys.stderr)
        sys.exit(2)
    if summary.FAILED:
        sys.exit(1)


if __name__ == "__main__":
    cli()
