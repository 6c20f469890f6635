"""`hydra/launcher=fused`: a sweep's same-shape jobs train as one vmapped program.

Jobs are validated first (as with the default launcher), grouped by compiled shapes
(harness/runs/fused.py) and each group, split into chunks that fit in memory, trains once.
Every job then goes through Hydra's own job runner with a task that writes its
payload, so each gets the same output folder, .hydra files and result.json as with the
default launcher. Jobs already complete under runtime.resume=true are not trained. A
group that raises is retried job by job through the normal task, so a failure is
recorded against the job that caused it; so is a job whose data cannot be built while
planning (it is planned alone).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, configure_log, setup_globals
from omegaconf import DictConfig

from hydra_plugins.harness_launcher.harness_launcher import HarnessLauncher, job_dir

log = logging.getLogger(__name__)


@dataclass
class FusedLauncherConf:
    _target_: str = "hydra_plugins.harness_launcher.fused_launcher.FusedLauncher"
    # Most jobs per compiled program; null: as many as fit in half the device's memory.
    max_jobs: int | None = None


ConfigStore.instance().store(group="hydra/launcher", name="fused", node=FusedLauncherConf)


def writer(payload: dict):
    """A task that writes an already trained job's payload into its Hydra output folder."""
    from harness.cli.run import record

    def task(_cfg: DictConfig) -> str:
        return payload["status"] if record(payload) else "no result"

    return task


class FusedLauncher(HarnessLauncher):
    def __init__(self, max_jobs: int | None = None) -> None:
        self.max_jobs = max_jobs

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from harness.config import from_omegaconf
        from harness.runs import resume
        from harness.runs.runtime import enable_compilation_cache, progress_bar, request_fast_compile

        setup_globals()
        configs = self.job_configs(job_overrides, initial_job_idx)
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        runs = [from_omegaconf(cfg) for cfg in configs]
        if runs[0].runtime.fast_compile:
            request_fast_compile()
        from harness.runs import fused  # imports JAX, after the compile flags are settled

        enable_compilation_cache(runs[0].runtime.cache_dir)
        done = {
            i
            for i, (cfg, run) in enumerate(zip(configs, runs, strict=True))
            if run.runtime.resume and resume.completed(job_dir(cfg), run)
        }
        todo = [i for i in range(len(runs)) if i not in done]
        chunks = [[todo[k] for k in chunk] for chunk in fused.plan([runs[i] for i in todo], self.max_jobs)]
        log.info(f"Launching {len(configs)} jobs as {len(chunks)} fused programs ({len(done)} already complete)")

        returns: dict[int, JobReturn] = {i: self.run_one(configs[i], self.task_function) for i in sorted(done)}
        show = runs[0].runtime.progress
        bar = progress_bar(show, total=len(todo), desc="sweep", unit="job")
        for chunk in chunks:
            members = [runs[i] for i in chunk]
            steps = members[0].train.steps // members[0].train.eval_every
            try:
                with progress_bar(show, total=steps, desc=f"{len(chunk)} jobs", unit="eval", leave=False) as inner:
                    payloads = fused.run_group(members, on_chunk=lambda _, inner=inner: inner.update(1))
            except Exception:  # noqa: BLE001 - rerun one by one; each failure lands on its own job
                log.exception(f"fused program of jobs {chunk} failed; running them one by one")
                tasks = [self.task_function] * len(chunk)
            else:
                tasks = [writer(payload) for payload in payloads]
            for i, task in zip(chunk, tasks, strict=True):
                returns[i] = self.run_one(configs[i], task)
                bar.update(1)
        bar.close()
        return [returns[i] for i in range(len(configs))]
