"""Study "grouping" (harness/experiments/grouping.yaml): its statistics, as pure functions of a tidy table.

Two questions, fixed before any run:

1. Recovery: does the grouping search find the planted groups? Per seed, the partition
   that seed's signal alone chooses is compared with the planted one by the adjusted Rand
   index (ARI; 1 = the same partition, about 0 = chance); mean and 95% t interval over
   seeds, per sweep point. The partition the groups arm trains (all seeds' signal) is
   reported beside it.
2. Does the grouped network beat one all-task network (mtl) and all-separate networks
   (stl) where groups are planted (data.task_groups > 1), and tie with the better of them
   where they are not (task_groups = 1: the search should then fall back to one of them)?
   Primary test: the paired per-seed gain of groups over each alternative in test log
   loss averaged over tasks, 95% t interval over seeds. "Beats": both intervals are
   above 0. "Ties": the interval against the alternative with the lower mean loss lies
   within [-DELTA, +DELTA].

The table is the collected long table (harness/collect.py: one row per job, arm, task,
seed, metric, value) with the columns data.tasks and data.task_groups on every row, plus
the rows `search_rows` makes from each result.json (metric "group": the group index of a
task in a partition).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sklearn.metrics import adjusted_rand_score

from harness.analysis.stats import gain_per_seed, paired, summarize

DELTA = 0.01  # nats of test log loss: a smaller gain either way is a tie
POINT_KEYS = ("data.task_groups", "data.relatedness", "data.relatedness_between", "train.grouping_signal")
ALTERNATIVES = ("mtl", "stl")


def planted_partition(tasks: int, task_groups: int) -> list[int]:
    """The planted group of each task, as the synthetic generator plants it: task k in group k mod G
    (so a task's group does not change with K; docs/task-families.md)."""
    return [k % task_groups for k in range(tasks)]


def search_rows(result: dict, job: str) -> list[dict]:
    """Rows (metric "group") of one result.json: arm "search" per seed, arm "groups" the trained partition."""
    rows = []
    grouping = result.get("grouping") or {}
    for seed, partition in enumerate(grouping.get("per_seed", [])):
        for g, group in enumerate(partition):
            rows += [
                {"job": job, "arm": "search", "task": k, "seed": seed, "metric": "group", "value": g} for k in group
            ]
    trained = (result.get("arms") or {}).get("groups", {}).get("groups", [])
    for g, group in enumerate(trained):
        rows += [{"job": job, "arm": "groups", "task": k, "seed": -1, "metric": "group", "value": g} for k in group]
    return rows


@dataclass
class GroupingStats:
    recovery: pd.DataFrame  # per point: ARI of the per-seed searches (mean, low, high, n) and of the trained partition
    gains: pd.DataFrame  # per point and alternative: gain of groups in test log loss (mean, low, high, n)
    verdicts: pd.DataFrame  # per point: planted groups?, claim, verdict (yes | no | unclear)


def _ari(rows: pd.DataFrame) -> float:
    rows = rows.sort_values("task")
    tasks, planted = int(rows["data.tasks"].iloc[0]), int(rows["data.task_groups"].iloc[0])
    return float(adjusted_rand_score(planted_partition(tasks, planted), rows["value"].astype(int).to_numpy()))


def _keys(table: pd.DataFrame) -> list[str]:
    return [k for k in POINT_KEYS if k in table.columns]


def recovery(table: pd.DataFrame) -> pd.DataFrame:
    keys = _keys(table)
    groups = table[table["metric"] == "group"]
    per_seed = [
        {**dict(zip([*keys, "job", "seed"], key, strict=True)), "value": _ari(rows)}
        for key, rows in groups[groups["arm"] == "search"].groupby([*keys, "job", "seed"])
    ]
    out = summarize(pd.DataFrame(per_seed, columns=[*keys, "job", "seed", "value"]), keys)
    trained = [
        {**dict(zip([*keys, "job"], key, strict=True)), "trained_ari": _ari(rows)}
        for key, rows in groups[groups["arm"] == "groups"].groupby([*keys, "job"])
    ]
    trained = (
        pd.DataFrame(trained, columns=[*keys, "job", "trained_ari"])
        .groupby(keys, as_index=False)
        .mean(numeric_only=True)
    )
    return out.merge(trained, on=keys, how="left")


def gains(table: pd.DataFrame, alternatives: Sequence[str] = ALTERNATIVES) -> pd.DataFrame:
    keys = _keys(table)
    parts = []
    for other in alternatives:
        pairs = paired(table, "test_bce", shared="groups", separate=other, keys=keys)
        summary = summarize(gain_per_seed(pairs, keys), keys, value="gain")
        parts.append(summary.assign(alternative=other))
    return pd.concat(parts, ignore_index=True)


def verdict(rows: pd.DataFrame, planted: bool, delta: float = DELTA) -> str:
    """yes | no | unclear for one point's gains over the alternatives (see the module docstring)."""
    if planted:
        if (rows["low"] > 0).all():
            return "yes"
        return "no" if (rows["high"] < 0).any() else "unclear"
    best = rows.loc[rows["mean"].idxmin()]  # the better alternative: groups gains least over it
    if best["low"] >= -delta and best["high"] <= delta:
        return "yes"
    return "no" if best["low"] > delta or best["high"] < -delta else "unclear"


def analyse(table: pd.DataFrame, delta: float = DELTA) -> GroupingStats:
    rec, gain = recovery(table), gains(table)
    keys = _keys(table)
    rows = []
    for key, point in gain.groupby(keys):
        point_keys = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        planted = int(point_keys["data.task_groups"]) > 1
        claim = "groups beats mtl and stl" if planted else f"groups ties the better of mtl and stl within {delta}"
        rows.append({**point_keys, "planted": planted, "claim": claim, "verdict": verdict(point, planted, delta)})
    return GroupingStats(rec, gain, pd.DataFrame(rows))
