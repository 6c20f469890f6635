"""Which tasks should share: TAG's lookahead affinity against measured pair gains (experiments/affinity.yaml).

Z_{i->j} is measured on the all-task network (arm mtl) and averaged over steps; the pair
gain of task j with partner i is stl's test log loss of j minus that of head j of the
network trained on the pair (i, j) (arm pairs). Both are per seed.

Criteria, fixed before any run:

1. PREDICTS: per seed, the Spearman correlation of Z(i->j) and the pair gain over every
   directed pair; t interval over seeds. The pairs of one seed share tasks, so they are
   not independent: the verdict also needs a permutation test over tasks (`permutation_test`:
   each seed's affinity matrix relabelled by a random permutation of its tasks, the gains
   kept) to give a one-sided p below 0.05 before it can read "holds".
2. RECOVERS: per seed, the partition the grouping search (`harness.runs.grouping.choose`, the
   same search the groups arm runs) picks from that seed's affinity matrix, against the
   planted groups (task k in group k mod G) by the adjusted Rand index, averaged over the
   jobs with planted groups (data.task_groups > 1); t test over seeds that the ARI is above
   grouping's RECOVERED (found in most seeds); significantly below it is a failure of the
   affinity signal at these settings (contradicted).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle
from scipy import stats

from harness.analysis import style
from harness.analysis.collect import Collection
from harness.analysis.common import gate, held_equal, learning_curves, with_config
from harness.analysis.registry import Section, study
from harness.analysis.stats import mean_ci
from harness.analysis.studies.grouping import ARI_DELTA, RECOVERED, ari_per_seed
from harness.analysis.verdict import Criterion, verdicts
from harness.runs import grouping

KEYS = ["data.relatedness"]
PREDICTS = Criterion(
    "Affinity (Fifty et al. 2021): higher Z(i->j) predicts a larger gain of j when paired with i",
    "Spearman correlation of affinity and pair gain > 0",
    "per-seed Spearman correlation over every directed pair (all rho), t interval over seeds; holds only if the "
    "permutation test over tasks also gives p < 0.05",
    +1,
    0.1,
    "(Spearman)",
    difference=False,
)
RECOVERS = Criterion(
    "Affinity recovers the planted groups",
    f"adjusted Rand index of the partition chosen from each seed's affinity against the planted one >= {RECOVERED:g}",
    "per-seed ARI of the grouping search on that seed's affinity matrix, averaged over the jobs with planted "
    f"groups (task_groups > 1), minus {RECOVERED:g}, t interval over seeds",
    +1,
    ARI_DELTA,
    f"(ARI - {RECOVERED:g})",
    needs="jobs with two or more planted groups (else the ARI is undefined) passed the gate",
    difference=False,
)
PERMUTATIONS = 2000  # relabellings of the tasks in the permutation test
PERMUTATION_SEED = 0  # the test is deterministic


def _spearman_rows(z: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of z [P, n] with gain [n] (average ranks for ties)."""
    rz = stats.rankdata(z, axis=1)
    rg = stats.rankdata(gain)
    rz = rz - rz.mean(axis=1, keepdims=True)
    rg = rg - rg.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rz @ rg) / np.sqrt((rz**2).sum(axis=1) * (rg**2).sum())


def permutation_test(
    points: pd.DataFrame, permutations: int = PERMUTATIONS, seed: int = PERMUTATION_SEED
) -> tuple[float, float, int]:
    """(statistic, one-sided p, seeds used) of the permutation test over tasks.

    Statistic: the mean over seeds of each seed's Spearman correlation of z and gain over
    its directed pairs (every job of the seed together). Null: in each seed and job the
    tasks of the affinity matrix are relabelled by one random permutation pi,
    Z'(i, j) = Z(pi(i), pi(j)), while the gains stay; p = (1 + #{null >= statistic}) / (1 + P),
    for the predicted direction (> 0). A seed enters only when its points cover every
    directed pair of each of its jobs (so that a relabelled pair is always measured).
    """
    rng = np.random.default_rng(seed)
    observed, null = [], []
    for _, part in points.groupby("seed", sort=True):
        measured, relabelled, gains, complete = [], [], [], True
        for _, block in part.groupby("job", sort=True):
            i, j = block["i"].to_numpy(int), block["j"].to_numpy(int)
            k = int(max(i.max(), j.max())) + 1
            z = np.full((k, k), np.nan)
            z[i, j] = block["z"].to_numpy(float)
            complete &= bool(np.isfinite(z[~np.eye(k, dtype=bool)]).all() and np.isfinite(block["gain"]).all())
            pi = np.argsort(rng.random((permutations, k)), axis=1)  # one permutation of the tasks per row
            measured.append(z[i, j])
            relabelled.append(z[pi[:, i], pi[:, j]])  # [P, pairs]
            gains.append(block["gain"].to_numpy(float))
        if not complete or len(part) < 3:
            continue
        gain = np.concatenate(gains)
        observed.append(_spearman_rows(np.concatenate(measured)[None, :], gain)[0])
        null.append(_spearman_rows(np.concatenate(relabelled, axis=1), gain))
    if not observed:
        return math.nan, math.nan, 0
    statistic, spread = float(np.mean(observed)), np.mean(null, axis=0)
    p = (1 + int(np.sum(spread >= statistic - 1e-12))) / (1 + permutations)
    return statistic, float(p), len(observed)


