"""Transfer learning against sharing, with Caruana's shuffle control (experiments/transfer_vs_mtl*.yaml).

Only the target task (data.target) is compared: the transfer arms and the shuffle control
report it alone. On the shared-features family the sweep crosses data.shared_fraction: the
claims are judged at the largest f (the target shares features with its sources, the
precondition of a gain from them), and mtl and transfer_full against stl again at f = 0 as the
negative control.
"""

from __future__ import annotations

import pandas as pd

from harness.analysis import markdown, style
from harness.analysis.collect import Collection
from harness.analysis.common import gate, held_equal, learning_curves, on_suite, suite_of_jobs, with_config
from harness.analysis.registry import Section, study
from harness.analysis.stats import gain_per_seed, paired, summarize
from harness.analysis.verdict import Criterion, effect_exists, fmt, verdicts

FRACTION = "data.shared_fraction"
KEYS = ["data.n_other", "data.n_target"]
ARMS = ("mtl", "mtl_shuffled", "transfer_head", "transfer_full")
METRICS = {"test_bce": "test log loss", "test_auroc": "test AUROC"}
DELTA = 0.01


def headline(arm: str, baseline: str, claim: str) -> Criterion:
    return Criterion(
        f"Transfer (lecture): {arm} vs {baseline}, fewest target labels, most source labels",
        claim,
        f"paired difference over seeds: {arm} vs {baseline} on the target's test log loss",
        +1,
        DELTA,
    )


HEADLINES = (
    ("mtl", "stl", "sharing helps the few-label target"),
    ("transfer_head", "stl", "pretraining + a new head helps"),
    ("transfer_full", "stl", "pretraining + fine-tuning everything helps"),
    ("transfer_full", "mtl", "fine-tuning beats sharing at the same steps"),
)
CONTROLS = ("mtl", "transfer_full")


def control(arm: str) -> Criterion:
    return Criterion(
        f"Transfer, negative control: {arm} vs stl where the tasks share no features (f = 0)",
        "no effect: sources that share nothing with the target neither help nor hurt it beyond +-delta",
        f"paired difference over seeds: {arm} vs stl on the target's test log loss, fewest target labels, "
        "most source labels, shared_fraction 0",
        0,
        DELTA,
    )


REAL = Criterion(
    "Shuffle control (Caruana 1997): sharing's gain is real, not regularisation",
    "the shared network beats the same network trained on shuffled source labels",
    "paired difference over seeds: mtl vs mtl_shuffled on the target's test log loss, averaged over every point",
    +1,
    DELTA,
    needs="the gain it explains exists: mtl vs stl on the target, averaged over every point, significantly > 0",
)
REAL_TRANSFER = Criterion(
    "Shuffle control (transfer): pretraining's gain is real, not regularisation",
    "fine-tuning after pretraining on the sources beats the same after pretraining on shuffled source labels",
    "paired difference over seeds: transfer_full vs transfer_shuffled on the target's test log loss, averaged "
    "over every point",
    +1,
    DELTA,
    needs="the gain it explains exists: transfer_full vs stl on the target, averaged over every point, "
    "significantly > 0",
)
# (criterion, the arm, its shuffled twin): each control is judged where the arm's gain over stl exists
SHUFFLES = ((REAL, "mtl", "mtl_shuffled"), (REAL_TRANSFER, "transfer_full", "transfer_shuffled"))


def _gain(table: pd.DataFrame, arm: str, baseline: str, metric: str = "test_bce") -> pd.DataFrame:
    return gain_per_seed(paired(table, metric, arm, baseline, KEYS), KEYS)


def target_figure(table: pd.DataFrame, gains: dict, arms: list[str], suite: str):
    """Per source size: each arm's gain over stl on the target (log loss, AUROC), and the shuffle controls."""
    sources, targets = sorted(table["data.n_other"].unique()), sorted(table["data.n_target"].unique())
    rows = [*METRICS, "real"] if {"mtl", "mtl_shuffled"} <= set(arms) else list(METRICS)
    fig, axes = style.figure(len(sources), len(rows), width=4.6, height=3.4)
    for col, n_other in enumerate(sources):
        for row, metric in enumerate(rows):
            ax = axes[row][col]
            if metric == "real":
                for i, (_, arm, twin) in enumerate(SHUFFLES):
                    if {arm, twin} <= set(table["arm"]):
                        g = summarize(_gain(table, arm, twin), KEYS, value="gain")
                        at = g[g["data.n_other"] == n_other]
                        style.band(ax, at, "data.n_target", f"{arm} - {twin}", ("0.2", "0.55")[i])
                ax.set_ylabel("real - shuffled labels (log loss, nats)")
                ax.legend(fontsize=7)
            else:
                for arm in arms:
                    g = gains[(metric, arm)]
                    style.arm_band(ax, g[g["data.n_other"] == n_other], "data.n_target", arm)
                ax.set_ylabel(f"gain over stl ({METRICS[metric]})")
            style.zero_line(ax)
            ax.set_xscale("log")
            ax.minorticks_off()
            ax.set_xticks(targets, [f"{v:g}" for v in targets])
            ax.set_xlabel("target task's training labels")
        axes[0][col].set_title(f"{n_other:g} labels per source task", fontsize=10)
    axes[0][-1].legend(fontsize=7)
    return style.titled(fig, f"Target task: shared, shuffle control and transfer vs separate{suite}")


