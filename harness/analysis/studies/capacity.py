"""Capacity: Caruana's size criterion (experiments/capacity*.yaml)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis import style
from harness.analysis.collect import Collection
from harness.analysis.common import gate, held_equal, learning_curves, on_suite, point_summary, references, with_config
from harness.analysis.registry import Section, study
from harness.analysis.stats import gain_per_seed, paired, slopes, summarize
from harness.analysis.verdict import Criterion, untested, verdicts

KEYS = ["data.tasks", "model.width"]
TREND = Criterion(
    "Capacity (Caruana 1997): sharing hurts only when the shared network is too small",
    "the gain of sharing rises with width (< 0 when narrow, >= 0 when wide)",
    "per-seed slope of the task-mean gain (test log loss) against log2 width, fitted per K, all points",
    +1,
    0.005,
    "nats per doubling",
)
GROWS = Criterion(
    "Capacity: the width the shared network needs grows with K",
    "at the smallest width, more tasks lose more from sharing",
    "paired difference over seeds: gain at the smallest width, largest K minus smallest K",
    -1,
    0.01,
)
EQUAL = Criterion(
    "Capacity: a shared network as large as all separate ones together still wins",
    "gain > 0 at equal total parameter count",
    "paired difference over seeds: mtl_equal_params vs stl, task mean, averaged over all points",
    +1,
    0.01,
)


def _gains(table: pd.DataFrame, metric: str, shared: str) -> pd.DataFrame:
    return gain_per_seed(paired(table, metric, shared, "stl", KEYS), KEYS)


def _tests(table: pd.DataFrame, shared: list[str]) -> list:
    gain = _gains(table, "test_bce", "mtl")
    tests = []
    if gain["model.width"].nunique() >= 2:
        per_seed = slopes(gain.assign(x=np.log2(gain["model.width"])), "x", by=["data.tasks"])
        tests.append((TREND, per_seed["slope"], "slope over every (K, width) point"))
    ks = sorted(gain["data.tasks"].unique())
    if len(ks) >= 2:
        narrow = gain[gain["model.width"] == gain["model.width"].min()].pivot(index="seed", columns="data.tasks")
        diff = (narrow["gain"][ks[-1]] - narrow["gain"][ks[0]]).dropna()
        tests.append((GROWS, diff, f"K={ks[-1]} minus K={ks[0]} at width {gain['model.width'].min():g}"))
    if "mtl_equal_params" in shared:
        equal = _gains(table, "test_bce", "mtl_equal_params").groupby("seed")["gain"].mean()
        tests.append((EQUAL, equal, "mean over every (K, width) point"))
    return tests


def caruana_table(table: pd.DataFrame) -> str:
    """Caruana's Table 1 layout: separate networks at each width against the shared network.

    Mean per-task test log loss over seeds; the shared network (mtl) is taken at the largest
    width, and compared with the best and the mean of the separate networks over widths.
    """
    rows = table[table["metric"] == "test_bce"]
    loss = rows.groupby(["data.tasks", "model.width", "arm"])["value"].mean().unstack("arm")
    widths = sorted(rows["model.width"].unique())
    lines = [
        "| K | " + " | ".join(f"stl w={w:g}" for w in widths) + " | mtl w=" + f"{widths[-1]:g}"
        + " | mtl vs best stl | mtl vs mean stl |",
        "|" + " --- |" * (len(widths) + 4),
    ]  # fmt: skip
    for k, part in loss.groupby(level=0):
        part = part.droplevel(0)
        stl = part["stl"].reindex(widths)
        mtl = part["mtl"].get(widths[-1], np.nan)
        best, mean = stl.min(), stl.mean()
        cells = [f"{v:.4f}" for v in stl] + [f"{mtl:.4f}", f"{(best - mtl) / best:+.1%}", f"{(mean - mtl) / mean:+.1%}"]
        lines.append(f"| {k:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@study("capacity")
def analyse(c: Collection) -> Section:
    table = with_config(c, KEYS)
    suite, tag = on_suite(c)
    section = Section(
        c.name,
        f"Capacity: Caruana's size criterion{suite}",
        "Does sharing hurt only when the shared network is too small, and does the width it needs grow with K?",
    )
    shared = [a for a in style.arms_in(table["arm"]) if a in ("mtl", "mtl_equal_params")]
    ks, widths = sorted(table["data.tasks"].unique()), sorted(table["model.width"].unique())
    cnn = c.jobs.iloc[0].get("model.kind") == "cnn"
    width_label = "channels per layer per network" if cnn else "hidden width per network (units)"
    if len(widths) >= 2:
        fig, axes = style.figure(len(ks), 3)
        for col, k in enumerate(ks):
            at_k = table[table["data.tasks"] == k]
            for row, metric in enumerate(("test_bce", "test_auroc")):
                ax = axes[row][col]
                for arm in shared:
                    g = summarize(_gains(at_k, metric, arm), ["model.width"], value="gain")
                    style.arm_band(ax, g, "model.width", arm)
                style.zero_line(ax)
                ax.set_ylabel(("test log loss stl - shared" if row == 0 else "test AUROC shared - stl") + " (gain)")
            ax = axes[2][col]
            losses = at_k[at_k["metric"] == "test_bce"].groupby(["model.width", "arm", "seed"], as_index=False)
            summary = summarize(losses["value"].mean(), ["model.width", "arm"])
            for arm in style.arms_in(summary["arm"]):
                style.arm_band(ax, summary[summary["arm"] == arm], "model.width", arm)
            style.reference_lines(ax, references(at_k))
            ax.set_ylabel("mean per-task test log loss (nats)")
            for row in range(3):
                style.log2_axis(axes[row][col], widths)
                axes[row][col].set_xlabel(width_label)
            axes[0][col].set_title(f"K = {k:g} tasks")
        axes[0][0].legend(fontsize=7)
        axes[2][0].legend(fontsize=7)
        section.plot(
            c.name,
            style.titled(fig, f"Gain of sharing against width{suite}"),
            "Top two rows: paired gain of each shared arm over the separate networks (positive = sharing helped), "
            "task mean per seed, against the width of each network; one column per task count K. The "
            "equal-parameter shared network (dashed) is widened to the K separate networks' total parameter "
            f"count. Bottom: each arm's mean test log loss, with the constant predictor and the Bayes optimum "
            f"where the suite knows them. {held_equal(c)}",
        )
    kept, gate_note = gate(table, KEYS)
    section.notes.append(gate_note)
    tests = _tests(kept, shared)
    section.verdicts = verdicts(tests) if tests else [untested(TREND, "fewer than two widths passed the gate")]
    curves = learning_curves(c, "model.width", f"Validation loss during training{suite}")
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            "Mean validation log loss over tasks per arm (95% CI over seeds), "
            "one panel per width; task counts averaged within a seed.",
        )
    section.summary = point_summary(table, KEYS)
    section.text = (
        "Caruana 1997, Table 1 layout (1D-ALVINN: one shared net 16% below the best separate net's error and "
        "28% below their mean; here mean per-task test log loss, mtl at the largest width):\n\n" + caruana_table(table)
    )
    section.notes.append(
        "Standley et al. 2020 found one shared network best only at the smallest budget; compare the sign of the "
        "gain at the smallest widths above."
    )
    if tag:
        section.verdicts = [v.relabel(tag) for v in section.verdicts]
    return section