def recovery_per_seed(affinity: pd.DataFrame, jobs: pd.DataFrame) -> pd.DataFrame:
    """Per job with planted groups (data.task_groups > 1) and seed: the ARI of the partition the
    grouping search picks from that seed's affinity matrix alone, against the planted groups.

    `jobs` has columns job, data.tasks, data.task_groups and (optionally) train.max_networks.
    """
    config = jobs.set_index("job")
    rows = []
    for (job, seed), part in affinity.groupby(["job", "seed"], sort=True):
        if job not in config.index or int(config.loc[job, "data.task_groups"]) < 2:
            continue
        k = int(config.loc[job, "data.tasks"])
        signal = np.full((1, k, k), np.nan)
        signal[0, part["i"].to_numpy(int), part["j"].to_numpy(int)] = part["z"].to_numpy(float)
        limit = int(config.loc[job, "train.max_networks"]) if "train.max_networks" in config else 0
        labels = grouping.labels_of(grouping.choose(signal, limit).partition, k)
        rows += [{"job": job, "arm": "search", "seed": seed, "task": t, "group": int(g)} for t, g in enumerate(labels)]
    found = pd.DataFrame(rows, columns=["job", "arm", "seed", "task", "group"])
    found = found.merge(jobs[["job", "data.tasks", "data.task_groups"]], on="job")
    return ari_per_seed(found, ["data.task_groups"])


def pair_points(c: Collection, table: pd.DataFrame) -> pd.DataFrame:
    """Per job, seed and directed pair (i -> j): the affinity Z_{i->j} and the gain of j from sharing with i."""
    loss = table[table["metric"] == "test_bce"]
    alone = loss[loss["arm"] == "stl"].set_index(["job", "task", "seed"])["value"]
    pairs = loss[loss["arm"] == "pairs"]
    groups = c.arms[c.arms["arm"] == "pairs"].set_index("job")["groups"]
    rows = []
    for r in pairs.itertuples():
        i = next(t for t in groups[r.job][r.network] if t != r.task)
        rows.append(
            {"job": r.job, "seed": r.seed, "i": i, "j": r.task, "gain": alone[(r.job, r.task, r.seed)] - r.value}
        )
    points = pd.DataFrame(rows, columns=["job", "seed", "i", "j", "gain"])
    return points.merge(c.affinity, on=["job", "seed", "i", "j"], how="inner")


def affinity_panel(ax, part: pd.DataFrame, names: dict):
    """One job's mean Z over seeds as a labelled heat map, tasks ordered by planted group; the
    planted groups boxed (solid) and the cells of the found groups (search on every seed's
    matrix together) outlined dashed. Returns the image (for its colour bar)."""
    k, planted = int(part["i"].max()) + 1, int(part["data.task_groups"].iloc[0])
    order = sorted(range(k), key=lambda t: (t % planted, t))  # task t is in planted group t mod G
    at = {t: n for n, t in enumerate(order)}
    mean, half = np.full((k, k), np.nan), np.full((k, k), np.nan)
    for (i, j), cell in part.groupby(["i", "j"]):
        m, _, high, _ = mean_ci(cell["z"].to_numpy())
        mean[at[i], at[j]], half[at[i], at[j]] = m, high - m
    off = ~np.eye(k, dtype=bool)
    limit = float(np.nanmax(np.abs(mean[off]))) or 1.0
    image = ax.imshow(np.where(off, mean, np.nan), cmap="RdBu", vmin=-limit, vmax=limit)  # self-affinity: printed
    for (r, c), value in np.ndenumerate(mean):
        ax.text(c, r, f"{value:.1e}\n±{half[r, c]:.0e}", ha="center", va="center", fontsize=5.5)
    signal = np.full((part["seed"].nunique(), k, k), np.nan)
    seeds = {s: n for n, s in enumerate(sorted(part["seed"].unique()))}
    signal[part["seed"].map(seeds), part["i"], part["j"]] = part["z"]
    for group in grouping.choose(signal).partition:
        for i in group:
            for j in (j for j in group if j != i):
                ax.add_patch(Rectangle((at[j] - 0.42, at[i] - 0.42), 0.84, 0.84, fill=False, ec="0.15", ls="--", lw=1))
    start = 0
    for g in range(planted):
        size = sum(1 for t in range(k) if t % planted == g)
        ax.add_patch(Rectangle((start - 0.5, start - 0.5), size, size, fill=False, ec="black", lw=2.2))
        start += size
    labels = [str(names.get(t, t)) for t in order]
    ax.set_xticks(range(k), labels, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(k), labels, fontsize=7)
    ax.set_xlabel("j (task helped)")
    ax.set_ylabel("i (task stepped)")
    ax.grid(False)
    return image


