"""Transfer learning against sharing, with Caruana's shuffle control (experiments/transfer_vs_mtl*.yaml).

Only the target task (data.target) is compared: the transfer arms and the shuffle control
report it alone.
"""

from __future__ import annotations

import pandas as pd

from harness.analysis import style
from harness.analysis.collect import Collection
from harness.analysis.common import gate, held_equal, learning_curves, on_suite, with_config
from harness.analysis.registry import Section, study
from harness.analysis.stats import gain_per_seed, paired, summarize
from harness.analysis.verdict import Criterion, effect_exists, fmt, verdicts

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
REAL = Criterion(
    "Shuffle control (Caruana 1997): sharing's gain is real, not regularisation",
    "the shared network beats the same network trained on shuffled source labels",
    "paired difference over seeds: mtl vs mtl_shuffled on the target's test log loss, averaged over every point",
    +1,
    DELTA,
    needs="the gain it explains exists: mtl vs stl on the target, averaged over every point, significantly > 0",
)


def _gain(table: pd.DataFrame, arm: str, baseline: str, metric: str = "test_bce") -> pd.DataFrame:
    return gain_per_seed(paired(table, metric, arm, baseline, KEYS), KEYS)


@study("transfer")
def analyse(c: Collection) -> Section:
    table = with_config(c, [*KEYS, "data.target"])
    table = table[table["task"] == table["data.target"]]
    suite, tag = on_suite(c)
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
    sources = sorted(table["data.n_other"].unique())
    if table["data.n_target"].nunique() >= 2:
        rows = [*METRICS, "real"] if {"mtl", "mtl_shuffled"} <= set(arms) else list(METRICS)
        fig, axes = style.figure(len(sources), len(rows), width=4.6, height=3.4)
        for col, n_other in enumerate(sources):
            for row, metric in enumerate(rows):
                ax = axes[row][col]
                if metric == "real":
                    g = summarize(_gain(table, "mtl", "mtl_shuffled"), KEYS, value="gain")
                    style.band(ax, g[g["data.n_other"] == n_other], "data.n_target", "mtl - mtl_shuffled", "0.2")
                    ax.set_ylabel("real - shuffled labels (log loss, nats)")
                else:
                    for arm in arms:
                        g = gains[(metric, arm)]
                        style.arm_band(ax, g[g["data.n_other"] == n_other], "data.n_target", arm)
                    ax.set_ylabel(f"gain over stl ({METRICS[metric]})")
                style.zero_line(ax)
                ax.set_xscale("log")
                ax.set_xlabel("target task's training labels")
            axes[0][col].set_title(f"{n_other:g} labels per source task", fontsize=10)
        axes[0][-1].legend(fontsize=7)
        section.plot(
            c.name,
            style.titled(fig, f"Target task: shared, shuffle control and transfer vs separate{suite}"),
            "Paired gain of each arm over the target's separate network (positive = better), per source size; "
            "the last row is the shared network against the same network trained on shuffled source labels "
            f"(Caruana's control). {held_equal(c)}",
        )
    kept, gate_note = gate(table, KEYS)
    section.notes.append(gate_note)
    tests, held = [], {}
    if not kept.empty:
        few = kept["data.n_target"].min()  # fixed by the design: the fewest target labels, most sources run there
        most = kept.loc[kept["data.n_target"] == few, "data.n_other"].max()
        at = kept[(kept["data.n_target"] == few) & (kept["data.n_other"] == most)]
        for arm, baseline, claim in HEADLINES:
            if {arm, baseline} <= set(at["arm"]):
                gain = _gain(at, arm, baseline).groupby("seed")["gain"].mean()
                tests.append((headline(arm, baseline, claim), gain, f"{few:g} target, {most:g} per source"))
        if {"mtl", "mtl_shuffled"} <= set(kept["arm"]):
            tests.append((REAL, _gain(kept, "mtl", "mtl_shuffled").groupby("seed")["gain"].mean(), "every point"))
            held[REAL] = effect_exists(_gain(kept, "mtl", "stl").groupby("seed")["gain"].mean(), "mtl vs stl")
    section.verdicts = [v.relabel(tag) for v in verdicts(tests, held=held)]
    curves = learning_curves(c, "data.n_target", f"Target task's validation loss during training{suite}", target=True)
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            "The target task's validation log loss per arm (95% CI over seeds), "
            "one panel per target size; source sizes averaged within a seed.",
        )
    section.text = gain_tables(gains, arms)
    return section


def gain_tables(gains: dict, arms: list[str]) -> str:
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
            f"Gain over stl, {label}:",
            "",
            "| source labels/task | target labels | " + " | ".join(arms) + " |",
        ]
        lines.append("| --- | --- |" + " --- |" * len(arms))
        for _, r in merged.iterrows():
            lines.append(f"| {r['data.n_other']:g} | {r['data.n_target']:g} | " + " | ".join(r[a] for a in arms) + " |")
    return "\n".join(lines)
