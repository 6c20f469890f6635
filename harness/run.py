"""`python -m harness.run`: the Hydra entry point (single runs and -m multiruns).

Kept thin: compose, validate into typed configs, call harness.job.run_job, write
result.json atomically into the job's output folder. Any configuration error ends the
process with one line on stderr and exit status 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from harness.config import ConfigError, from_omegaconf, register_schema
from harness.errors import one_line
from harness.results import RESULT_FILE, discard_if_bookkeeping_only, write_json_atomic

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    try:
        run = from_omegaconf(cfg)
        from harness.job import run_job  # imports JAX; kept out of config-only paths
        from harness.runtime import enable_compilation_cache

        enable_compilation_cache(run.runtime.cache_dir)
        label = f"job {hydra_cfg.job.num}" if hydra_cfg.mode.name == "MULTIRUN" else "train"
        result = run_job(run, label=label)
    except ConfigError as error:
        # Bad configuration or data file: one line, no result folder. SystemExit passes
        # through Hydra's job wrapper, which would otherwise add its own report.
        print(f"error: {error}", file=sys.stderr)
        discard_if_bookkeeping_only(hydra_cfg.runtime.output_dir)
        sys.exit(2)
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


if __name__ == "__main__":
    cli()
