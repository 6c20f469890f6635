"""Missing labels: the masked loss against dropping rows or reading '?' as 0.

Sweep: experiments/missing_labels.yaml.
"""

from __future__ import annotations

import pandas as pd

from harness.analysis import style
from harness.analysis.collect import Collection
from harness.analysis.common import gate, held_equal, learning_curves, point_summary, with_config
from harness.analysis.registry import Section, study
from harness.analysis.stats import gain_per_seed, gain_summary, paired
from harness.analysis.verdict import Criterion, verdicts

KEYS = ["data.missing"]
RIVALS = ("mtl_drop", "mtl_zero", "stl")


def criterion(rival: str) -> Criterion:
    return Criterion(
        f"Partial labels (lecture): the masked loss beats {style.arm_style(rival).label}",
        "masked mtl has lower test log loss when labels are missing",
        f"paired difference over seeds: mtl vs {rival}, task mean, averaged over every missing fraction > 0",
        +1,
        0.01,
    )


@study("missing_labels")
def analyse(c: Collection) -> Section:
    table = with_config(c, KEYS)
    section = Section(
        c.name,
        "Missing labels: masked loss against dropping rows or reading '?' as 0",
        "With a fraction of labels missing, does the masked loss beat the alternatives?",
    )
    rivals = [a for a in RIVALS if a in set(table["arm"])]
    if table["data.missing"].nunique() >= 2:
        fig, axes = style.figure(2)
        for ax, metric in zip(axes[0], ("test_bce", "test_auroc"), strict=True):
            for rival in rivals:
                g = gain_summary(table, metric, KEYS, "mtl", rival)
                style.arm_band(ax, g, "data.missing", rival)
            style.zero_line(ax)
            ax.set_xlabel("fraction of training labels missing ('?')")
            ax.set_ylabel(f"masked mtl's gain over the arm, {style.METRIC_LABEL[metric].split(' (')[0]}")
        axes[0][0].legend(fontsize=8, title="against", title_fontsize=8)
        section.plot(
            c.name,
            style.titled(fig, "Training on partial labels: the masked loss against each alternative"),
            "Paired gain of the masked shared network (mtl) over each arm (positive = the masked loss did better), "
            f"task mean per seed; every arm sees the same label matrix. {held_equal(c)}",
        )
    kept, gate_note = gate(table, KEYS)
    section.notes.append(gate_note)
    tests = []
    for rival in rivals:
        gain = gain_per_seed(paired(kept[kept["data.missing"] > 0], "test_bce", "mtl", rival, KEYS), KEYS)
        tests.append((criterion(rival), gain.groupby("seed")["gain"].mean(), "mean over missing fractions > 0"))
    section.verdicts = verdicts(tests)
    curves = learning_curves(c, "data.missing", "Validation loss during training")
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            "Mean validation log loss over tasks per arm (95% CI over seeds), one panel per missing fraction.",
        )
    section.summary = pd.concat(
        [point_summary(table, KEYS, "mtl", rival).assign(against=rival) for rival in rivals], ignore_index=True
    )
    section.notes.append("Gain and Delta_m compare the masked shared network (mtl) against the arm in 'against'.")
    return section
