"""Any sweep or single run that is not a study: each arm per task, and the gain of sharing.

Answers "should my tasks share a network?" for a user's own table or an ad-hoc sweep:
per sweep point and task, every arm's test log loss and AUROC with 95% intervals (a
table and a figure), and the gain of sharing per task and over tasks, with a verdict per
point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis import style
from harness.analysis.collect import Collection
from harness.analysis.common import gate, held_equal, point_summary
from harness.analysis.markdown import escape
from harness.analysis.markdown import table as markdown_table
from harness.analysis.registry import Section
from harness.analysis.stats import gain_per_seed, paired, summarize
from harness.analysis.verdict import Criterion, fmt, verdicts

PANELS = 6  # sweep points drawn per figure; the tables hold every point
IGNORED = ("arms", "train.seed", "data.seed", "study")


def point_name(keys: list[str], values) -> str:
    values = values if isinstance(values, tuple) else (values,)
    return ", ".join(
        f"{k}={v:g}" if isinstance(v, int | float) else f"{k}={escape(v)}" for k, v in zip(keys, values, strict=True)
    )


def criterion(point: str) -> Criterion:
    return Criterion(
        f"Sharing beats separate networks{f' at {point}' if point else ''}",
        "the shared network's task-mean test log loss is lower",
        "paired difference over seeds: mtl vs stl, task mean",
        +1,
        0.01,
    )


def arm_table(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per point, task and arm: mean and 95% CI over seeds of test log loss and AUROC."""
    parts = []
    for metric in ("test_bce", "test_auroc"):
        rows = table[table["metric"] == metric]
        parts.append(summarize(rows, [*keys, "task", "task_name", "arm"]).assign(metric=metric))
    return pd.concat(parts, ignore_index=True)


def analyse_sweep(c: Collection) -> Section:
    keys = [k for k in c.swept if k not in IGNORED]
    table = c.table if keys else c.table.assign(point="all")
    keys = keys or ["point"]
    title = f"Sweep {c.name}" if c.name != "sweep" else f"Sweep {c.root.name}"
    section = Section(c.name, title, "Per task: does one shared network beat separate networks on this data?")
    arms = style.arms_in(table["arm"])
    values = arm_table(table, keys)
    points = values[keys].drop_duplicates().sort_values(keys).reset_index(drop=True)
    shown = points.iloc[np.linspace(0, len(points) - 1, min(PANELS, len(points))).round().astype(int)]
    fig, axes = style.figure(len(shown), 2, width=max(4.0, 0.5 * table["task"].nunique() * len(arms)), height=3.4)
    for col, (_, point) in enumerate(shown.iterrows()):
        at = values[np.logical_and.reduce([values[k] == point[k] for k in keys])]
        tasks = sorted(at["task"].unique())
        for row, metric in enumerate(("test_bce", "test_auroc")):
            ax = axes[row][col]
            for i, arm in enumerate(arms):
                part = at[(at["arm"] == arm) & (at["metric"] == metric)].set_index("task").reindex(tasks)
                x = np.arange(len(tasks)) + (i - (len(arms) - 1) / 2) * 0.8 / len(arms)
                err = [part["mean"] - part["low"], part["high"] - part["mean"]]
                s = style.arm_style(arm)
                ax.errorbar(x, part["mean"], yerr=err, fmt="o", capsize=3, color=s.color, label=s.label)
            names = at.drop_duplicates("task").set_index("task").reindex(tasks)["task_name"]
            ax.set_xticks(np.arange(len(tasks)), [str(n) for n in names], rotation=30, ha="right", fontsize=7)
            ax.set_ylabel(style.METRIC_LABEL[metric])
        if keys != ["point"]:
            axes[0][col].set_title(point_name(keys, tuple(point)), fontsize=8)
    axes[0][0].legend(fontsize=7)
    section.plot(
        c.name,
        style.titled(fig, "Each arm's test metrics per task"),
        f"Mean over seeds with 95% intervals, per task (columns: sweep points). {held_equal(c)}",
    )
    if not {"mtl", "stl"} <= set(arms):
        section.notes.append(f"No gain of sharing: the sweep trained arms {arms}, not both mtl and stl.")
    else:
        kept, gate_note = gate(table, keys)
        section.notes.append(gate_note)
        per_seed = gain_per_seed(paired(kept, "test_bce", keys=keys), keys)
        tests = [
            (criterion(point_name(keys, p) if keys != ["point"] else ""), part["gain"], "")
            for p, part in per_seed.groupby(keys, sort=True)
        ]
        section.verdicts = verdicts(tests)
        section.summary = point_summary(table, keys)
        by_task = summarize(paired(table, "test_bce", keys=keys), [*keys, "task"], value="gain")
        section.text = task_tables(values, by_task, keys, arms)
    return section


def task_tables(values: pd.DataFrame, by_task: pd.DataFrame, keys: list[str], arms: list[str]) -> str:
    lines = [
        "Per task: each arm's test log loss and AUROC (mean [95% CI] over seeds) and the gain of sharing "
        "(stl - mtl test log loss, positive = sharing helped).",
    ]
    header = ["point", "task", *(f"{a} {metric}" for a in arms for metric in ("log loss", "AUROC")), "gain of sharing"]
    rows = []
    cells = values.set_index([*keys, "task", "arm", "metric"])
    gains = by_task.set_index([*keys, "task"])
    for idx, name in values.drop_duplicates([*keys, "task"]).set_index([*keys, "task"])["task_name"].items():
        point = point_name(keys, idx[:-1]) if keys != ["point"] else "all"
        row = [point, escape(name)]
        for arm in arms:
            for metric in ("test_bce", "test_auroc"):
                key = (*idx, arm, metric)
                row.append(fmt(*cells.loc[key, ["mean", "low", "high"]], 4) if key in cells.index else "")
        g = gains.loc[idx] if idx in gains.index else None
        row.append(fmt(g["mean"], g["low"], g["high"], 4) if g is not None else "")
        rows.append(row)
    return "\n".join([*lines, "", markdown_table(header, rows)])
