"""The command line, as a user types it: subprocesses of `python -m harness.run`."""

import json
import subprocess
import sys

import numpy as np
import pytest
from sweeps import ROOT, TINY

pytestmark = pytest.mark.slow


def harness(*args, cache):
    flags = [a for a in args if a.startswith("-")]  # Hydra wants flags before overrides
    overrides = [a for a in args if not a.startswith("-")]
    return subprocess.run(
        [sys.executable, "-m", "harness.run", *flags, *TINY, f"runtime.cache_dir={cache}", *overrides],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_single_run_writes_a_result(tmp_path):
    out = tmp_path / "run"
    proc = harness(f"hydra.run.dir={out}", cache=tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "ok"
    assert {r["arm"] for r in result["records"]} == {"mtl", "stl"}
    assert len(result["records"]) == 2 * 2 * 2  # arms x tasks x seeds
    assert not list(out.glob(".result.json.*.tmp"))
    printed = proc.stdout.strip().splitlines()[-2:]  # where it wrote, then each arm and the gain
    assert printed[0] == f"ok: {out / 'result.json'}"
    loss = {a: np.mean([r["test_bce"] for r in result["records"] if r["arm"] == a]) for a in ("mtl", "stl")}
    assert printed[1].startswith(f"test log loss (task mean, 2 seeds): mtl {loss['mtl']:.4f}, stl {loss['stl']:.4f}; ")
    assert f"gain of sharing (stl - mtl) {loss['stl'] - loss['mtl']:+.4f} [" in printed[1]


def test_multirun_writes_one_result_per_job(tmp_path):
    sweep = tmp_path / "sweep"
    proc = harness("-m", "data.relatedness=0,1", f"hydra.sweep.dir={sweep}", cache=tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    results = [json.loads((sweep / str(i) / "result.json").read_text()) for i in range(2)]
    assert [r["config"]["data"]["relatedness"] for r in results] == [0.0, 1.0]
    assert results[0]["records"] != results[1]["records"]


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model.widht=3", "model.widht"),
        ("model.width=-1", "model.width"),
        ("data.tasks=0", "data.tasks"),
        ("data.n_target=5000", "data.n_target"),
        ("data.missing=1.5", "data.missing"),
        ("arms=[mtl,bogus]", "arms"),
        ("model.width=abc", "model.width"),
        ("model.width=99999999999999999999", "model.width=99999999999999999999 is not accepted"),
        ("data.seed=-1", "data.seed=-1 is not accepted"),
        ("train.lr=inf", "train.lr=inf is not accepted"),
        ("data.noise=inf", "data.noise=inf is not accepted"),
        ("train.lr='${nope}'", "train.lr: Interpolation key 'nope' not found"),
    ],
)
def test_bad_input_one_line_error_and_no_result(tmp_path, override, key):
    out = tmp_path / "run"
    proc = harness(override, f"hydra.run.dir={out}", cache=tmp_path / "cache")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and key in lines[0], proc.stderr
    assert not out.exists()


def test_impossible_sweep_fails_before_any_job_runs(tmp_path):
    sweep = tmp_path / "sweep"
    proc = harness("-m", "model.width=4,-2", f"hydra.sweep.dir={sweep}", cache=tmp_path / "cache")
    assert proc.returncode == 2
    assert "model.width=-2" in proc.stderr.strip().splitlines()[-1]
    assert not sweep.exists()
