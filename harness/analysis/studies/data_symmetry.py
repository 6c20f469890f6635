"""Data symmetry: the lecture's A100 case (experiments/data_symmetry*.yaml).

The claims concern the target task (data.target): the learnability gate and every test read
its rows alone (at n_other = 0 the other tasks have no labels, so their learned fraction says
nothing about the point). A sweep over data.target repeats each point with other target
tasks; their gains are averaged within a seed, which cuts the variance between seeds.

On the shared-features family the sweep crosses data.shared_fraction: the claims are judged
at the largest f (the tasks share features: the claim's precondition), and the trend again
at f = 0 as the negative control. The sanity row reads ratio 0, where the shared network
sees the same labels as the separate one and any gain is the protocol's.
"""

from __future__ import annotations

import numpy as np

from harness.analysis import style
from harness.analysis.collect import Collection
from harness.analysis.common import (
    gate,
    held_equal,
    learning_curves,
    on_suite,
    point_summary,
    suite_of_jobs,
    with_config,
)
from harness.analysis.registry import Section, study
from harness.analysis.stats import gain_per_seed, paired, slopes, summarize
from harness.analysis.verdict import Criterion, effect_exists, fmt, verdicts

FRACTION = "data.shared_fraction"
KEYS = ["data.tasks", "data.n_other", "data.n_target", "data.target", FRACTION]
POINT = ["data.tasks", "data.n_other", "data.n_target", FRACTION]  # a point: the targets averaged within a seed
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
CONTROL = Criterion(
    "Data symmetry, negative control: tasks that share no features (f = 0) do not help the starved target",
    "no effect: the slope of the target's gain against log2(1 + ratio) inside +-delta",
    "per-seed slope of the target's gain against log2(1 + ratio), fitted per K, at shared_fraction 0",
    0,
    0.005,
    "nats per doubling",
)
SANITY = Criterion(
    "Sanity (protocol): at ratio 0 the shared and the separate network agree",
    "no effect: the others have no labels, so the target's gain is 0 up to noise",
    "paired difference over seeds: the target's gain at n_other = 0, averaged over K (and f); "
    "a CI that excludes 0 is a protocol handicap",
    0,
    0.01,
)
REAL = Criterion(
    "Data symmetry: the target's gain at the largest ratio is real, not regularisation (shuffle control)",
    "the shared network beats the same network trained on shuffled labels of the other tasks",
    "paired difference over seeds: the target's test log loss, mtl vs mtl_shuffled, at the largest ratio per K",
    +1,
    0.01,
    needs="the gain it explains exists: the target's mtl vs stl gain at the same points significantly > 0",
)


def target_gain(table, shared: str = "mtl", separate: str = "stl"):
    """Per (K, n_other, n_target, seed): the target's gain, averaged over the target tasks swept."""
    pairs = paired(table, "test_bce", shared, separate, keys=KEYS)
    per_target = gain_per_seed(pairs[pairs["task"] == pairs["data.target"]], KEYS)
    t = per_target.groupby([*POINT, "seed"], as_index=False)["gain"].mean()
    return t.assign(ratio=(t["data.tasks"] - 1) * t["data.n_other"] / t["data.n_target"])


def at_largest_ratio(gains):
    """The rows of `target_gain`'s frame at each K's largest ratio."""
    return gains[gains["ratio"] == gains.groupby("data.tasks")["ratio"].transform("max")]


def by_k(gains) -> str:
    rows = summarize(gains, ["data.tasks"], value="gain")
    return "; ".join(f"K={r['data.tasks']:g}: {fmt(r['mean'], r['low'], r['high'])}" for _, r in rows.iterrows())


