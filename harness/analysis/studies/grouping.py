"""Grouping: does the search find the planted groups, and does the grouped network pay?
(experiments/grouping.yaml)

Two questions, fixed before any run:

1. Recovery: per seed, the partition that seed's signal alone chooses is compared with
   the planted one by the adjusted Rand index (ARI; 1 = the same partition, about 0 =
   chance). Primary test: per seed, the ARI averaged over the points with planted groups
   (data.task_groups > 1; with one planted group the ARI is undefined), minus
   RECOVERED, one criterion per grouping signal; it holds when the mean ARI is above
   RECOVERED (the planted partition found in most seeds) and is contradicted, a failure
   of the search at these settings, when it is significantly below. The partition the
   groups arm trains (all seeds' signal) is tabulated beside it.
2. Where groups are planted, does the grouped network beat one all-task network (mtl)
   and all-separate networks (stl)? Where they are not (task_groups = 1), does it tie
   with the better of them? Primary test: the paired per-seed gain of groups in test log
   loss averaged over tasks (and over the planted points), one criterion per alternative
   and signal; ties: inside +-DELTA. Precondition: the trained partition is neither one
   group (the grouped network is then mtl) nor one task per group (stl); points where it
   is either are left out, and a criterion with no point left is not applicable.

Partitions come from the collection's `partitions` (harness/analysis/collect.py); the
planted partition is the generator's (task k in group k mod G).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from harness.analysis import markdown, style
from harness.analysis.collect import Collection
from harness.analysis.common import gate, held_equal, learning_curves, point_summary, with_config
from harness.analysis.registry import Section, study
from harness.analysis.stats import gain_per_seed, paired, summarize
from harness.analysis.verdict import Criterion, Held, fmt, verdicts

DELTA = 0.01  # nats of test log loss: a smaller gain either way is a tie
RECOVERED = 0.8  # mean ARI at which the planted partition counts as found (in most seeds)
ARI_DELTA = 0.1  # an ARI within this of RECOVERED decides neither way
DISTINCT = "the trained partition is neither one group (mtl) nor one task per group (stl) on the points used"
POINT_KEYS = ("data.task_groups", "data.relatedness", "data.relatedness_between", "train.grouping_signal")
ALTERNATIVES = ("mtl", "stl")


def recovers(signal: str) -> Criterion:
    return Criterion(
        f"Grouping ({signal}): the search recovers the planted groups",
        f"adjusted Rand index of each seed's partition against the planted one >= {RECOVERED:g}",
        f"per-seed ARI averaged over the points with planted groups (task_groups > 1), minus {RECOVERED:g}",
        +1,
        ARI_DELTA,
        f"(ARI - {RECOVERED:g})",
        needs="the points have two or more planted groups (else the ARI is undefined) and passed the gate",
        difference=False,
    )


def beats(signal: str, other: str) -> Criterion:
    return Criterion(
        f"Grouping ({signal}): the grouped network beats {other} where groups are planted",
        f"gain of groups over {other} > 0",
        f"paired difference over seeds: groups vs {other}, task mean, averaged over the planted points",
        +1,
        DELTA,
        needs=DISTINCT,
    )


def ties(signal: str) -> Criterion:
    return Criterion(
        f"Grouping ({signal}): without planted groups the grouped network ties the better of mtl and stl",
        "no effect: gain of groups over the better alternative inside +-delta",
        "paired difference over seeds: groups vs the alternative with the lower mean loss, task_groups = 1",
        0,
        DELTA,
        needs=DISTINCT,
    )


def planted_partition(tasks: int, task_groups: int) -> list[int]:
    """The planted group of each task, as the synthetic generator plants it: task k in group k mod G
    (so a task's group does not change with K; docs/task-families.md)."""
    return [k % task_groups for k in range(tasks)]


def _keys(table: pd.DataFrame) -> list[str]:
    return [k for k in POINT_KEYS if k in table.columns]


def _ari(rows: pd.DataFrame) -> float:
    rows = rows.sort_values("task")
    tasks, planted = int(rows["data.tasks"].iloc[0]), int(rows["data.task_groups"].iloc[0])
    return float(adjusted_rand_score(planted_partition(tasks, planted), rows["group"].astype(int).to_numpy()))


def ari_per_seed(partitions: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Per point, job and seed: the ARI of that seed's search (arm "search")."""
    rows = [
        {**dict(zip([*keys, "job", "seed"], key, strict=True)), "value": _ari(part)}
        for key, part in partitions[partitions["arm"] == "search"].groupby([*keys, "job", "seed"])
    ]
    return pd.DataFrame(rows, columns=[*keys, "job", "seed", "value"])


def recovery(partitions: pd.DataFrame) -> pd.DataFrame:
    """Per point: ARI of the per-seed searches (mean, low, high, n) and of the trained partition."""
    keys = _keys(partitions)
    out = summarize(ari_per_seed(partitions, keys), keys)
    trained = [
        {**dict(zip([*keys, "job"], key, strict=True)), "trained_ari": _ari(part)}
        for key, part in partitions[partitions["arm"] == "groups"].groupby([*keys, "job"])
    ]
    trained = pd.DataFrame(trained, columns=[*keys, "job", "trained_ari"])
    return out.merge(trained.groupby(keys, as_index=False)["trained_ari"].mean(), on=keys, how="left")


def gains(table: pd.DataFrame, alternatives: Sequence[str] = ALTERNATIVES) -> pd.DataFrame:
    """Per point, alternative and seed: the task-mean gain of groups in test log loss (positive = groups better)."""
    keys = _keys(table)
    parts = [
        gain_per_seed(paired(table, "test_bce", "groups", other, keys), keys).assign(alternative=other)
        for other in alternatives
    ]
    return pd.concat(parts, ignore_index=True)


def trained_as(partitions: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Per point: what the partition the groups arm trained amounts to: "mtl" (one group), "stl"
    (one task per group) or "groups" (neither, or jobs that differ; the only points where groups is
    a third network)."""
    trained = partitions[partitions["arm"] == "groups"]
    jobs = trained.groupby([*keys, "job"]).agg(groups=("group", "nunique"), tasks=("task", "nunique")).reset_index()
    jobs["trained_as"] = np.select([jobs["groups"] == 1, jobs["groups"] == jobs["tasks"]], ["mtl", "stl"], "groups")
    agree = jobs.groupby(list(keys))["trained_as"].agg(
        lambda kinds: kinds.iloc[0] if kinds.nunique() == 1 else "groups"
    )
    return agree.reset_index()


def distinct(part: pd.DataFrame, found: pd.DataFrame, keys: Sequence[str]) -> tuple[pd.DataFrame, Held]:
    """The rows of `part` at points where the trained partition is neither mtl nor stl, and the precondition."""
    points = part[list(keys)].drop_duplicates().merge(found, on=list(keys), how="left")
    use = points[points["trained_as"] == "groups"]
    other = points[points["trained_as"] != "groups"]
    said = "; ".join(f"task_groups={r['data.task_groups']:g}: groups is {r['trained_as']}" for _, r in other.iterrows())
    detail = f"neither at {len(use)} of {len(points)} point(s)" + (f"; {said}" if said else "")
    return part.merge(use[list(keys)], on=list(keys), how="inner"), Held(not use.empty, detail)


def tests(per_seed_ari: pd.DataFrame, gain: pd.DataFrame, found: pd.DataFrame) -> tuple[list, dict]:
    """The primary tests of every signal and their preconditions (see the module docstring)."""
    out, held = [], {}
    keys = _keys(gain)
    for signal, part in gain.groupby("train.grouping_signal"):
        ari = per_seed_ari[(per_seed_ari["train.grouping_signal"] == signal) & (per_seed_ari["data.task_groups"] > 1)]
        if not ari.empty:
            out.append((recovers(signal), ari.groupby("seed")["value"].mean() - RECOVERED, "every planted point"))
        planted, held_planted = distinct(part[part["data.task_groups"] > 1], found, keys)
        for other in ALTERNATIVES:
            criterion = beats(signal, other)
            values = planted[planted["alternative"] == other].groupby("seed")["gain"].mean()
            out.append((criterion, values, "every planted point with a third partition"))
            held[criterion] = held_planted
        whole = part[part["data.task_groups"] == 1]
        if not whole.empty:
            flat, held_flat = distinct(whole, found, keys)
            best = whole.groupby("alternative")["gain"].mean().idxmin()  # groups gains least over the better one
            out.append((ties(signal), flat[flat["alternative"] == best].groupby("seed")["gain"].mean(), f"vs {best}"))
            held[ties(signal)] = held_flat
    return out, held


@study("grouping")
def analyse(c: Collection) -> Section:
    keys = [k for k in POINT_KEYS if k in c.jobs.columns]
    table = with_config(c, [*keys, "data.tasks"])
    section = Section(
        c.name,
        "Grouping: which tasks should share a network",
        "Does the grouping search recover the planted groups, and does one network per group beat one all-task "
        "network and all-separate networks?",
    )
    kept, gate_note = gate(table, keys)
    section.notes.append(gate_note)
    partitions = c.partitions.merge(c.jobs[["job", *keys, "data.tasks"]], on="job", how="left")
    partitions = partitions[partitions["job"].isin(set(kept["job"]))]
    per_seed_ari, gain = ari_per_seed(partitions, keys), gains(kept)
    found = trained_as(partitions, keys)
    planned, held = tests(per_seed_ari, gain, found)
    section.verdicts = verdicts(planned, held=held)
    signals = sorted(gain["train.grouping_signal"].unique())
    fig, axes = style.figure(2)
    ari = summarize(per_seed_ari, ["train.grouping_signal", "data.task_groups"])
    for i, signal in enumerate(signals):
        color = style.series(i, len(signals))
        style.band(axes[0][0], ari[ari["train.grouping_signal"] == signal], "data.task_groups", signal, color)
        for other, line in zip(ALTERNATIVES, ("-", "--"), strict=True):
            part = summarize(
                gain[(gain["train.grouping_signal"] == signal) & (gain["alternative"] == other)],
                ["data.task_groups"],
                value="gain",
            )
            style.band(axes[0][1], part, "data.task_groups", f"{signal}: groups - {other}", color, line)
    style.zero_line(axes[0][0])
    style.zero_line(axes[0][1])
    axes[0][0].set_ylabel("adjusted Rand index, each seed's search")
    axes[0][1].set_ylabel("gain of groups (test log loss, nats)")
    for ax in axes[0]:
        ax.set_xlabel("planted groups (data.task_groups)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        else:  # no point passed the gate (or none has a groups arm): an empty panel, said so
            ax.text(0.5, 0.5, "no point to show", ha="center", va="center", transform=ax.transAxes)
    section.plot(
        c.name,
        style.titled(fig, "Grouping search: recovery of the planted groups, and the grouped network's gain"),
        "Left: adjusted Rand index of each seed's own search against the planted partition (1 = found, 0 = chance). "
        "Right: paired gain of the grouped network over the all-task network (solid) and the separate networks "
        f"(dashed), task mean per seed; positive = groups better. {held_equal(c)}",
    )
    curves = learning_curves(c, "data.task_groups", "Validation loss during training")
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            "Mean validation log loss over tasks per arm (95% CI over seeds), one panel per number of planted "
            "groups; signals averaged within a seed.",
        )
    rec = recovery(partitions)
    section.text = "\n".join(
        [
            "Recovery per point (ARI of each seed's search, and of the partition the groups arm trained):",
            "",
            markdown.table(
                ["signal", "planted groups", "ARI per seed", "trained partition's ARI"],
                (
                    [r["train.grouping_signal"], f"{r['data.task_groups']:g}"]
                    + (
                        [fmt(r["mean"], r["low"], r["high"], signed=False), f"{r['trained_ari']:.2f}"]
                        if r["data.task_groups"] > 1
                        else ["not applicable (one planted group: the ARI is undefined)", "not applicable"]
                    )
                    for _, r in rec.iterrows()
                ),
            ),
        ]
    )
    section.summary = point_summary(kept, keys, shared="groups")
    return section
