"""`hydra/launcher=harness` (the default): the basic in-process launcher, plus

- every job's config is validated, and its data source and memory need checked
  (harness/runs/preflight.py), before any job runs, so an impossible sweep fails with one
  line and leaves no partial results;
- a job whose output folder cannot be written (a full disk) is one line naming the
  folder, and the sweep goes on to its summary;
- a progress bar over the sweep's jobs (runtime.progress, on a terminal only).
"""

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)


@dataclass
class HarnessLauncherConf:
    _target_: str = "hydra_plugins.harness_launcher.harness_launcher.HarnessLauncher"


ConfigStore.instance().store(group="hydra/launcher", name="harness", node=HarnessLauncherConf)


class HarnessLauncher(Launcher):
    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def job_configs(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[DictConfig]:
        """Compose, validate and preflight every job of the sweep before any of them runs."""
        from omegaconf.errors import OmegaConfBaseException

        from harness.config import ConfigError, from_omegaconf
        from harness.config.errors import one_line
        from harness.runs import preflight
        from harness.runs.results import discard_if_bookkeeping_only

        configs = []
        for offset, overrides in enumerate(job_overrides):
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            try:
                preflight.check(from_omegaconf(cfg))
            except (ConfigError, OmegaConfBaseException) as error:
                message = one_line(error)
                discard_if_bookkeeping_only(str(self.config.hydra.sweep.dir))
                raise ConfigError(f"{message} (job {initial_job_idx + offset}: {' '.join(overrides)})") from None
            with open_dict(cfg):
                cfg.hydra.job.id = initial_job_idx + offset
                cfg.hydra.job.num = initial_job_idx + offset
            configs.append(cfg)
        return configs

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from harness.runs.runtime import progress_bar

        setup_globals()
        configs = self.job_configs(job_overrides, initial_job_idx)
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        log.info(f"Launching {len(configs)} jobs locally")
        show = bool(OmegaConf.select(self.config, "runtime.progress", default=True))
        return [
            self.run_one(cfg, self.task_function)
            for cfg in progress_bar(show, iterable=configs, desc="sweep", unit="job")
        ]

    def run_one(self, cfg: DictConfig, task: TaskFunction) -> JobReturn:
        log.info(f"\t#{cfg.hydra.job.num} : {' '.join(filter_overrides(list(cfg.hydra.overrides.task)))}")
        try:
            ret = run_job(
                hydra_context=self.hydra_context,
                task_function=task,
                config=cfg,
                job_dir_key="hydra.sweep.dir",
                job_subdir_key="hydra.sweep.subdir",
            )
        except OSError as error:  # Hydra's own writes (.hydra/, the log): a full disk must not end the sweep
            from harness.runs import summary

            folder = job_dir(cfg)
            reason = error.strerror or str(error)
            print(f"error: job {cfg.hydra.job.num}: cannot write {error.filename or folder}: {reason}", file=sys.stderr)
            summary.unwritten(folder, reason)
            ret = JobReturn(overrides=list(cfg.hydra.overrides.task), cfg=cfg, status=JobStatus.COMPLETED)
            ret.return_value = "no result"
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return ret


def job_dir(cfg: DictConfig) -> Path:
    """The output folder Hydra's job runner will give this job."""
    previous = HydraConfig.instance().cfg
    HydraConfig.instance().set_config(cfg)
    try:
        return Path(str(OmegaConf.select(cfg, "hydra.sweep.dir"))) / str(OmegaConf.select(cfg, "hydra.sweep.subdir"))
    finally:
        HydraConfig.instance().cfg = previous