def primary_tests(kept, features: bool) -> tuple[list, dict]:
    """The study's tests on the gated points and their preconditions: the claims at the largest
    shared fraction (every point on a suite without one), the trend again at f = 0 (control),
    the sanity row at ratio 0."""
    shares = sorted(kept[FRACTION].unique()) if features else []
    shared = kept[kept[FRACTION] == shares[-1]] if shares else kept
    where = f", shared_fraction {shares[-1]:g}" if shares else ""
    tests, held = [], {}
    t = target_gain(shared)
    if t["ratio"].nunique() >= 2:
        per_seed = slopes(t.assign(x=np.log2(1 + t["ratio"])), "x", by=["data.tasks"])
        tests.append((TREND, per_seed["slope"], f"slope over every (K, n_other) point{where}"))
    if len(shares) >= 2 and shares[0] == 0:
        control = target_gain(kept[kept[FRACTION] == 0])
        if control["ratio"].nunique() >= 2:
            per_seed = slopes(control.assign(x=np.log2(1 + control["ratio"])), "x", by=["data.tasks"])
            tests.append((CONTROL, per_seed["slope"], "slope over every (K, n_other) point, shared_fraction 0"))
    pairs = paired(shared, "test_bce", keys=KEYS)
    symmetric = pairs[(pairs["data.n_other"] == pairs["data.n_target"]) & (pairs["data.tasks"] >= 2)]
    sym = gain_per_seed(symmetric, ["data.tasks"])
    if not sym.empty:
        tests.append((SYMMETRIC, sym.groupby("seed")["gain"].mean(), f"per K {by_k(sym)}{where}"))
    if "mtl_shuffled" in set(shared["arm"]):
        real = target_gain(shared, "mtl", "mtl_shuffled")
        largest = at_largest_ratio(real)
        at = ", ".join(f"K={k:g} ratio {r:g}" for k, r in largest.groupby("data.tasks")["ratio"].first().items())
        tests.append((REAL, largest.groupby("seed")["gain"].mean(), at + where))
        held[REAL] = effect_exists(at_largest_ratio(t).groupby("seed")["gain"].mean(), "the target's gain there")
    zero = target_gain(kept)
    zero = zero[zero["ratio"] == 0]
    if not zero.empty:
        tests.append((SANITY, zero.groupby("seed")["gain"].mean(), f"per K {by_k(zero)}"))
    return tests, held


@study("data_symmetry")
def analyse(c: Collection) -> Section:
    table = with_config(c, KEYS)
    suite, tag = on_suite(c)
    section = Section(
        c.name,
        f"Data symmetry: the lecture's A100 case{suite}",
        "Does a task with few labels gain most when the other tasks together have far more labels?",
    )
    kept, gate_note = gate(table[table["task"] == table["data.target"]], POINT)
    section.notes.append(gate_note.replace("arm stl)", "arm stl on the target task)"))
    kept = table.merge(kept[POINT].drop_duplicates(), on=POINT, how="inner")
    gains = target_gain(table)
    panels = sorted(gains[FRACTION].unique()) if suite_of_jobs(c) == "features" else [None]
    if gains["ratio"].nunique() >= 2:
        fig, axes = style.figure(len(panels))
        for ax, share in zip(axes[0], panels, strict=True):
            rows = gains if share is None else gains[gains[FRACTION] == share]
            target_sum = summarize(rows, ["data.tasks", "ratio"], value="gain")
            ks = sorted(target_sum["data.tasks"].unique())
            for i, k in enumerate(ks):
                band = target_sum[target_sum["data.tasks"] == k]
                style.band(ax, band, "ratio", f"K = {k:g}", style.series(i, len(ks)))
            style.zero_line(ax)
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_xlim(left=-0.2)
            ax.set_xlabel("other tasks' labels / target task's labels (ratio, symlog)")
            ax.set_ylabel("target's gain: test log loss stl - mtl (nats)")
            if share is not None:
                ax.set_title(f"shared_fraction f = {share:g}" + (" (nothing shared)" if share == 0 else ""))
            ax.legend(fontsize=8)
        n_target = int(table["data.n_target"].iloc[0])
        section.plot(
            c.name,
            style.titled(fig, f"Target task's gain against the others' labels{suite}"),
            f"The target task has {n_target} labels; each of the other K - 1 tasks has n_other, so the ratio is "
            f"(K - 1) n_other / {n_target}. Paired gain per seed; positive = sharing helped. {held_equal(c)}",
        )
    tests, held = primary_tests(kept, suite_of_jobs(c) == "features")
    section.verdicts = [v.relabel(tag) for v in verdicts(tests, held=held)]
    handicap = [v for v in section.verdicts if v.criterion is SANITY or v.criterion.name.endswith(SANITY.name)]
    if handicap and (handicap[0].test.low > 0 or handicap[0].test.high < 0):
        section.notes.append(
            f"Protocol handicap: at ratio 0 the target's gain is {handicap[0].measured}, its CI excludes 0, though "
            "the shared and separate networks saw the same labels there."
        )
    curves = learning_curves(c, "data.n_other", f"Validation loss during training{suite}")
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            "Mean validation log loss over tasks per arm (95% CI over seeds), "
            "one panel per n_other; task counts averaged within a seed.",
        )
    summary = point_summary(table[table["task"] == table["data.target"]], POINT)
    summary.insert(
        len(POINT), "ratio", (summary["data.tasks"] - 1) * summary["data.n_other"] / summary["data.n_target"]
    )
    section.summary = summary
    section.notes.append(
        "Gain and Delta_m in the table are the target task's (every target swept, pooled). At ratio 0 the other "
        "tasks have no labels, so the target's gain there is zero in expectation: it shows the noise between "
        "seeds alone."
    )
    return section
