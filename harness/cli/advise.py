"""`python -m harness.advise`: should my tasks share one network, separate ones, or groups?

The same configuration and overrides as harness.run (any data suite). It trains the
shared network (mtl), the separate networks (stl) and a grouping (arm groups: searched
from train.grouping_signal, or train.groups if given) over seeds on the same splits, and
writes into the run folder result.json (every arm trained, the search under `grouping`),
advice.json (harness/analysis/advice.py), ADVICE.md and its figure advice.png. The `arms` key is
set to [mtl, stl, groups].

Bad input: one line on stderr, exit status 2, no run folder (as harness.run). A job
that fails or diverges: its result.json, one line, exit status 1.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from harness.cli.run import CONF_DIR, run_entry, write_result
from harness.config import ConfigError, from_omegaconf
from harness.config.errors import one_line
from harness.runs.results import RESULT_FILE, discard_if_bookkeeping_only, write_json_atomic

ADVICE_FILE, REPORT_FILE, FIGURE_FILE = "advice.json", "ADVICE.md", "advice.png"
ARMS = ["mtl", "stl", "groups"]


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> None:
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    begin = time.perf_counter()
    try:
        cfg.arms = ARMS
        run = from_omegaconf(cfg)
        from harness.runs.runtime import enable_compilation_cache, request_fast_compile

        if run.runtime.fast_compile:
            request_fast_compile()
        from harness.runs.job import failed_payload, run_job  # imports JAX; kept out of config-only paths

        enable_compilation_cache(run.runtime.cache_dir)
        try:
            result = run_job(run, label="advise")
        except ConfigError:
            raise
        except Exception as error:  # noqa: BLE001 - recorded as a failed job
            result = failed_payload(run, one_line(error))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        discard_if_bookkeeping_only(output_dir)
        sys.exit(2)
    write_result(result)
    if result["status"] != "ok":
        detail = result["error"] or "non-finite training loss"
        print(f"error: job {result['status']}: {detail} (recorded in {output_dir / RESULT_FILE})", file=sys.stderr)
        sys.exit(1)
    from harness.analysis import advice as verdict

    advice = verdict.advise(result)
    advice["seconds"] = time.perf_counter() - begin
    verdict.plot(advice, output_dir / FIGURE_FILE)
    write_json_atomic(output_dir / ADVICE_FILE, advice)
    (output_dir / REPORT_FILE).write_text(verdict.markdown(advice, FIGURE_FILE, advice["seconds"]))
    for line in verdict.summary_lines(advice):
        print(line)
    print(f"advice: {output_dir / ADVICE_FILE}, {output_dir / REPORT_FILE} ({advice['seconds']:.1f} s)")


def cli() -> None:
    run_entry(main)
