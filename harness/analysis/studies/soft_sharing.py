"""Soft sharing: hard sharing, gated experts and stitched columns against separate networks
(experiments/soft_sharing.yaml, and experiments/soft_sharing_directions.yaml as the control).

The knob is the share of features the tasks share (data.shared_fraction) on the features
family and the relatedness of their directions (data.relatedness) on the directions family.
Primary tests at the knob's ends: where the tasks share least, does soft sharing lose less
than hard sharing; where they share most, does it still gain over separate networks?
"""

from __future__ import annotations

import pandas as pd

from harness.analysis import markdown, style
from harness.analysis.collect import Collection
from harness.analysis.common import gate, held_equal, learning_curves, point_summary, suite_of_jobs, with_config
from harness.analysis.registry import Section, study
from harness.analysis.stats import gain_per_seed, gain_summary, paired, summarize
from harness.analysis.verdict import Criterion, verdicts

SOFT = ("mmoe", "mmoe_equal_params", "cross_stitch")
KNOBS = {  # suite -> (config key, its symbol, what it measures)
    "features": ("data.shared_fraction", "f", "share of each score's variance on the shared features"),
    "synthetic": ("data.relatedness", "rho", "task directions' pairwise cosine is rho^2"),
}


def _criterion(arm: str, over: str, symbol: str, end: str, claim: str) -> Criterion:
    family = "shared features" if symbol == "f" else "directions"
    return Criterion(
        f"Soft sharing (Ma et al. 2018), {family}: {claim}",
        f"gain of {arm} over {over} > 0 at the {end} {symbol}",
        f"paired difference over seeds: task-mean test log loss, {over} minus {arm}, at the {end} {symbol}",
        +1,
        0.01,
    )


def criteria(symbol: str) -> tuple[Criterion, Criterion, Criterion]:
    """The three primary tests of a sweep over `symbol` (fixed before any run)."""
    return (
        _criterion("mmoe", "mtl", symbol, "lowest", "gated experts lose less than one trunk where tasks share least"),
        _criterion("cross_stitch", "mtl", symbol, "lowest", "stitched columns lose less than one trunk there"),
        _criterion(
            "mmoe", "stl", symbol, "highest", "gated experts gain over separate networks where tasks share most"
        ),
    )


def gains(table: pd.DataFrame, knob: str, arms: list[str], against: str) -> pd.DataFrame:
    """Per (arm, knob value, seed): the task-mean paired gain of `arm` over `against` (test log loss)."""
    parts = [
        gain_per_seed(paired(table, "test_bce", arm, against, [knob]), [knob]).assign(arm=arm)
        for arm in arms
        if arm != against
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[knob, "seed", "gain", "arm"])


def params_text(c: Collection, arms: list[str]) -> str:
    """Each arm's parameter count (all its networks together), as the first job records it."""
    counts = c.table.drop_duplicates("arm").set_index("arm")["arm_params"]
    return ", ".join(f"{arm} {int(counts[arm]):,}" for arm in arms if arm in counts and pd.notna(counts[arm]))


@study("soft_sharing")
def analyse(c: Collection) -> Section:
    suite = suite_of_jobs(c)
    knob, symbol, meaning = KNOBS.get(suite, KNOBS["features"])
    table = with_config(c, [knob])
    arms = style.arms_in(table["arm"])
    family = "shared features" if suite == "features" else "directions, the control"
    section = Section(
        c.name,
        f"Soft sharing against hard sharing and separate networks ({family})",
        f"Where the tasks share little, does soft sharing lose less than one trunk; where they share much, "
        f"does it still gain over separate networks? (knob: {symbol} = {knob})",
    )
    budget = f"Parameters, all networks of an arm together: {params_text(c, arms)}."
    if table[knob].nunique() >= 2:
        fig, axes = style.figure(2)
        for ax, against in ((axes[0][0], "stl"), (axes[0][1], "mtl")):
            for arm in arms:
                if arm in (against, "stl"):
                    continue
                summary = gain_summary(table, "test_bce", [knob], arm, against)
                style.arm_band(ax, summary, knob, arm)
            style.zero_line(ax)
            ax.set_xlabel(f"{symbol} ({meaning})")
            ax.set_ylabel(f"gain over {against}: test log loss {against} - arm (nats)")
            ax.legend(fontsize=8)
        section.plot(
            c.name,
            style.titled(fig, f"Gain of each way of sharing against {symbol}"),
            f"Left: each shared arm's paired gain over the separate networks; right: the soft arms' gain over the "
            f"one-trunk network (mtl). Task means, 95% t intervals over seeds. {budget} {held_equal(c)}",
        )
    kept, gate_note = gate(table, [knob])
    section.notes.append(gate_note)
    low_mtl, low_stitch, high_stl = criteria(symbol)
    over_mtl = gains(kept, knob, [a for a in SOFT if a in arms], "mtl")
    over_stl = gains(kept, knob, arms, "stl")
    tests = []
    if not over_mtl.empty:
        bottom = over_mtl[knob].min()
        for criterion, arm in ((low_mtl, "mmoe"), (low_stitch, "cross_stitch")):
            at = over_mtl[(over_mtl["arm"] == arm) & (over_mtl[knob] == bottom)]
            if not at.empty:
                tests.append((criterion, at.set_index("seed")["gain"], f"{symbol} = {bottom:g}"))
    if not over_stl.empty:
        top = over_stl[knob].max()
        at = over_stl[(over_stl["arm"] == "mmoe") & (over_stl[knob] == top)]
        if not at.empty:
            tests.append((high_stl, at.set_index("seed")["gain"], f"{symbol} = {top:g}"))
    section.verdicts = verdicts(tests)
    section.text = gain_table(pd.concat([over_stl.assign(over="stl"), over_mtl.assign(over="mtl")]), knob, symbol)
    curves = learning_curves(c, knob, "Validation loss during training")
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            f"Mean validation log loss over tasks per arm (95% CI over seeds), per {symbol}.",
        )
    section.summary = point_summary(table, [knob])
    return section


def gain_table(per_seed: pd.DataFrame, knob: str, symbol: str) -> str:
    """Markdown: per value of the knob, each arm's mean gain over stl and over mtl with its 95% CI."""
    if per_seed.empty:
        return ""
    summary = summarize(per_seed, ["over", "arm", knob], value="gain")
    summary = summary[summary["arm"] != summary["over"]]
    columns = [(over, arm) for over in ("stl", "mtl") for arm in style.arms_in(summary["arm"])]
    columns = [col for col in columns if ((summary["over"] == col[0]) & (summary["arm"] == col[1])).any()]
    rows = []
    for value in sorted(summary[knob].unique()):
        row = [f"{value:g}"]
        for over, arm in columns:
            hit = summary[(summary["over"] == over) & (summary["arm"] == arm) & (summary[knob] == value)]
            row.append(
                ""
                if hit.empty
                else f"{hit['mean'].iloc[0]:+.4f} [{hit['low'].iloc[0]:+.4f}, {hit['high'].iloc[0]:+.4f}]"
            )
        rows.append(row)
    header = [symbol, *(f"{arm} over {over}" for over, arm in columns)]
    return (
        "Gain of each arm (test log loss, nats; mean over seeds of the task mean, 95% t interval) on the "
        "points that passed the learnability gate:\n\n" + markdown.table(header, rows)
    )
