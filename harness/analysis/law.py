"""A fitted law of the gain of sharing, and how well it predicts sweep points it was not fitted on.

The gain g (test log loss, stl minus mtl, task mean) at labels per task n, shared fraction
f, width per network w and task count K is modelled as

    g(n, f, w, K) = a f (1 - 1/K) n^(-alpha)  -  c (1 - f) K / w

The first term is what the shared features gain: a learning curve n^(-alpha) in the labels
each network sees for them (K n shared against n alone, to first order the fraction 1 - 1/K
of the curve's excess) and it scales with f. The second is what the trunk loses: the
features of their own the K tasks must fit into w units, as far as they carry weight (1 - f).
Three parameters (a, alpha, c), fitted by least squares to every seed's gain at every point
(scipy.optimize.least_squares); their 95% intervals come from refitting on seeds drawn with
replacement. Assumptions: one family of tasks (one r, m and noise), symmetric label budgets,
a learning rate chosen per arm, and a regime where both arms learned; it is not to be trusted
outside the grid's ranges, where the tasks share a different structure, or where a study's
precondition failed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

PARAMS = ("a", "alpha", "c")
START = (1.0, 0.5, 0.01)
BOUNDS = ((0.0, 0.0, 0.0), (np.inf, 2.0, np.inf))
RESAMPLES = 200
COLUMNS = ("n", "f", "w", "K")  # what the law reads from each row, besides seed and gain
KEYS = {"data.n_per_task": "n", "data.shared_fraction": "f", "model.width": "w", "data.tasks": "K"}


def gain_rows(c) -> tuple[pd.DataFrame, str]:
    """A sweep's per-seed gains (columns n, f, w, K, seed, gain) at the points that passed the
    learnability gate, and the gate's sentence for the report."""
    from harness.analysis.common import gate, with_config
    from harness.analysis.stats import gain_per_seed, paired

    keys = list(KEYS)
    kept, note = gate(with_config(c, keys), keys)
    return gain_per_seed(paired(kept, "test_bce", keys=keys), keys).rename(columns=KEYS), note


def held_within(rows: pd.DataFrame) -> tuple[pd.Series, str] | None:
    """Which rows of one sweep are held out of its fit, and the rule in words: every other
    labels-per-task value of the sorted grid, from the second (100, 300, 1000 holds out 300; the
    full profile's seven values hold out the three that lie between the four it fits). None with
    fewer than three values (nothing to hold out and still fit)."""
    values = sorted(rows["n"].unique())
    if len(values) < 3:
        return None
    held = values[1::2]
    return rows["n"].isin(held), f"labels per task = {', '.join(f'{v:g}' for v in held)}"


def predict(params: np.ndarray, n, f, w, k) -> np.ndarray:
    a, alpha, c = params
    n, f, w, k = (np.asarray(v, dtype=float) for v in (n, f, w, k))
    return a * f * (1 - 1 / k) * n ** (-alpha) - c * (1 - f) * k / w


def fit_params(rows: pd.DataFrame) -> np.ndarray:
    """Least squares over every (point, seed) row of `rows` (columns n, f, w, K, gain)."""
    x = [rows[col].to_numpy(float) for col in COLUMNS]
    y = rows["gain"].to_numpy(float)
    return least_squares(lambda p: predict(p, *x) - y, START, bounds=BOUNDS).x


def r_squared(measured: np.ndarray, predicted: np.ndarray) -> float:
    """1 - residual / total sum of squares about the measured mean (NaN for fewer than 2 values)."""
    measured, predicted = np.asarray(measured, float), np.asarray(predicted, float)
    total = float(((measured - measured.mean()) ** 2).sum())
    return 1 - float(((measured - predicted) ** 2).sum()) / total if len(measured) > 1 and total > 0 else np.nan


@dataclass(frozen=True)
class Fit:
    params: np.ndarray  # a, alpha, c
    low: np.ndarray  # 95% bootstrap interval over seeds
    high: np.ndarray
    fit_r2: float  # over the fitted points' seed means
    held_r2: float  # over the held-out points' seed means
    held_rmse: float  # nats
    points: pd.DataFrame  # per point: n, f, w, K, held_out, measured (seed mean), predicted


def fit(rows: pd.DataFrame, held_out: pd.Series, resamples: int = RESAMPLES, seed: int = 0) -> Fit:
    """The law fitted on the rows not `held_out` (a boolean per row, constant within a point),
    its bootstrap intervals over seeds, and its predictions of every point's seed-mean gain."""
    train = rows[~held_out]
    params = fit_params(train)
    rng = np.random.default_rng(seed)
    seeds = train["seed"].unique()
    by_seed = {s: part for s, part in train.groupby("seed")}
    draws = np.array(
        [fit_params(pd.concat([by_seed[s] for s in rng.choice(seeds, len(seeds))])) for _ in range(resamples)]
    )
    points = (
        rows.assign(held_out=held_out)
        .groupby(list(COLUMNS), as_index=False)
        .agg(held_out=("held_out", "first"), measured=("gain", "mean"))
    )
    points["predicted"] = predict(params, *(points[col] for col in COLUMNS))
    fitted, held = points[~points["held_out"]], points[points["held_out"]]
    rmse = float(np.sqrt(((held["measured"] - held["predicted"]) ** 2).mean())) if len(held) else np.nan
    return Fit(
        params,
        np.percentile(draws, 2.5, axis=0),
        np.percentile(draws, 97.5, axis=0),
        r_squared(fitted["measured"], fitted["predicted"]),
        r_squared(held["measured"], held["predicted"]),
        rmse,
        points,
    )


