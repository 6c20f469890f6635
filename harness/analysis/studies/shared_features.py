"""Shared features: the lecture's first condition as a knob (experiments/shared_features.yaml).

Primary tests at the largest task count swept; the sanity row at K = 1, where the shared
network is a separate network and any gain is the protocol's.
"""

from __future__ import annotations

from harness.analysis import style
from harness.analysis.collect import Collection
from harness.analysis.common import gate, held_equal, learning_curves, point_summary, with_config
from harness.analysis.registry import Section, study
from harness.analysis.stats import gain_per_seed, gain_summary, paired, slopes
from harness.analysis.verdict import Criterion, verdicts

FRACTION = "data.shared_fraction"
KEYS = [FRACTION, "data.tasks"]
TREND = Criterion(
    "Shared features (lecture): the gain of sharing grows with the share of features the tasks share",
    "the gain rises with the shared fraction f",
    "per-seed slope of the task-mean gain (test log loss) against f, at the largest K",
    +1,
    0.01,
    "nats per unit f",
)
SHARED = Criterion(
    "Shared features: tasks that share their features (f = 1) gain from one network",
    "gain > 0 at f = 1",
    "paired difference over seeds: task-mean gain at the largest f, largest K",
    +1,
    0.01,
)
CONTROL = Criterion(
    "Shared features, negative control: tasks that share no features (f = 0) gain nothing",
    "no effect: gain inside +-delta at f = 0",
    "paired difference over seeds: task-mean gain at f = 0, largest K",
    0,
    0.01,
)
SANITY = Criterion(
    "Sanity (protocol): with one task the shared and the separate network agree",
    "no effect: at K = 1 both arms are one network on the same labels",
    "paired difference over seeds: task-mean gain at K = 1, averaged over f; a CI that excludes 0 is a "
    "protocol handicap",
    0,
    0.01,
)


@study("shared_features")
def analyse(c: Collection) -> Section:
    table = with_config(c, KEYS)
    section = Section(
        c.name,
        "Shared features: the lecture's first condition",
        "Does sharing help in proportion to the features the tasks share, and not at all where they share none?",
    )
    if table[FRACTION].nunique() >= 2:
        fig, axes = style.figure(2)
        for ax, metric, unit in (
            (axes[0][0], "test_bce", "test log loss stl - mtl (nats)"),
            (axes[0][1], "test_auroc", "AUROC mtl - stl"),
        ):
            g = gain_summary(table, metric, KEYS)
            ks = sorted(g["data.tasks"].unique())
            for i, k in enumerate(ks):
                style.band(ax, g[g["data.tasks"] == k], FRACTION, f"K = {k:g}", style.series(i, len(ks)))
            style.zero_line(ax)
            ax.set_xlabel("shared fraction f (share of each score's variance on the shared features)")
            ax.set_ylabel(f"gain of sharing: {unit}")
            ax.legend(fontsize=8)
        section.plot(
            c.name,
            style.titled(fig, "Gain of sharing against the features the tasks share"),
            "Paired gain of sharing averaged over tasks, against f; K = 1 is the sanity line (one task: the shared "
            f"network is a separate network). Every f uses the same inputs and noise. {held_equal(c)}",
        )
    kept, gate_note = gate(table, KEYS)
    section.notes.append(gate_note)
    gain = gain_per_seed(paired(kept, "test_bce", keys=KEYS), KEYS)
    tests = []
    if not gain.empty:
        many = gain[gain["data.tasks"] == gain["data.tasks"].max()]
        if many["data.tasks"].max() > 1 and many[FRACTION].nunique() >= 2:
            tests.append((TREND, slopes(many, FRACTION)["slope"], f"K = {many['data.tasks'].max():g}"))
        top, bottom = many[FRACTION].max(), many[FRACTION].min()
        if many["data.tasks"].max() > 1:
            at_top = many[many[FRACTION] == top].groupby("seed")["gain"].mean()
            tests.append((SHARED, at_top, f"f = {top:g}, K = {many['data.tasks'].max():g}"))
            if bottom == 0:
                at_zero = many[many[FRACTION] == 0].groupby("seed")["gain"].mean()
                tests.append((CONTROL, at_zero, f"f = 0, K = {many['data.tasks'].max():g}"))
        single = gain[gain["data.tasks"] == 1]
        if not single.empty:
            tests.append((SANITY, single.groupby("seed")["gain"].mean(), "K = 1, every f"))
    section.verdicts = verdicts(tests)
    sanity = [v for v in section.verdicts if v.criterion is SANITY]
    if sanity and (sanity[0].test.low > 0 or sanity[0].test.high < 0):
        section.notes.append(f"Protocol handicap: at K = 1 the gain is {sanity[0].measured}; its CI excludes 0.")
    curves = learning_curves(c, FRACTION, "Validation loss during training")
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            "Mean validation log loss over tasks per arm (95% CI over seeds), one panel per f.",
        )
    section.summary = point_summary(table, KEYS)
    return section
