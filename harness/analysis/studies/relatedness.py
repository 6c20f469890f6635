"""Relatedness: shared features and negative transfer (experiments/relatedness.yaml)."""

from __future__ import annotations

from harness.analysis import style
from harness.analysis.collect import Collection
from harness.analysis.common import gate, held_equal, learning_curves, point_summary, with_config
from harness.analysis.registry import Section, study
from harness.analysis.stats import gain_per_seed, gain_summary, paired, slopes
from harness.analysis.verdict import Criterion, verdicts

KEYS = ["data.relatedness", "data.tasks"]
TREND = Criterion(
    "Relatedness (Ma et al. 2018): the gain of sharing falls as the tasks become less related",
    "the gain rises with rho",
    "per-seed slope of the task-mean gain (test log loss) against rho, fitted per K, all points",
    +1,
    0.01,
    "nats per unit rho",
)
UNRELATED = Criterion(
    "Relatedness: unrelated tasks hurt each other (negative transfer at rho = 0)",
    "gain < 0 at rho = 0",
    "paired difference over seeds: task-mean gain at the smallest rho, averaged over K",
    -1,
    0.01,
)


@study("relatedness")
def analyse(c: Collection) -> Section:
    table = with_config(c, KEYS)
    section = Section(
        c.name,
        "Relatedness: shared features and negative transfer",
        "As the tasks become less related, where does sharing turn into negative transfer?",
    )
    if table["data.relatedness"].nunique() >= 2:
        fig, axes = style.figure(2)
        for ax, metric, unit in (
            (axes[0][0], "test_bce", "test log loss stl - mtl (nats)"),
            (axes[0][1], "test_auroc", "AUROC mtl - stl"),
        ):
            g = gain_summary(table, metric, KEYS)
            ks = sorted(g["data.tasks"].unique())
            for i, k in enumerate(ks):
                style.band(ax, g[g["data.tasks"] == k], "data.relatedness", f"K = {k:g}", style.series(i, len(ks)))
            style.zero_line(ax)
            ax.set_xlabel("task relatedness rho (pairwise cosine of task directions = rho^2)")
            ax.set_ylabel(f"gain of sharing: {unit}")
            ax.legend(fontsize=8)
        section.plot(
            c.name,
            style.titled(fig, "Gain of sharing against task relatedness"),
            f"Paired gain of sharing averaged over tasks, against rho. Every rho uses the same inputs and noise. "
            f"{held_equal(c)}",
        )
    kept, gate_note = gate(table, KEYS)
    section.notes.append(gate_note)
    gain = gain_per_seed(paired(kept, "test_bce", keys=KEYS), KEYS)
    tests = []
    if gain["data.relatedness"].nunique() >= 2:
        tests.append((TREND, slopes(gain, "data.relatedness", by=["data.tasks"])["slope"], "all rho"))
    if not gain.empty:
        low = gain["data.relatedness"].min()
        at_low = gain[gain["data.relatedness"] == low].groupby("seed")["gain"].mean()
        tests.append((UNRELATED, at_low, f"at rho = {low:g}"))
    section.verdicts = verdicts(tests)
    curves = learning_curves(c, "data.relatedness", "Validation loss during training")
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            "Mean validation log loss over tasks per arm (95% CI over seeds), one panel per rho.",
        )
    section.summary = point_summary(table, KEYS)
    section.notes.append(
        "Compare Ma et al. 2018 (MMoE, synthetic data with task correlation rho): a shared-bottom model degrades as "
        "rho falls. Their generator differs (regression targets, cos = rho); this one binarises the score and its "
        "task directions have cosine rho^2."
    )
    return section
