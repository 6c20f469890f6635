"""Which tasks should share: TAG's lookahead affinity against measured pair gains (harness/experiments/affinity.yaml).

Z_{i->j} is measured on the all-task network (arm mtl) and averaged over steps; the pair
gain of task j with partner i is stl's test log loss of j minus that of head j of the
network trained on the pair (i, j) (arm pairs). Both are per seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from harness.analysis import style
from harness.analysis.collect import Collection
from harness.analysis.common import gate, held_equal, learning_curves, with_config
from harness.analysis.registry import Section, study
from harness.analysis.stats import mean_ci
from harness.analysis.verdict import Criterion, verdicts

KEYS = ["data.relatedness"]
PREDICTS = Criterion(
    "Affinity (Fifty et al. 2021): higher Z(i->j) predicts a larger gain of j when paired with i",
    "Spearman correlation of affinity and pair gain > 0",
    "per-seed Spearman correlation over every directed pair (all rho), t interval over seeds",
    +1,
    0.1,
    "(Spearman)",
)


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
    matrix = c.affinity.merge(c.jobs[["job", *KEYS]], on="job")
    for ax, rho in zip(flat, rhos, strict=False):
        part = matrix[matrix["data.relatedness"] == rho]
        k = int(part["i"].max()) + 1
        mean, half = np.full((k, k), np.nan), np.full((k, k), np.nan)
        for (i, j), cell in part.groupby(["i", "j"]):
            m, low, high, _ = mean_ci(cell["z"].to_numpy())
            mean[i, j], half[i, j] = m, high - m
        off = ~np.eye(k, dtype=bool)
        limit = float(np.nanmax(np.abs(mean[off]))) or 1.0
        shown = np.where(off, mean, np.nan)  # self-affinity is far larger: printed, not coloured
        image = ax.imshow(shown, cmap="RdBu", vmin=-limit, vmax=limit)
        for (i, j), value in np.ndenumerate(mean):
            ax.text(j, i, f"{value:.1e}\n±{half[i, j]:.0e}", ha="center", va="center", fontsize=6)
        ax.set_title(f"Z(i->j), rho = {rho:g}", fontsize=9)
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
        ax.set_xlabel("j (task helped)")
        ax.set_ylabel("i (task stepped)")
        fig.colorbar(image, ax=ax, fraction=0.046, label="Z (raw)")
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
        "but not coloured), with the half-width of its 95% interval; last panel: affinity against pair gain. "
        f"{held_equal(c)}",
    )
    kept, gate_note = gate(table, KEYS)
    section.notes.append(gate_note)
    usable = points[points["job"].isin(set(kept["job"]))]
    per_seed = [
        stats.spearmanr(part["z"], part["gain"]).statistic for _, part in usable.groupby("seed") if len(part) >= 3
    ]
    section.verdicts = verdicts([(PREDICTS, per_seed, f"{len(usable)} (pair, seed) points")])
    curves = learning_curves(c, "data.relatedness", "Validation loss during training")
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            "Mean validation log loss over heads per arm (95% CI over seeds), one panel per rho.",
        )
    return section
