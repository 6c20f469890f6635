"""Sweeps through Hydra's Submitit and Ray launchers give the default launcher's results."""

from __future__ import annotations

import os
import subprocess

import pytest
from sweeps import ROOT, assert_nothing_corrupt, assert_same_records, cli_command, records

# Jobs 0 and 3 of the reference sweep (train.lr=0.003 at both relatedness values).
TWO_JOBS = ("train.lr=0.003",)


def run_two_jobs(tmp_path, launcher: str, *extra: str) -> dict[int, list[dict]]:
    sweep = tmp_path / "sweep"
    command = cli_command(sweep, tmp_path / "cache", f"hydra/launcher={launcher}", *TWO_JOBS, *extra)
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sweep: 2 jobs: 2 ok" in done.stderr
    assert_nothing_corrupt(sweep)
    return records(sweep)


@pytest.mark.slow
def test_submitit_local_sweep_matches_the_default_launcher(tmp_path, uninterrupted):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install '.[slurm]'")
    got = run_two_jobs(tmp_path, "submitit_local", "hydra.launcher.timeout_min=15")
    assert_same_records(got, {0: uninterrupted[0], 1: uninterrupted[3]})


@pytest.mark.slow
def test_ray_local_sweep_matches_the_default_launcher(tmp_path, uninterrupted):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="pip install '.[ray]'")
    got = run_two_jobs(tmp_path, "ray_local", "hydra.launcher.ray.init.num_cpus=2")
    assert_same_records(got, {0: uninterrupted[0], 1: uninterrupted[3]})
