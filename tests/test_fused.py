"""Fused sweeps: grouping by compiled shapes, and results equal to one job at a time."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
from sweeps import ROOT, assert_nothing_corrupt, assert_same_records, cli_command, records

from harness.config import RunConfig
from harness.runs import fused
from harness.runs.job import run_job
from harness.runs.results import RESULT_FILE
from harness.train.program import TRACES


def tiny(**changes) -> RunConfig:
    run = RunConfig()
    run.train.steps, run.train.eval_every, run.train.seeds = 20, 10, 2
    run.model.width = 8
    run.data.tasks, run.data.dim, run.data.pool, run.data.n_per_task = 2, 4, 64, 32
    run.data.n_val, run.data.n_test = 16, 32
    run.runtime.progress = False
    run.arms = changes.pop("arms", run.arms)
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        setattr(getattr(run, section), key, value)
    return run


def test_plan_groups_jobs_by_shape_and_keeps_sweep_order():
    runs = [
        tiny(train__lr=0.01),
        tiny(model__width=16),
        tiny(data__relatedness=0.1, data__n_per_task=8, data__missing=0.5, train__seed=3),
        tiny(train__seeds=3),
        tiny(train__steps=40),
        tiny(data__seed=7, train__lr=0.1),
    ]
    assert fused.plan(runs) == [[0, 2, 5], [1], [3], [4]]
    assert fused.plan(runs, max_jobs=2) == [[0, 2], [5], [1], [3], [4]]


def test_jobs_that_search_their_groups_run_alone():
    search = tiny(arms=["mtl", "groups"])
    given = tiny(arms=["mtl", "groups"], train__groups=[[0, 1]])
    assert fused.plan([search, given, tiny(arms=["mtl", "groups"], train__lr=0.1), search]) == [[0], [1], [2], [3]]
    (alone,) = fused.run_group([search])
    assert alone["grouping"]["signal"] == "affinity" and alone["arms"]["groups"]["groups"]


def test_memory_estimate_grows_with_the_job():
    assert fused.job_bytes(tiny(model__width=64)) > fused.job_bytes(tiny()) > 0
    assert fused.job_bytes(tiny(train__seeds=4)) == 2 * fused.job_bytes(tiny())


@pytest.mark.slow
def test_fused_group_gives_each_job_the_payload_of_run_job():
    runs = [
        tiny(),
        tiny(data__relatedness=0.1, data__n_per_task=8, data__missing=0.5),
        tiny(train__lr=0.05, train__seed=4, data__seed=9),
    ]
    TRACES.clear()
    payloads = fused.run_group(runs)
    assert TRACES["lower:chunk"] == 1  # one program for all three jobs
    for run, got in zip(runs, payloads, strict=True):
        want = run_job(run)
        assert got["status"] == want["status"] == "ok"
        assert got["config"] == want["config"] and got["config_hash"] == want["config_hash"]
        assert got["arms"] == want["arms"] and got["timing"]["fused_jobs"] == 3
        assert_same_records({0: got["records"]}, {0: want["records"]})
        for arm in ("mtl", "stl"):
            for curve, values in want["curves"][arm].items():
                np.testing.assert_allclose(got["curves"][arm][curve], values, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_fused_launcher_writes_what_the_default_launcher_writes(tmp_path, uninterrupted):
    sweep = tmp_path / "sweep"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        cli_command(sweep, tmp_path / "cache", "hydra/launcher=fused"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "sweep: 6 jobs: 6 ok" in done.stderr
    assert_same_records(records(sweep), uninterrupted)
    assert_nothing_corrupt(sweep)
    for job in range(6):
        for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
            assert (sweep / str(job) / ".hydra" / name).is_file()
        result = json.loads((sweep / str(job) / RESULT_FILE).read_text())
        assert result["timing"]["fused_jobs"] == 6
        assert result["overrides"][:2] == [
            f"data.relatedness={(0.1, 0.9)[job // 3]}",
            f"train.lr={(0.003, 0.01, 0.03)[job % 3]}",
        ]