@study("affinity")
def analyse(c: Collection) -> Section:
    table = with_config(c, KEYS)
    section = Section(
        c.name,
        "Which tasks should share: TAG affinity vs measured pair gains",
        "Does the lookahead inter-task affinity (Fifty et al. 2021) predict the gain of training two tasks together?",
    )
    if c.affinity.empty or "pairs" not in set(table["arm"]):
        section.notes.append("No affinity matrix or no pairs arm in these results: nothing to compare.")
        return section
    points = pair_points(c, table).merge(c.jobs[["job", *KEYS]], on="job")
    rhos = sorted(points["data.relatedness"].unique())
    cols = min(3, len(rhos) + 1)
    rows = -(-(len(rhos) + 1) // cols)
    fig, axes = style.figure(cols, rows, width=4.0, height=3.6)
    flat = list(axes.flat)
    matrix = c.affinity.merge(c.jobs[["job", *KEYS, "data.task_groups"]], on="job")
    names = table.drop_duplicates("task").set_index("task")["task_name"].to_dict()
    for ax, rho in zip(flat, rhos, strict=False):
        part = matrix[matrix["data.relatedness"] == rho]
        fig.colorbar(affinity_panel(ax, part, names), ax=ax, fraction=0.046, label="Z (raw)")
        ax.set_title(f"Z(i->j), rho = {rho:g}", fontsize=9)
    ax = flat[len(rhos)]
    for n, (rho, part) in enumerate(points.groupby("data.relatedness")):
        color = style.series(n, len(rhos))
        seed_mean = part.groupby(["i", "j"], as_index=False)[["z", "gain"]].mean()
        ax.scatter(seed_mean["z"], seed_mean["gain"], s=16, color=color, label=f"rho = {rho:g}")
    style.zero_line(ax)
    ax.set_xlabel("affinity Z(i->j), seed mean")
    ax.set_ylabel("gain of j paired with i (log loss, nats)")
    ax.legend(fontsize=7)
    for spare in flat[len(rhos) + 1 :]:
        spare.axis("off")
    section.plot(
        c.name,
        style.titled(fig, "TAG affinity per relatedness, and affinity against the measured pair gain"),
        "Mean Z(i->j) over seeds, raw values on one colour scale per panel (the diagonal, self-affinity, is printed "
        "but not coloured), with the half-width of its 95% interval. Tasks are ordered by planted group; solid "
        "boxes: the planted groups; dashed cells: i and j in one group of the partition the search finds from "
        "the seeds' matrices together. Last panel: affinity against pair gain. "
        f"{held_equal(c)}",
    )
    kept, gate_note = gate(table, KEYS)
    section.notes.append(gate_note)
    usable = points[points["job"].isin(set(kept["job"]))]
    per_seed = [
        stats.spearmanr(part["z"], part["gain"]).statistic for _, part in usable.groupby("seed") if len(part) >= 3
    ]
    _, p, seeds = permutation_test(usable)
    tests = [(PREDICTS, per_seed, f"{len(usable)} (pair, seed) points")]
    confirm = {PREDICTS: (f"permutation test over tasks ({PERMUTATIONS:,} relabellings, {seeds} seeds), one-sided", p)}
    planted = c.jobs[c.jobs["job"].isin(set(kept["job"])) & (c.jobs["data.task_groups"] > 1)]
    if not planted.empty:
        ari = recovery_per_seed(c.affinity, planted)
        above = ari.groupby("seed")["value"].mean() - RECOVERED
        tests.append((RECOVERS, above, f"{len(planted)} job(s) with planted groups"))
    section.verdicts = verdicts(tests, confirm)
    curves = learning_curves(c, "data.relatedness", "Validation loss during training")
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            "Mean validation log loss over heads per arm (95% CI over seeds), one panel per rho.",
        )
    return section
