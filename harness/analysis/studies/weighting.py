"""Loss weighting: uncertainty weighting and PCGrad against equal weights (experiments/weighting.yaml).

train.weighting changes only the shared arm; jobs share seeds and data draws, so each
weighting is paired with equal weights across jobs (same rho, task and seed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis import markdown, style
from harness.analysis.collect import Collection
from harness.analysis.common import gate, held_equal, learning_curves, with_config
from harness.analysis.registry import Section, study
from harness.analysis.stats import gain_per_seed, paired, summarize
from harness.analysis.verdict import Criterion, fmt, verdicts

KEYS = ["data.relatedness"]
DELTA = 0.005  # nats: a weighting within this of equal weights "matches" them
METRICS = {"test_bce": "test log loss (nats)", "test_auroc": "test AUROC"}


def criterion(weighting: str, rho: float) -> Criterion:
    return Criterion(
        f"Weighting (Kurin et al. 2022, Xin et al. 2022): {weighting} matches equal weights, rho={rho:g}",
        "no effect: specialised weighting neither beats nor loses to the equal-weight sum by more than delta",
        f"paired difference over seeds (across jobs): mtl under {weighting} vs under equal, test log loss",
        0,
        DELTA,
    )


def versus_equal(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per (rho, weighting, seed): the shared arm's gain under each weighting over equal weights."""
    shared = table[table["arm"] == "mtl"].drop(columns="job")
    shared = shared.assign(arm=shared["train.weighting"])
    parts = [
        gain_per_seed(paired(shared, metric, w, "equal", KEYS), KEYS).assign(weighting=w)
        for w in sorted(set(shared["arm"]) - {"equal"})
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*KEYS, "seed", "gain", "weighting"])


@study("weighting")
def analyse(c: Collection) -> Section:
    table = with_config(c, [*KEYS, "train.weighting"])
    section = Section(
        c.name,
        "Loss weighting: uncertainty weighting and PCGrad vs equal weights",
        "Does weighting the tasks' losses (Kendall et al. 2018) or projecting conflicting gradients (Yu et al. 2020) "
        "beat the equal-weight sum in the shared network?",
    )
    per_seed = {m: versus_equal(table, m) for m in METRICS}
    summary = {m: summarize(per_seed[m], ["weighting", *KEYS], value="gain") for m in METRICS}
    kept, gate_note = gate(table, KEYS)
    section.notes.append(gate_note)
    weightings = sorted(summary["test_bce"]["weighting"].unique())
    rhos = sorted(table["data.relatedness"].unique())
    if weightings:
        fig, axes = style.figure(len(METRICS))
        for ax, metric in zip(axes[0], METRICS, strict=True):
            for i, w in enumerate(weightings):
                part = summary[metric][summary[metric]["weighting"] == w].set_index("data.relatedness").reindex(rhos)
                x = np.arange(len(rhos)) + (i - (len(weightings) - 1) / 2) * 0.3
                err = [part["mean"] - part["low"], part["high"] - part["mean"]]
                ax.errorbar(
                    x, part["mean"], yerr=err, fmt="o", capsize=3, color=style.series(i, len(weightings)), label=w
                )
            if metric == "test_bce":
                ax.axhspan(-DELTA, DELTA, color="0.92", zorder=0, label=f"±delta ({DELTA:g} nats)")
            ax.set_xticks(np.arange(len(rhos)), [f"{r:g}" for r in rhos])
            ax.set_xlabel("task relatedness rho")
            ax.set_ylabel(f"gain over equal weights, {METRICS[metric]}")
            style.zero_line(ax)
        axes[0][0].legend(fontsize=8, title="weighting")
        section.plot(
            c.name,
            style.titled(fig, "Shared network: each weighting minus equal weights"),
            "Paired gain of the shared network under each weighting over the same network under equal weights "
            f"(positive = the weighting did better), task mean per seed, 95% CI. {held_equal(c)}",
        )
    gain = versus_equal(kept, "test_bce")
    tests = [
        (criterion(w, rho), part["gain"], "")
        for (w, rho), part in gain.groupby(["weighting", "data.relatedness"], sort=True)
    ]
    section.verdicts = verdicts(tests)
    curves = learning_curves(c, "train.weighting", "Validation loss during training")
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            "Mean validation log loss over tasks per arm (95% CI over seeds), "
            "one panel per weighting (it changes the shared arm only); rho averaged within a seed.",
        )
    rows = [
        [label, f"{r['data.relatedness']:g}", r["weighting"], fmt(r["mean"], r["low"], r["high"], 4)]
        for metric, label in METRICS.items()
        for _, r in summary[metric].iterrows()
    ]
    section.text = markdown.table(["metric", "rho", "weighting", "gain over equal weights"], rows)
    return section
