"""Constructed result.json payloads for the analysis tests: fast, deterministic, no training.

`payloads(name)` composes experiment NAME, expands its sweep as the basic sweeper does
and returns one ok payload per job, with records, learning curves and (when the
experiment measures it) an affinity matrix, so every study's analysis runs on it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sweeps import job_runs

from harness.arms import make_arm
from harness.config import RunConfig, to_dict

REFERENCES = {"constant_bce": 0.69, "bayes_bce": 0.3, "bayes_auroc": 0.95}


def payload(run: RunConfig, job: int = 0, references: bool = False, learned: float = 0.8) -> dict:
    """An ok payload for `run`: arm a's loss on task t is 0.5 + 0.01 t + noise, mtl a little lower."""
    rng = np.random.default_rng(job)
    k, seeds = run.data.tasks, run.train.seeds
    evals = list(range(run.train.eval_every, run.train.steps + 1, run.train.eval_every))
    records, curves, arms = [], {"steps": evals}, {}
    planted = tuple(tuple(t for t in range(k) if t % run.data.task_groups == g) for g in range(run.data.task_groups))
    for a, name in enumerate(run.arms):
        spec = make_arm(name, k, 8, run.data.target, partition=planted if name == "groups" else None)
        groups = [list(g) for g in spec.groups]
        reported = [[groups[0][0]]] if spec.target_only else groups
        arms[name] = {"networks": spec.networks, "heads": spec.heads, "groups": groups, "width": run.model.width,
                      "params_per_network": 100}  # fmt: skip
        for s in range(seeds):
            for g, heads in enumerate(reported):
                for t in (t for t in heads if t >= 0):  # not the padding heads of unequal groups
                    loss = 0.5 + 0.01 * t - 0.02 * (name == "mtl") + 0.001 * a + 0.01 * rng.standard_normal()
                    rec = {"arm": name, "task": t, "network": g, "seed": s, "test_bce": loss, "test_acc": 0.7,
                           "test_auroc": 1.2 - loss, "val_bce": loss, "best_step": evals[-1]}  # fmt: skip
                    if references:
                        rec |= {**REFERENCES, "learned_bce": learned, "learned_auroc": learned, "lr": 1e-3}
                    records.append(rec)
        val = 0.7 - 0.1 * np.linspace(0, 1, len(evals))[None, :, None, None] + np.zeros((seeds, 1, *np.shape(groups)))
        curves[name] = {"val_bce": val.tolist(), "train_loss": val[..., 0].tolist()}
    out = {
        "schema_version": 2 if references else 1,
        "status": "ok",
        "error": None,
        "created": "2026-01-01T00:00:00+00:00",
        "config": to_dict(run),
        "overrides": [],
        "task_names": [f"task{t}" for t in range(k)],
        "arms": arms,
        "records": records,
        "diverged": [],
        "curves": curves,
        "affinity": None,
        "timing": {"compile_seconds": 1.0, "train_seconds": 1.0},
        "environment": {"platform": "cpu", "device": "cpu", "cpu_count": 2, "jax": "0"},
    }
    if "groups" in run.arms:  # every seed's search found the planted groups
        out["grouping"] = {"per_seed": [[list(g) for g in planted]] * seeds}
    if run.train.affinity_every:
        z = 1e-3 * rng.standard_normal((seeds, k, k))
        out["affinity"] = {"arm": "mtl", "every": run.train.affinity_every, "matrix": z.tolist()}
    return out


def write_sweep(folder: Path, experiment: str, **kwargs) -> Path:
    """A sweep folder holding one constructed result.json per job of experiment NAME."""
    for job, run in enumerate(job_runs(experiment)):
        result = payload(run, job, **kwargs)
        result["overrides"] = [f"experiment={experiment}"]
        write(folder, job, result)
    return folder


def write(folder: Path, job: int, content: dict | str) -> Path:
    path = Path(folder) / str(job) / "result.json"
    (path.parent / ".hydra").mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path