def primary_tests(kept_every: pd.DataFrame, shares: list[float], where: str) -> tuple[list, dict]:
    """The tests on the gated points and the shuffle controls' preconditions: the claims at the
    largest f (every point on a suite without one), the negative controls at f = 0."""
    kept = kept_every[kept_every[FRACTION] == shares[-1]] if shares else kept_every
    tests, held = [], {}
    if kept.empty:
        return tests, held
    few = kept["data.n_target"].min()  # fixed by the design: the fewest target labels, most sources run there
    most = kept.loc[kept["data.n_target"] == few, "data.n_other"].max()
    at = kept[(kept["data.n_target"] == few) & (kept["data.n_other"] == most)]
    for arm, baseline, claim in HEADLINES:
        if {arm, baseline} <= set(at["arm"]):
            gain = _gain(at, arm, baseline).groupby("seed")["gain"].mean()
            tests.append((headline(arm, baseline, claim), gain, f"{few:g} target, {most:g} per source{where}"))
    for criterion, arm, twin in SHUFFLES:
        if {arm, twin, "stl"} <= set(kept["arm"]):
            tests.append((criterion, _gain(kept, arm, twin).groupby("seed")["gain"].mean(), f"every point{where}"))
            held[criterion] = effect_exists(_gain(kept, arm, "stl").groupby("seed")["gain"].mean(), f"{arm} vs stl")
    if shares and shares[0] == 0:
        none = kept_every[kept_every[FRACTION] == 0]
        none = none[(none["data.n_target"] == few) & (none["data.n_other"] == most)]
        for arm in CONTROLS:
            if not none.empty and {arm, "stl"} <= set(none["arm"]):
                gain = _gain(none, arm, "stl").groupby("seed")["gain"].mean()
                tests.append((control(arm), gain, f"{few:g} target, {most:g} per source, shared_fraction 0"))
    return tests, held


@study("transfer")
def analyse(c: Collection) -> Section:
    every = with_config(c, [*KEYS, "data.target", FRACTION])
    every = every[every["task"] == every["data.target"]]
    suite, tag = on_suite(c)
    shares = sorted(every[FRACTION].unique()) if suite_of_jobs(c) == "features" else []
    table = every[every[FRACTION] == shares[-1]] if shares else every  # where the claims are judged
    where = f", shared_fraction {shares[-1]:g}" if shares else ""
    section = Section(
        c.name,
        f"Transfer learning vs sharing, with Caruana's shuffle control{suite}",
        "For a target task with few labels: separate, shared, or pretrained on the other tasks and fine-tuned? "
        "Is sharing's gain real, or would shuffled source labels do as well?",
    )
    arms = [a for a in ARMS if a in set(table["arm"])]
    gains = {
        (metric, arm): summarize(_gain(table, arm, "stl", metric), KEYS, value="gain")
        for metric in METRICS
        for arm in arms
    }
    if table["data.n_target"].nunique() >= 2:
        section.plot(
            c.name,
            target_figure(table, gains, arms, suite),
            "Paired gain of each arm over the target's separate network (positive = better), per source size; "
            "the last row is the shared network, and transfer_full, against the same arm trained on shuffled "
            f"source labels (Caruana's control){where.replace(', ', '; at ')}. {held_equal(c)}",
        )
    kept_every, gate_note = gate(every, [*KEYS, FRACTION])
    section.notes.append(gate_note)
    tests, held = primary_tests(kept_every, shares, where)
    section.verdicts = [v.relabel(tag) for v in verdicts(tests, held=held)]
    curves = learning_curves(c, "data.n_target", f"Target task's validation loss during training{suite}", target=True)
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            "The target task's validation log loss per arm (95% CI over seeds), "
            "one panel per target size; source sizes (and f) averaged within a seed.",
        )
    section.text = gain_tables(gains, arms, where)
    return section


def gain_tables(gains: dict, arms: list[str], where: str) -> str:
    lines = []
    for metric, label in METRICS.items():
        merged = None
        for arm in arms:
            g = gains[(metric, arm)]
            g = g.assign(**{arm: [fmt(r["mean"], r["low"], r["high"], 4) for _, r in g.iterrows()]})[[*KEYS, arm]]
            merged = g if merged is None else merged.merge(g, on=KEYS, how="outer")
        if merged is None or merged.empty:
            continue
        lines += [
            "",
            f"Gain over stl, {label}{where}:",
            "",
            markdown.table(
                ["source labels/task", "target labels", *arms],
                (
                    [f"{r['data.n_other']:g}", f"{r['data.n_target']:g}", *(r[a] for a in arms)]
                    for _, r in merged.iterrows()
                ),
            ),
        ]
    return "\n".join(lines)
