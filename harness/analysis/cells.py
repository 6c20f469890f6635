"""Help/hurt maps: one paired t test per cell of a sweep grid, Holm-corrected across the map.

A cell is marked (sharing helps / hurts) only when its test on the per-seed task-mean gain
survives Holm's correction across every cell of the map that passed the learnability gate;
a cell the gate excluded keeps its mean for the table and is never tested.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.analysis import markdown, style
from harness.analysis.stats import gain_per_seed, holm, paired, t_test
from harness.analysis.verdict import fmt

OUTCOME = {"helps": "sharing helps", "hurts": "sharing hurts", "": "no detectable difference"}


def cell_tests(table: pd.DataFrame, kept: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per cell of `keys`: the per-seed task-mean gain's t test, and its mark after Holm across the cells.

    `kept` holds the rows that passed the learnability gate; a cell absent from it is
    `excluded`. Columns: keys, mean, low, high (95% t interval), n (seeds), p, excluded,
    mark ("helps", "hurts" or "").
    """
    gain = gain_per_seed(paired(table, "test_bce", keys=keys), keys)
    passed = set(kept[keys].drop_duplicates().itertuples(index=False, name=None))
    rows = []
    for key, part in gain.groupby(keys, sort=True):
        t, excluded = t_test(part["gain"]), key not in passed
        rows.append(
            {**dict(zip(keys, key, strict=True)), "mean": t.mean, "low": t.low, "high": t.high, "n": t.n}
            | {"p": math.nan if excluded else t.p, "excluded": excluded}
        )
    cells = pd.DataFrame(rows, columns=[*keys, "mean", "low", "high", "n", "p", "excluded"])
    reject = holm(cells["p"].tolist())  # cells without a p (excluded, or one seed) are not counted
    side = np.where(cells["low"] > 0, "helps", np.where(cells["high"] < 0, "hurts", ""))
    cells["mark"] = np.where(reject, side, "")
    return cells


def tested(cells: pd.DataFrame) -> int:
    """How many cells Holm's correction ran over (those with a p value)."""
    return int(np.isfinite(cells["p"].to_numpy(float)).sum())


def cell_table(cells: pd.DataFrame, columns: dict[str, str]) -> str:
    """Markdown: every cell's gain with its 95% interval, p and the outcome after Holm across the map.

    `columns` maps each key of the cells to its column header, in the order shown.
    """
    lines = [
        f"Every cell of the map: paired t test on the per-seed task-mean gain (test log loss), Holm's correction "
        f"over the {tested(cells)} cells that passed the learnability gate.",
        "",
    ]
    rows = []
    for _, r in cells.iterrows():
        p = "-" if not np.isfinite(r["p"]) else f"{r['p']:.2g}"
        outcome = "excluded by the gate" if r["excluded"] else OUTCOME[r["mark"]]
        rows.append([*(f"{r[k]:g}" for k in columns), fmt(r["mean"], r["low"], r["high"], 4), r["n"], p, outcome])
    header = [*columns.values(), "gain, nats (95% CI)", "seeds", "p", "outcome after Holm"]
    return "\n".join([*lines, markdown.table(header, rows)])


def colour_limit(cells: pd.DataFrame) -> float:
    """The colour scale's half-range: the largest |mean| over the tested cells (never 0)."""
    shown = cells.loc[~cells["excluded"], "mean"].abs()
    return max(float(shown.max()) if shown.notna().any() else 0.0, 1e-6)


def map_figure(cells: pd.DataFrame, x: str, y: str, panel: str | None, labels: tuple[str, str, str], title: str):
    """The map drawn as heat maps of x against y, one panel per value of `panel` (one panel: None).

    `labels`: the x axis, the y axis and the panel key's name. Each panel carries the boundary
    where the mean gain crosses 0 (style.heatmap).
    """
    xlabel, ylabel, panel_name = labels
    values = sorted(cells[panel].unique()) if panel else [None]
    fig, axes = style.figure(len(values), width=4.4, height=4.0)
    limit, image = colour_limit(cells), None
    for ax, v in zip(axes[0], values, strict=True):
        image = style.heatmap(ax, cells if v is None else cells[cells[panel] == v], x, y, limit, xlabel, ylabel)
        if v is not None:
            ax.set_title(f"{panel_name} = {v:g}")
    fig.colorbar(image, ax=list(axes[0]), label="gain: test log loss stl - mtl (nats)", shrink=0.9)
    return style.titled(fig, title)


def map_caption(cells: pd.DataFrame) -> str:
    """What a map figure's colours, marks, hatching and line mean."""
    return (
        "Each cell: mean over seeds of the task-averaged paired gain in test log loss (positive, blue = sharing "
        f"helped). Marks are Holm-corrected over the {tested(cells)} cells that passed the learnability gate: a "
        "bold + in a solid box, sharing helps; a bold minus in a dashed box, sharing hurts (the cell's paired t "
        "test over seeds survives Holm's correction across the whole map; unmarked: no detectable difference). "
        "The black line is the boundary where the mean gain crosses 0, interpolated between cell centres. Hatched "
        "grey cells marked 'gate' were excluded by the learnability gate and are not tested."
    )
