"""Shared pieces of the end-to-end sweep tests: a tiny sweep, its command, and comparisons of its results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.results import RESULT_FILE

ROOT = Path(__file__).resolve().parent.parent
TINY = [
    "train.steps=20",
    "train.eval_every=10",
    "train.seeds=2",
    "model.width=8",
    "data.tasks=2",
    "data.dim=4",
    "data.pool=64",
    "data.n_per_task=32",
    "data.n_val=16",
    "data.n_test=32",
    "runtime.progress=false",
]


def records(sweep: Path) -> dict[int, list[dict]]:
    out = {}
    for path in sorted(sweep.glob(f"*/{RESULT_FILE}")):
        result = json.loads(path.read_text())
        assert result["status"] == "ok"
        out[int(path.parent.name)] = result["records"]
    return out


def assert_same_records(a: dict[int, list[dict]], b: dict[int, list[dict]]) -> None:
    assert a.keys() == b.keys()
    for job in a:
        assert len(a[job]) == len(b[job])
        for x, y in zip(a[job], b[job], strict=True):
            assert {k: x[k] for k in ("arm", "task", "network", "seed")} == {
                k: y[k] for k in ("arm", "task", "network", "seed")
            }
            for name in ("test_bce", "test_acc", "test_auroc", "val_bce"):
                assert x[name] == pytest.approx(y[name], rel=1e-4, abs=1e-5), (job, name)


def assert_nothing_corrupt(sweep: Path) -> None:
    import yaml

    assert not [p for p in sweep.rglob("*") if p.name.endswith(".tmp")]
    for path in sweep.rglob("*.json"):
        json.loads(path.read_text())
    for path in sweep.rglob("*.yaml"):
        yaml.safe_load(path.read_text())


# Six jobs that differ only in values: one compiled program for all of them.
SWEEP = ["-m", "data.relatedness=0.1,0.9", "train.lr=0.003,0.01,0.03", *TINY]


def cli_command(sweep: Path, cache: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "harness.run",
        *SWEEP,
        f"hydra.sweep.dir={sweep}",
        f"runtime.cache_dir={cache}",
        *extra,
    ]
