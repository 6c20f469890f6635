"""Where sharing helps and where it hurts (experiments/help_hurt_map.yaml).

Primary tests (the verdicts): the per-seed slopes of the task-mean gain against
log2(labels per task) and against rho, over every cell (FEW, RELATED; Holm across the
two). The map itself: every cell (width, labels per task, rho) that passes the
learnability gate gets the paired t test on its per-seed task-mean gain (the verdicts'
`t_test`), with Holm's correction across all of the map's tested cells together; a cell
is marked (sharing helps / hurts) only when its test survives that correction.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.analysis import style
from harness.analysis.collect import Collection
from harness.analysis.common import gate, held_equal, learning_curves, point_summary, with_config
from harness.analysis.registry import Section, study
from harness.analysis.stats import gain_per_seed, holm, paired, slopes, t_test
from harness.analysis.verdict import Criterion, fmt, verdicts

KEYS = ["model.width", "data.n_per_task", "data.relatedness"]
FEW = Criterion(
    "Help/hurt map: sharing helps most with few labels per task",
    "the gain falls as labels per task grow",
    "per-seed slope of the task-mean gain (test log loss) against log2(labels per task), every cell",
    -1,
    0.005,
    "nats per doubling",
)
RELATED = Criterion(
    "Help/hurt map: sharing helps most when the tasks are related",
    "the gain rises with rho",
    "per-seed slope of the task-mean gain (test log loss) against rho, every cell",
    +1,
    0.01,
    "nats per unit rho",
)
PANELS = (
    ("data.n_per_task", "data.relatedness", "labels per task", "rho"),
    ("data.relatedness", "data.n_per_task", "relatedness rho", "labels per task"),
)


OUTCOME = {"helps": "sharing helps", "hurts": "sharing hurts", "": "no detectable difference"}


def cell_tests(table: pd.DataFrame, kept: pd.DataFrame) -> pd.DataFrame:
    """Per cell of KEYS: the per-seed task-mean gain's t test, and its mark after Holm across the cells.

    `kept` holds the rows that passed the learnability gate; a cell absent from it is
    `excluded` (its mean is kept for the table, it is never tested). Columns: KEYS, mean,
    low, high (95% t interval), p, n (seeds), excluded, mark ("helps", "hurts" or "").
    """
    gain = gain_per_seed(paired(table, "test_bce", keys=KEYS), KEYS)
    passed = set(kept[KEYS].drop_duplicates().itertuples(index=False, name=None))
    rows = []
    for key, part in gain.groupby(KEYS, sort=True):
        t, excluded = t_test(part["gain"]), key not in passed
        rows.append(
            {**dict(zip(KEYS, key, strict=True)), "mean": t.mean, "low": t.low, "high": t.high, "n": t.n}
            | {"p": math.nan if excluded else t.p, "excluded": excluded}
        )
    cells = pd.DataFrame(rows, columns=[*KEYS, "mean", "low", "high", "n", "p", "excluded"])
    reject = holm(cells["p"].tolist())  # cells without a p (excluded, or one seed) are not counted
    side = np.where(cells["low"] > 0, "helps", np.where(cells["high"] < 0, "hurts", ""))
    cells["mark"] = np.where(reject, side, "")
    return cells


def tested(cells: pd.DataFrame) -> int:
    """How many cells Holm's correction ran over (those with a p value)."""
    return int(np.isfinite(cells["p"].to_numpy(float)).sum())


def cell_table(cells: pd.DataFrame) -> str:
    """Markdown: every cell's gain with its 95% interval, p and the outcome after Holm across the map."""
    lines = [
        f"Every cell of the map: paired t test on the per-seed task-mean gain (test log loss), Holm's correction "
        f"over the {tested(cells)} cells that passed the learnability gate.",
        "",
        "| width | labels per task | rho | gain, nats (95% CI) | seeds | p | outcome after Holm |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for _, r in cells.iterrows():
        p = "-" if not np.isfinite(r["p"]) else f"{r['p']:.2g}"
        outcome = "excluded by the gate" if r["excluded"] else OUTCOME[r["mark"]]
        lines.append(
            f"| {r['model.width']:g} | {r['data.n_per_task']:g} | {r['data.relatedness']:g} | "
            f"{fmt(r['mean'], r['low'], r['high'], 4)} | {r['n']} | {p} | {outcome} |"
        )
    return "\n".join(lines)


@study("help_hurt_map")
def analyse(c: Collection) -> Section:
    table = with_config(c, KEYS)
    section = Section(
        c.name,
        "Where sharing helps and where it hurts",
        "Over width, labels per task and relatedness, where is the gain of sharing positive, and where negative?",
    )
    kept, gate_note = gate(table, KEYS)
    section.notes.append(gate_note)
    cells = cell_tests(table, kept)
    shown = cells.loc[~cells["excluded"], "mean"].abs()
    limit = max(float(shown.max()) if shown.notna().any() else 0.0, 1e-6)
    for i, (y, panel, ylabel, panel_name) in enumerate(PANELS):
        values = sorted(cells[panel].unique())
        fig, axes = style.figure(len(values), width=4.4, height=4.0)
        image = None
        for ax, v in zip(axes[0], values, strict=True):
            image = style.heatmap(ax, cells[cells[panel] == v], "model.width", y, limit, "hidden width (units)", ylabel)
            ax.set_title(f"{panel_name} = {v:g}")
        fig.colorbar(image, ax=list(axes[0]), label="gain: test log loss stl - mtl (nats)", shrink=0.9)
        section.plot(
            f"{c.name}{'' if i == 0 else '_rho'}",
            style.titled(fig, f"Gain of sharing over width x {ylabel} (blue: sharing helps, red: hurts)"),
            "Each cell: mean over seeds of the task-averaged paired gain in test log loss (positive, blue = sharing "
            "helped). Marks are Holm-corrected over the "
            f"{tested(cells)} cells that passed the learnability gate: a bold + in a solid box, sharing helps; a "
            "bold minus in a dashed box, sharing hurts (the cell's paired t test over seeds survives Holm's "
            "correction across the whole map; unmarked: no detectable difference). Hatched grey cells marked "
            f"'gate' were excluded by the learnability gate and are not tested. {held_equal(c)}",
        )
    gain = gain_per_seed(paired(kept, "test_bce", keys=KEYS), KEYS)
    tests = []
    if gain["data.n_per_task"].nunique() >= 2:
        per_seed = slopes(gain.assign(x=np.log2(gain["data.n_per_task"])), "x", by=["model.width", "data.relatedness"])
        tests.append((FEW, per_seed["slope"], "fitted per (width, rho) line"))
    if gain["data.relatedness"].nunique() >= 2:
        per_seed = slopes(gain, "data.relatedness", by=["model.width", "data.n_per_task"])
        tests.append((RELATED, per_seed["slope"], "fitted per (width, labels) line"))
    section.verdicts = verdicts(tests)
    curves = learning_curves(c, "data.n_per_task", "Validation loss during training")
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            "Mean validation log loss over tasks per arm (95% CI over seeds), "
            "one panel per labels per task; widths and rho averaged within a seed.",
        )
    section.text = cell_table(cells)
    section.summary = point_summary(table, KEYS)
    return section
