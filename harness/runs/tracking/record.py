"""What a tracker is given: one job's result.json turned into plain params, metric series and tags.

Pure functions of the payload, so every backend logs the same names and values.
Metric names (characters outside letters, digits, `_ - . / space` become `_`):

- `train_loss/ARM`: the training loss at each evaluation, mean over seeds and networks;
- `val_bce/ARM/TASK`: the validation log loss at each evaluation, mean over seeds;
- `test_bce/ARM/TASK`, `test_auroc/ARM/TASK`, `test_acc/ARM/TASK`: the test metrics at the
  task's best validation step, mean over seeds; `mean_test_bce/ARM` etc.: mean over tasks too.

A task that an arm trains in several networks (`pairs`) gets `/netG` after its name.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

TEST_METRICS = ("test_bce", "test_auroc", "test_acc")
# The strictest param length among supported MLflow versions; longer values are cut.
MAX_PARAM_CHARS = 500


@dataclass
class JobRecord:
    name: str
    status: str  # the result's status: ok, diverged or failed
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # name -> (step, value)
    final: dict[str, float] = field(default_factory=dict)
    artifacts: list[Path] = field(default_factory=list)


def metric_name(*parts: str) -> str:
    return "/".join(re.sub(r"[^\w\-. ]", "_", str(part)) for part in parts)


def flatten(config: dict) -> dict[str, str]:
    """Nested config -> {"data.relatedness": "0.8", "arms": '["mtl", "stl"]', ...} (pandas' json_normalize)."""
    flat = pd.json_normalize(config, sep=".").to_dict("records")[0]
    return {key: (v if isinstance(v, str) else json.dumps(v))[:MAX_PARAM_CHARS] for key, v in flat.items()}


def head_names(result: dict, arm: str) -> dict[tuple[int, int], str]:
    """(network, head) -> the metric suffix of its task: the task name, plus /netG if repeated."""
    tasks = result.get("task_names") or []
    groups = result["arms"][arm]["groups"]
    counts: dict[int, int] = defaultdict(int)
    for group in groups:
        for task in group:
            counts[task] += 1
    names = {}
    for g, group in enumerate(groups):
        for h, task in enumerate(group):
            label = tasks[task] if task < len(tasks) else f"task{task}"
            names[g, h] = metric_name(label, f"net{g}") if counts[task] > 1 else metric_name(label)
    return names


def curve_series(result: dict) -> dict[str, list[tuple[int, float]]]:
    """Per arm the training loss and per task the validation log loss at every evaluation (mean over seeds)."""
    curves = result.get("curves") or {}
    steps = curves.get("steps") or []
    series: dict[str, list[tuple[int, float]]] = {}
    for arm, arm_curves in curves.items():
        if arm == "steps" or arm not in (result.get("arms") or {}):
            continue
        if "train_loss" in arm_curves:  # [S][E][G]
            loss = np.asarray(arm_curves["train_loss"], dtype=float).mean(axis=(0, 2))
            series[metric_name("train_loss", arm)] = _finite(steps, loss)
        if "val_bce" in arm_curves:  # [S][E][G][H]
            val = np.asarray(arm_curves["val_bce"], dtype=float).mean(axis=0)
            for (g, h), task in head_names(result, arm).items():
                series[f"{metric_name('val_bce', arm)}/{task}"] = _finite(steps, val[:, g, h])
    return series


def _finite(steps: list[int], values: np.ndarray) -> list[tuple[int, float]]:
    return [(int(s), float(v)) for s, v in zip(steps, values, strict=True) if math.isfinite(v)]


def final_metrics(result: dict) -> dict[str, float]:
    """Test metrics at each task's best validation step, mean over seeds, per arm and task and per arm."""
    by_task: dict[str, list[float]] = defaultdict(list)
    by_arm: dict[str, list[float]] = defaultdict(list)
    names = {arm: head_names(result, arm) for arm in result.get("arms") or {}}
    for row in result.get("records") or []:
        arm = row["arm"]
        group = result["arms"][arm]["groups"][row["network"]]
        task = names[arm][row["network"], group.index(row["task"])]
        for metric in TEST_METRICS:
            by_task[f"{metric_name(metric, arm)}/{task}"].append(row[metric])
            by_arm[metric_name(f"mean_{metric}", arm)].append(row[metric])
    means = {name: float(np.mean(values)) for name, values in {**by_task, **by_arm}.items()}
    return {name: value for name, value in means.items() if math.isfinite(value)}


def job_record(result: dict, result_path: Path, name: str) -> JobRecord:
    environment = result.get("environment") or {}
    tags = {
        "harness.status": str(result.get("status")),
        "harness.config_hash": str(result.get("config_hash")),
        "harness.overrides": " ".join(result.get("overrides") or [])[:MAX_PARAM_CHARS],
        "harness.job_dir": str(result_path.parent),
        "harness.version": str(environment.get("harness")),
        "harness.commit": str(environment.get("commit")),
    }
    if result.get("error"):
        tags["harness.error"] = str(result["error"])[:MAX_PARAM_CHARS]
    return JobRecord(
        name=name,
        status=str(result.get("status")),
        params=flatten(result.get("config") or {}),
        tags=tags,
        series=curve_series(result),
        final=final_metrics(result),
        artifacts=[result_path],
    )
