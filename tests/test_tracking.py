"""Experiment tracking: what a job's result becomes (names, means, steps), and a sweep in a local MLflow store."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from hydra.types import RunMode
from omegaconf import OmegaConf
from sweeps import ROOT, TINY, cli_command

from harness.config import TRACKERS, ConfigError, RunConfig, validate
from harness.runs.runtime import progress_bar
from harness.runs.tracking import (
    BACKENDS,
    PROBE_SECONDS,
    SWEEP_FILE,
    check_reachable,
    job_name,
    live,
    log_report,
    make_backend,
    swept_keys,
    tracking_uri,
)
from harness.runs.tracking.record import curve_series, final_metrics, flatten


def result_with_pairs() -> dict:
    """Two seeds, two evaluations; arm `pairs` trains task 0 in two networks."""
    return {
        "task_names": ["a", "b?", "c"],
        "arms": {
            "mtl": {"groups": [[0, 1, 2]]},
            "pairs": {"groups": [[0, 1], [0, 2]]},
        },
        "curves": {
            "steps": [10, 20],
            "mtl": {
                "train_loss": [[[1.0], [0.5]], [[3.0], [0.5]]],  # [S][E][G]
                "val_bce": [[[[0.9, 0.8, 0.7]], [[0.6, 0.5, float("nan")]]], [[[0.7, 0.6, 0.5]], [[0.4, 0.3, 0.2]]]],
            },
            "pairs": {
                "train_loss": [[[1.0, 2.0], [1.0, 1.0]], [[1.0, 2.0], [1.0, 1.0]]],
                "val_bce": [[[[0.1, 0.2], [0.3, 0.4]]] * 2] * 2,
            },
        },
        "records": [
            {"arm": "mtl", "task": t, "network": 0, "seed": s, "test_bce": 0.1 * (t + 1) + s, "test_auroc": 0.5}
            | {"test_acc": 1.0}
            for s in range(2)
            for t in range(3)
        ],
    }


def test_curve_series_are_seed_means_per_arm_and_task():
    series = curve_series(result_with_pairs())
    assert series["train_loss/mtl"] == [(10, 2.0), (20, 0.5)]
    assert series["val_bce/mtl/a"] == [(10, pytest.approx(0.8)), (20, pytest.approx(0.5))]
    assert series["val_bce/mtl/b_"] == [(10, pytest.approx(0.7)), (20, pytest.approx(0.4))]  # "?" is not allowed
    assert series["val_bce/mtl/c"] == [(10, pytest.approx(0.6))]  # a NaN evaluation is left out
    assert series["train_loss/pairs"] == [(10, 1.5), (20, 1.0)]
    assert series["val_bce/pairs/a/net0"] == [(10, 0.1), (20, 0.1)]
    assert series["val_bce/pairs/a/net1"] == [(10, 0.3), (20, 0.3)]
    assert series["val_bce/pairs/c"] == [(10, 0.4), (20, 0.4)]


def test_final_metrics_are_means_over_seeds_and_then_tasks():
    final = final_metrics(result_with_pairs())
    assert final["test_bce/mtl/a"] == pytest.approx(0.6)  # (0.1 + 1.1) / 2
    assert final["test_bce/mtl/c"] == pytest.approx(0.8)
    assert final["mean_test_bce/mtl"] == pytest.approx(0.7)
    assert final["test_auroc/mtl/b_"] == 0.5 and final["mean_test_acc/mtl"] == 1.0
    assert not any(name.startswith(("test_bce/pairs", "mean_test_bce/pairs")) for name in final)  # no records


def test_live_metrics_take_the_lowest_learning_rate_mean_over_seeds_networks_and_tasks():
    nan = float("nan")
    curves = {
        "mtl": {  # train_loss [S=2, L=2, G=1]; val_bce [S, L, G, H=2]
            "train_loss": [[[1.0], [4.0]], [[3.0], [2.0]]],
            "val_bce": [[[[0.5, 0.7]], [[0.2, nan]]], [[[0.3, 0.5]], [[0.4, nan]]]],
        },
        "stl": {"train_loss": [[[nan]], [[nan]]], "val_bce": [[[[0.6]]], [[[0.8]]]]},  # step 0: no training loss
    }
    got = live.live_metrics(curves)
    # mtl val_bce: lr 0 -> mean(0.5, 0.7, 0.3, 0.5) = 0.5; lr 1 -> mean(0.2, 0.4) = 0.3 (the unused head's NaN left out)
    assert got == pytest.approx({"live/train_loss/mtl": 2.0, "live/val_bce/mtl": 0.3, "live/val_bce/stl": 0.7})


def test_a_jobs_run_is_open_and_holds_its_live_metric_while_it_trains(tmp_path, tiny):
    """MLflow receives a metric before the job ends: the trainer's evaluations reach the
    attached run while its status is still RUNNING (a local file store)."""
    pytest.importorskip("mlflow", reason="pip install '.[mlflow]'")
    from harness.runs.job import run_job

    backend = make_backend("mlflow", (tmp_path / "mlruns").as_uri())
    run_id = backend.start_job("live-test", None, "job")
    seen = []

    def sink(step, metrics):
        backend.log_point(run_id, step, metrics)
        run = backend.client.get_run(run_id)
        seen.append((step, run.info.status, sorted(run.data.metrics)))

    run = tiny(arms=["mtl", "stl"])
    live.attach(sink)
    try:
        result = run_job(run, progress=False)
    finally:
        live.attach(None)
    assert [step for step, _, _ in seen] == result["curves"]["steps"]
    assert all(status == "RUNNING" for _, status, _ in seen)
    assert "live/val_bce/mtl" in seen[0][2] and "live/train_loss/stl" in seen[-1][2]
    history = backend.client.get_metric_history(run_id, "live/val_bce/mtl")
    assert [m.step for m in history] == result["curves"]["steps"]


def test_a_report_goes_to_the_parent_run_named_in_the_sweep_folder(tmp_path):
    pytest.importorskip("mlflow", reason="pip install '.[mlflow]'")
    uri = (tmp_path / "mlruns").as_uri()
    backend = make_backend("mlflow", uri)
    parent = backend.start_sweep("report-test", "sweep", {})
    sweep, report = tmp_path / "sweep", tmp_path / "sweep" / "report"
    report.mkdir(parents=True)
    for name in ("REPORT.md", "gain.png", "gain.pdf", "notes.txt"):
        (report / name).write_text("x")
    assert log_report(sweep, report) is None  # an untracked sweep: nothing to do
    (sweep / SWEEP_FILE).write_text(json.dumps({"tracking": "mlflow", "uri": uri, "run_id": parent}))
    assert log_report(sweep, report) == parent
    assert sorted(a.path for a in backend.client.list_artifacts(parent)) == ["REPORT.md", "gain.pdf", "gain.png"]


def test_params_are_the_flattened_config():
    params = flatten({"arms": ["mtl", "stl"], "data": {"relatedness": 0.8, "labels": None}, "runtime": {"x": "y"}})
    assert params == {"arms": '["mtl", "stl"]', "data.relatedness": "0.8", "data.labels": "null", "runtime.x": "y"}


def hydra_node(mode: RunMode, **runtime) -> OmegaConf:
    return OmegaConf.create(
        {
            "runtime": runtime,
            "hydra": {
                "mode": mode,
                "run": {"dir": "outputs/runs/t"},
                "sweep": {"dir": "out/sweeps/s"},
                "runtime": {"cwd": "/home/u", "output_dir": "/home/u/out/sweeps/s/3"},
                "job": {"num": 3},
                "overrides": {"task": ["data.relatedness=0.9", "train.seeds=2"]},
            },
        }
    )


def test_tracking_uri_defaults_to_mlruns_beside_the_outputs():
    assert tracking_uri(hydra_node(RunMode.MULTIRUN)) == "file:///home/u/out/sweeps/mlruns"
    assert tracking_uri(hydra_node(RunMode.RUN)) == "file:///home/u/outputs/runs/mlruns"
    assert tracking_uri(hydra_node(RunMode.RUN, tracking_uri="store")) == "file:///home/u/store"
    assert tracking_uri(hydra_node(RunMode.RUN, tracking_uri="http://host:5000")) == "http://host:5000"


def test_a_job_is_named_by_its_number_and_swept_values():
    swept = swept_keys(["data.relatedness=0.1,0.9", "train.seeds=2", "train.lr=range(1,3)", "a=1,2", "a=3"])
    assert swept == {"data.relatedness", "train.lr"}
    assert job_name(hydra_node(RunMode.MULTIRUN), swept) == "3: data.relatedness=0.9"
    assert job_name(hydra_node(RunMode.RUN), swept) == "3"


def test_every_tracker_has_a_backend_and_others_are_rejected():
    assert set(TRACKERS) == {"none", *BACKENDS}
    run = RunConfig()
    run.runtime.tracking = "wandb"
    with pytest.raises(ConfigError, match=r"^runtime.tracking='wandb' is not accepted; expected one of none, mlflow$"):
        validate(run)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bars_need_the_key_and_a_terminal():
    assert not progress_bar(True, total=2, file=Terminal()).disable
    assert progress_bar(False, total=2, file=Terminal()).disable
    assert progress_bar(True, total=2, file=io.StringIO()).disable  # not a terminal: off


@pytest.mark.slow
def test_a_sweep_is_one_parent_run_with_a_child_run_per_job(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="pip install '.[mlflow]'")
    from mlflow.tracking import MlflowClient

    sweep = tmp_path / "sweep"
    command = cli_command(sweep, tmp_path / "cache", "train.lr=0.003", "data.relatedness=0.1,0.9")
    command += ["runtime.progress=true", "runtime.tracking=mlflow"]  # bars asked for, but stderr is a pipe
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sweep: 2 jobs: 2 ok" in done.stderr
    assert "%|" not in done.stderr and "eval/s" not in done.stderr, "a progress bar was drawn off a terminal"

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # as the harness sets it for its local store
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("mtl-harness")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.data.metrics == {"jobs_ok": 2.0}
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    assert sorted(r.data.params["data.relatedness"] for r in children) == ["0.1", "0.9"]
    assert sorted(r.info.run_name for r in children) == ["0: data.relatedness=0.1", "1: data.relatedness=0.9"]
    for child in children:
        assert child.info.status == "FINISHED" and child.data.params["train.lr"] == "0.003"
        history = client.get_metric_history(child.info.run_id, "val_bce/mtl/task0")
        steps = json.loads((sweep / child.info.run_name.split(":")[0] / "result.json").read_text())["curves"]["steps"]
        assert [m.step for m in history] == steps and steps[0] == 0 and steps[-1] == 20  # every evaluation of TINY
        assert 0 < child.data.metrics["test_auroc/stl/task1"] <= 1
        assert [a.path for a in client.list_artifacts(child.info.run_id)] == ["result.json"]
        # The live curve arrived while the job trained: every evaluation, before result.json was written.
        live_points = client.get_metric_history(child.info.run_id, "live/val_bce/mtl")
        written = (sweep / child.info.run_name.split(":")[0] / "result.json").stat().st_mtime * 1000
        assert [m.step for m in live_points] == steps and max(m.timestamp for m in live_points) <= written
    assert [a.path for a in client.list_artifacts(parent.info.run_id)] == ["multirun.yaml"]
    assert json.loads((sweep / SWEEP_FILE).read_text())["run_id"] == parent.info.run_id


def test_a_tracking_store_that_cannot_be_used_is_refused_in_one_line_naming_the_key(tmp_path):
    import http.server
    import socket
    import threading
    import time

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{closed.getsockname()[1]}"
    silent = socket.socket()  # accepts connections (the backlog), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)  # 501 to every GET
    threading.Thread(target=server.serve_forever, daemon=True).start()
    blocked = tmp_path / "file"
    blocked.write_text("")
    cases = {
        refused: "Connection refused",
        f"http://127.0.0.1:{silent.getsockname()[1]}": f"no answer within {PROBE_SECONDS:g} s",
        f"http://127.0.0.1:{server.server_address[1]}": "it answered HTTP 501, not as a tracking server",
        (blocked / "mlruns").as_uri(): "no folder can be made in",
    }
    try:
        for uri, reason in cases.items():
            begin = time.monotonic()
            with pytest.raises(ConfigError) as error:
                check_reachable(uri)
            assert time.monotonic() - begin < 10
            message = str(error.value)
            assert message.startswith("runtime.tracking_uri=") and reason in message and "\n" not in message
    finally:
        server.shutdown()
        silent.close()
    check_reachable((tmp_path / "new" / "mlruns").as_uri())  # a folder that can be made
    assert not (tmp_path / "new").exists()  # and is not made before the run


@pytest.mark.slow
def test_an_unreachable_tracking_server_refuses_the_run_before_it_trains(tmp_path):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{closed.getsockname()[1]}"
    out = tmp_path / "run"
    command = [sys.executable, "-m", "harness.run", *TINY, "runtime.tracking=mlflow", f"runtime.tracking_uri={uri}"]
    command.append(f"hydra.run.dir={out}")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.strip().startswith(
        f"error: runtime.tracking_uri='{uri}' cannot be used"
    )
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()
