"""Data symmetry: the lecture's A100 case (harness/experiments/data_symmetry*.yaml)."""

from __future__ import annotations

import numpy as np

from harness.analysis import style
from harness.analysis.collect import Collection
from harness.analysis.common import gate, held_equal, learning_curves, on_suite, point_summary, with_config
from harness.analysis.registry import Section, study
from harness.analysis.stats import gain_per_seed, paired, slopes, summarize
from harness.analysis.verdict import Criterion, fmt, verdicts

KEYS = ["data.tasks", "data.n_other", "data.n_target", "data.target"]
TREND = Criterion(
    "Data symmetry (lecture): a task with few labels gains most when the others have far more",
    "the target's gain rises with the others' / target's labels",
    "per-seed slope of the target's gain (test log loss) against log2(1 + ratio), fitted per K, all points",
    +1,
    0.005,
    "nats per doubling",
)
SYMMETRIC = Criterion(
    "Data symmetry: with equal labels per task, sharing helps each task",
    "mean per-task gain > 0 with equal labels per task",
    "paired difference over seeds: task-mean gain at n_other = n_target, averaged over K",
    +1,
    0.01,
)


@study("data_symmetry")
def analyse(c: Collection) -> Section:
    table = with_config(c, KEYS)
    suite, tag = on_suite(c)
    section = Section(
        c.name,
        f"Data symmetry: the lecture's A100 case{suite}",
        "Does a task with few labels gain most when the other tasks together have far more labels?",
    )
    kept, gate_note = gate(table, KEYS)
    section.notes.append(gate_note)
    target = {}
    for name, rows in (("all", table), ("kept", kept)):
        pairs = paired(rows, "test_bce", keys=KEYS)
        t = gain_per_seed(pairs[pairs["task"] == pairs["data.target"]], KEYS)
        t["ratio"] = (t["data.tasks"] - 1) * t["data.n_other"] / t["data.n_target"]
        target[name] = (pairs, t)
    target_sum = summarize(target["all"][1], ["data.tasks", "ratio"], value="gain")
    if target_sum["ratio"].nunique() >= 2:
        fig, axes = style.figure()
        ax = axes[0][0]
        ks = sorted(target_sum["data.tasks"].unique())
        for i, k in enumerate(ks):
            style.band(ax, target_sum[target_sum["data.tasks"] == k], "ratio", f"K = {k:g}", style.series(i, len(ks)))
        style.zero_line(ax)
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlim(left=-0.2)
        ax.set_xlabel("other tasks' labels / target task's labels (ratio, symlog)")
        ax.set_ylabel("target's gain: test log loss stl - mtl (nats)")
        ax.legend(fontsize=8)
        n_target = int(table["data.n_target"].iloc[0])
        section.plot(
            c.name,
            style.titled(fig, f"Target task's gain against the others' labels{suite}"),
            f"The target task has {n_target} labels; each of the other K - 1 tasks has n_other, so the ratio is "
            f"(K - 1) n_other / {n_target}. Paired gain per seed; positive = sharing helped. {held_equal(c)}",
        )
    tests = []
    pairs, t = target["kept"]
    if t["ratio"].nunique() >= 2:
        per_seed = slopes(t.assign(x=np.log2(1 + t["ratio"])), "x", by=["data.tasks"])
        tests.append((TREND, per_seed["slope"], "slope over every (K, n_other) point"))
    symmetric = pairs[(pairs["data.n_other"] == pairs["data.n_target"]) & (pairs["data.tasks"] >= 2)]
    sym = gain_per_seed(symmetric, ["data.tasks"])
    if not sym.empty:
        by_k = summarize(sym, ["data.tasks"], value="gain")
        detail = "; ".join(f"K={r['data.tasks']:g}: {fmt(r['mean'], r['low'], r['high'])}" for _, r in by_k.iterrows())
        tests.append((SYMMETRIC, sym.groupby("seed")["gain"].mean(), f"per K {detail}"))
    section.verdicts = [v.relabel(tag) for v in verdicts(tests)]
    curves = learning_curves(c, "data.n_other", f"Validation loss during training{suite}")
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            "Mean validation log loss over tasks per arm (95% CI over seeds), "
            "one panel per n_other; task counts averaged within a seed.",
        )
    summary = point_summary(table[table["task"] == table["data.target"]], KEYS)
    summary.insert(len(KEYS), "ratio", (summary["data.tasks"] - 1) * summary["data.n_other"] / summary["data.n_target"])
    section.summary = summary.drop(columns=["data.target"])
    section.notes.append(
        "Gain and Delta_m in the table are the target task's. At ratio 0 the other tasks have no labels, so the "
        "target's gain there is zero in expectation: it shows the noise between seeds alone."
    )
    return section
