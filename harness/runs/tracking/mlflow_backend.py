"""runtime.tracking=mlflow: runs in an MLflow tracking store (a local folder by default, or any URI).

The sweep is a parent run and each job a child run (MLflow's `mlflow.parentRunId` tag),
opened when the job starts and given its live curves while it trains.
Uses the client API only, so no global active run is left in the process between jobs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from harness.runs.tracking.record import JobRecord

# MLflow's limits on one log_batch call.
MAX_PARAMS, MAX_METRICS = 100, 1000
STATUS = {"ok": "FINISHED", "diverged": "FINISHED", "failed": "FAILED"}


class MLflowBackend:
    def __init__(self, uri: str) -> None:
        if uri.startswith("file:"):
            # MLflow 3 keeps its folder store in maintenance mode and refuses it unless asked;
            # it is what a local, serverless store is.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=uri)
        self.Metric, self.Param, self.RunTag = Metric, Param, RunTag

    def _experiment_id(self, name: str) -> str:
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        try:
            return self.client.create_experiment(name)
        except Exception:  # noqa: BLE001 - another job created it first
            return self.client.get_experiment_by_name(name).experiment_id

    def start_sweep(self, experiment: str, name: str, tags: dict[str, str]) -> str:
        return self.client.create_run(self._experiment_id(experiment), run_name=name, tags=tags).info.run_id

    def start_job(self, experiment: str, parent: str | None, name: str) -> str:
        tags = {"mlflow.parentRunId": parent} if parent else {}
        return self.client.create_run(self._experiment_id(experiment), run_name=name, tags=tags).info.run_id

    def log_point(self, run_id: str, step: int, metrics: dict[str, float]) -> None:
        now = int(time.time() * 1000)
        self._log(run_id, [], [self.Metric(name, value, now, step) for name, value in metrics.items()])

    def end_job(self, run_id: str, job: JobRecord) -> None:
        self.client.log_batch(run_id, tags=[self.RunTag(key, value) for key, value in job.tags.items()])
        now = int(time.time() * 1000)
        params = [self.Param(k, v) for k, v in job.params.items()]
        metrics = [self.Metric(name, value, now, step) for name, points in job.series.items() for step, value in points]
        metrics += [self.Metric(name, value, now, 0) for name, value in job.final.items()]
        self._log(run_id, params, metrics)
        self.log_artifacts(run_id, job.artifacts)
        self.client.set_terminated(run_id, STATUS.get(job.status, "FAILED"))

    def drop_job(self, run_id: str) -> None:
        self.client.delete_run(run_id)

    def log_artifacts(self, run_id: str, artifacts: list[Path]) -> None:
        for path in artifacts:
            self.client.log_artifact(run_id, str(path))

    def end_sweep(self, run_id: str, failed: bool, metrics: dict[str, float], artifacts: list[Path]) -> None:
        now = int(time.time() * 1000)
        self._log(run_id, [], [self.Metric(name, value, now, 0) for name, value in metrics.items()])
        self.log_artifacts(run_id, artifacts)
        self.client.set_terminated(run_id, "FAILED" if failed else "FINISHED")

    def _log(self, run_id: str, params: list, metrics: list) -> None:
        for start in range(0, len(params), MAX_PARAMS):
            self.client.log_batch(run_id, params=params[start : start + MAX_PARAMS])
        for start in range(0, len(metrics), MAX_METRICS):
            self.client.log_batch(run_id, metrics=metrics[start : start + MAX_METRICS])
