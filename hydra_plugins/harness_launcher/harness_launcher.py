"""`hydra/launcher=harness` (the default): the basic in-process launcher, plus

- every job's config is validated before any job runs, so an impossible sweep fails
  with one line and leaves no partial results;
- a progress bar over the sweep's jobs (runtime.progress, on a terminal only).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
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
        """Compose and validate every job of the sweep before any of them runs."""
        from harness.config import ConfigError, from_omegaconf
        from harness.results import discard_if_bookkeeping_only

        configs = []
        for offset, overrides in enumerate(job_overrides):
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            try:
                from_omegaconf(cfg)
            except ConfigError as error:
                discard_if_bookkeeping_only(str(self.config.hydra.sweep.dir))
                raise ConfigError(f"{error} (job {initial_job_idx + offset}: {' '.join(overrides)})") from None
            with open_dict(cfg):
                cfg.hydra.job.id = initial_job_idx + offset
                cfg.hydra.job.num = initial_job_idx + offset
            configs.append(cfg)
        return configs

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from harness.runtime import progress_bar

        setup_globals()
        configs = self.job_configs(job_overrides, initial_job_idx)
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        log.info(f"Launching {len(configs)} jobs locally")
        runs = []
        jobs = list(zip(configs, job_overrides, strict=True))
        show = bool(OmegaConf.select(self.config, "runtime.progress", default=True))
        for cfg, overrides in progress_bar(show, iterable=jobs, desc="sweep", unit="job"):
            log.info(f"\t#{cfg.hydra.job.num} : {' '.join(filter_overrides(overrides))}")
            runs.append(
                run_job(
                    hydra_context=self.hydra_context,
                    task_function=self.task_function,
                    config=cfg,
                    job_dir_key="hydra.sweep.dir",
                    job_subdir_key="hydra.sweep.subdir",
                )
            )
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return runs