def law_text(result: Fit, held_rule: str) -> str:
    """Markdown: the fitted parameters with their intervals, and how well held-out points are predicted."""
    params = ", ".join(
        f"{name} = {value:.3g} [{low:.3g}, {high:.3g}]"
        for name, value, low, high in zip(PARAMS, result.params, result.low, result.high, strict=True)
    )
    held = result.points["held_out"].sum()
    return (
        "Fitted law of the gain (harness/analysis/law.py): g = a f (1 - 1/K) n^(-alpha) - c (1 - f) K / w, "
        f"least squares over seeds on the points other than {held_rule}; 95% intervals from {RESAMPLES} "
        f"bootstrap resamples of seeds: {params}. R^2 over the fitted points' seed means: "
        f"{result.fit_r2:.2f}. On the {held} held-out points ({held_rule}): R^2 {result.held_r2:.2f}, "
        f"RMSE {result.held_rmse:.4f} nats."
    )


def law_figure(result: Fit, f_for_capacity: float, n_for_capacity: float):
    """Left, one curve per width: the predicted boundary g = 0 over (labels per task, f), with the
    measured points (blue: the seed-mean gain > 0, red: < 0; hollow: held out). Right: the
    predicted boundary over (width, K) at the given f and n, with the measured (width, K) points."""
    from harness.analysis import style

    points = result.points
    k = float(points["K"].iloc[0])
    fig, axes = style.figure(2, width=5.0, height=4.0)
    left, right = axes[0]
    n = np.geomspace(points["n"].min() / 2, points["n"].max() * 2, 200)
    f = np.linspace(0, 1, 201)
    grid_n, grid_f = np.meshgrid(n, f)
    widths = sorted(points["w"].unique())
    for i, w in enumerate(widths):
        color = style.series(i, len(widths))
        left.contour(grid_n, grid_f, predict(result.params, grid_n, grid_f, w, k), levels=[0], colors=[color])
        left.plot([], [], color=color, label=f"predicted g = 0, width {w:g}")
    _measured(left, points, "n", "f", widths)
    left.set_xscale("log")
    left.set_ylim(-0.05, 1.05)
    left.set_xlabel("labels per task n")
    left.set_ylabel("shared fraction f")
    left.set_title(f"K = {k:g}: sharing predicted to help above each line", fontsize=9)
    left.legend(fontsize=7)
    w = np.geomspace(1, points["w"].max() * 4, 200)
    ks = np.linspace(2, max(32.0, 2 * k), 200)
    grid_w, grid_k = np.meshgrid(w, ks)
    right.contour(grid_w, grid_k, predict(result.params, n_for_capacity, f_for_capacity, grid_w, grid_k), levels=[0])
    near = points[(points["n"] == n_for_capacity) & (points["f"] == f_for_capacity)]
    _measured(right, near, "w", "K", widths)
    right.set_xscale("log", base=2)
    right.set_xlabel("width per network (units)")
    right.set_ylabel("tasks K")
    right.set_title(
        f"f = {f_for_capacity:g}, n = {n_for_capacity:g}: sharing predicted to help right of the line", fontsize=9
    )
    return style.titled(fig, "Fitted law of the gain of sharing: predicted boundary and measured points")


MARKERS = "osD^v"  # one per width


def _measured(ax, points: pd.DataFrame, x: str, y: str, widths: list[float]) -> None:
    """Measured cells: blue where the seed-mean gain > 0, red < 0; hollow if held out; a marker per width."""
    for _, p in points.iterrows():
        color = "tab:blue" if p["measured"] > 0 else "tab:red"
        face = "none" if p["held_out"] else color
        i = widths.index(p["w"])
        marker = MARKERS[i % len(MARKERS)]
        shift = 1.08 ** (i - (len(widths) - 1) / 2) if x == "n" else 1.0  # side by side, not on top
        ax.scatter(p[x] * shift, p[y], s=36, marker=marker, facecolors=face, edgecolors=color, zorder=3)
    for i, w in enumerate(widths):
        ax.scatter(
            [],
            [],
            marker=MARKERS[i % len(MARKERS)],
            facecolors="none",
            edgecolors="0.3",
            label=f"measured, width {w:g}",
        )
