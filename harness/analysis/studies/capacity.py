"""Capacity: Caruana's size criterion (experiments/capacity*.yaml).

On the shared-features family the sweep crosses data.shared_fraction: the claims are judged
where the tasks have features of their own (f < 1: a shared trunk needs about r + K m units,
each separate network r + m, the criterion's precondition), and the growth with K again at
f = 1 as the negative control (r units serve every task). Beside the verdicts, not tested:
the crossover width per K (where the mean gain turns from below 0 to at least 0, with a
bootstrap interval over seeds) against r + K m, and the (width, K) help/hurt map.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis import markdown, style
from harness.analysis.cells import cell_table, cell_tests, map_caption, map_figure
from harness.analysis.collect import Collection
from harness.analysis.common import (
    gate,
    held_equal,
    learning_curves,
    on_suite,
    point_summary,
    references,
    suite_of_jobs,
    with_config,
)
from harness.analysis.registry import Section, study
from harness.analysis.stats import gain_per_seed, paired, slopes, summarize
from harness.analysis.verdict import Criterion, untested, verdicts

FRACTION = "data.shared_fraction"
KEYS = ["data.tasks", "model.width", FRACTION]
BOOTSTRAP = 2000  # resamples of the seeds for the crossover's interval
TREND = Criterion(
    "Capacity (Caruana 1997): sharing hurts only when the shared network is too small",
    "the gain of sharing rises with width (< 0 when narrow, >= 0 when wide)",
    "per-seed slope of the task-mean gain (test log loss) against log2 width, fitted per K, all points",
    +1,
    0.005,
    "nats per doubling",
)
GROWS = Criterion(
    "Capacity: the width the shared network needs grows with K",
    "at the smallest width, more tasks lose more from sharing",
    "paired difference over seeds: gain at the smallest width, largest K minus smallest K",
    -1,
    0.01,
)
CONTROL = Criterion(
    "Capacity, negative control: without features of their own (f = 1) the width needed does not grow with K",
    "no effect: at the smallest width, the gain at the largest K minus the smallest K inside +-delta",
    "paired difference over seeds: gain at the smallest width, largest K minus smallest K, at shared_fraction 1",
    0,
    0.01,
)
EQUAL = Criterion(
    "Capacity: a shared network as large as all separate ones together still wins",
    "gain > 0 at equal total parameter count",
    "paired difference over seeds: mtl_equal_params vs stl, task mean, averaged over all points",
    +1,
    0.01,
)


def _gains(table: pd.DataFrame, metric: str, shared: str) -> pd.DataFrame:
    return gain_per_seed(paired(table, metric, shared, "stl", KEYS), KEYS)


def split(table: pd.DataFrame, features: bool) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(the rows the claims are judged on, the negative control's rows, where the claims are judged).

    On the features family: f < 1 (the tasks have features of their own) and f = 1; elsewhere
    every row, and no control.
    """
    if not features:
        return table, table.iloc[:0], ""
    own = table[FRACTION] < 1
    shares = ", ".join(f"{f:g}" for f in sorted(table.loc[own, FRACTION].unique()))
    return table[own], table[~own], f", shared_fraction {shares}" if shares else ""


def _narrow_difference(gain: pd.DataFrame) -> tuple[pd.Series, str] | None:
    """Per seed: the gain at the smallest width, largest K minus smallest K (None: fewer than two K)."""
    ks = sorted(gain["data.tasks"].unique())
    if len(ks) < 2:
        return None
    narrow = gain[gain["model.width"] == gain["model.width"].min()].pivot(index="seed", columns="data.tasks")
    diff = (narrow["gain"][ks[-1]] - narrow["gain"][ks[0]]).dropna()
    return diff, f"K={ks[-1]} minus K={ks[0]} at width {gain['model.width'].min():g}"


def _tests(table: pd.DataFrame, control: pd.DataFrame, shared: list[str], where: str) -> list:
    gain = _gains(table, "test_bce", "mtl")
    tests = []
    if gain["model.width"].nunique() >= 2:
        per_seed = slopes(gain.assign(x=np.log2(gain["model.width"])), "x", by=["data.tasks", FRACTION])
        tests.append((TREND, per_seed["slope"], f"slope over every (K, width) point{where}"))
    if (narrow := _narrow_difference(gain)) is not None:
        tests.append((GROWS, narrow[0], narrow[1] + where))
    if not control.empty and (narrow := _narrow_difference(_gains(control, "test_bce", "mtl"))) is not None:
        tests.append((CONTROL, narrow[0], narrow[1] + ", shared_fraction 1"))
    if "mtl_equal_params" in shared:
        equal = _gains(table, "test_bce", "mtl_equal_params").groupby("seed")["gain"].mean()
        tests.append((EQUAL, equal, f"mean over every (K, width) point{where}"))
    return tests


def crossing(widths: np.ndarray, gains: np.ndarray) -> float:
    """log2 of the width where the mean gain first turns from below 0 to at least 0.

    Interpolated linearly in log2 width between the two widths around the sign change; -inf
    when the gain is already >= 0 at the smallest width, +inf when it never turns.
    """
    x = np.log2(widths)
    if gains[0] >= 0:
        return -np.inf
    for i in range(1, len(x)):
        if gains[i] >= 0:
            return float(x[i - 1] + (x[i] - x[i - 1]) * -gains[i - 1] / (gains[i] - gains[i - 1]))
    return np.inf


def crossover(gain: pd.DataFrame, seed: int = 0) -> dict[str, float]:
    """The crossover width of one curve (rows: seed, model.width, gain) and its 95% bootstrap
    interval over seeds (percentiles of BOOTSTRAP resamples, log2 scale); `never`: the share
    of resamples whose mean gain never reached 0."""
    wide = gain.pivot_table(index="seed", columns="model.width", values="gain").dropna()
    widths, values = wide.columns.to_numpy(float), wide.to_numpy()
    draws = np.random.default_rng(seed).integers(0, len(values), size=(BOOTSTRAP, len(values)))
    boot = np.array([crossing(widths, values[d].mean(0)) for d in draws])
    low, high = np.percentile(boot, [2.5, 97.5], method="nearest")
    return {"at": crossing(widths, values.mean(0)), "low": low, "high": high, "never": float((boot == np.inf).mean())}


def _width_text(x: float, widths: list[float]) -> str:
    if x == -np.inf:
        return f"<= {widths[0]:g}"
    return f"> {widths[-1]:g}" if x == np.inf else f"{2**x:.3g}"


def crossovers(table: pd.DataFrame, features: bool) -> pd.DataFrame:
    """Per (f, K): the crossover width of mtl against stl, with the width a trunk needs (r + K m
    on the features family, r at f = 1; NaN elsewhere)."""
    gain = _gains(table, "test_bce", "mtl")
    rows = []
    for (f, k), part in gain.groupby([FRACTION, "data.tasks"]):
        if part["model.width"].nunique() < 2:
            continue
        job = table[(table[FRACTION] == f) & (table["data.tasks"] == k)].iloc[0]
        r, m = job.get("data.shared_features", np.nan), job.get("data.own_features", np.nan)
        need = (r + (k * m if f < 1 else 0)) if features else np.nan
        rows.append({FRACTION: f, "data.tasks": k, "need": need, **crossover(part)})
    return pd.DataFrame(rows, columns=[FRACTION, "data.tasks", "need", "at", "low", "high", "never"])


def crossover_table(cross: pd.DataFrame, widths: list[float], features: bool) -> str:
    lines = [
        "Crossover width (the width per network where the mean gain of mtl over stl turns from below 0 to at "
        "least 0, interpolated in log2 width; 95% bootstrap interval over seeds)"
        + (", beside the trunk a shared network needs, r + K m (r at f = 1):" if features else ":"),
        "",
    ]
    header = [
        *(["f", "K", "trunk needed"] if features else ["K"]),
        "crossover width (95% CI)",
        "resamples that never cross",
    ]
    rows = []
    for _, r in cross.iterrows():
        at = f"{_width_text(r['at'], widths)} [{_width_text(r['low'], widths)}, {_width_text(r['high'], widths)}]"
        lead = [f"{r[FRACTION]:g}", f"{r['data.tasks']:g}", f"{r['need']:g}"] if features else [f"{r['data.tasks']:g}"]
        rows.append([*lead, at, f"{r['never']:.0%}"])
    return "\n".join([*lines, markdown.table(header, rows)])


def crossover_figure(cross: pd.DataFrame, widths: list[float], features: bool):
    """Crossover width against K per f, with the trunk needed (r + K m) as a dotted line."""
    fig, axes = style.figure(1, width=5.2)
    ax = axes[0][0]
    lo, hi = np.log2(widths[0]) - 0.5, np.log2(widths[-1]) + 0.5  # where "never" and "already" are drawn
    for i, (f, part) in enumerate(cross.groupby(FRACTION)):
        color = style.series(i, cross[FRACTION].nunique())
        ax.plot(part["data.tasks"], 2 ** part["at"].clip(lo, hi), "o-", color=color, label=f"crossover, f = {f:g}")
        band = 2 ** part["low"].clip(lo, hi), 2 ** part["high"].clip(lo, hi)
        ax.fill_between(part["data.tasks"], *band, color=color, alpha=0.15)
        if features:
            ax.plot(part["data.tasks"], part["need"], ":", color=color, label=f"trunk needed, f = {f:g}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.axhline(2**hi, color="0.6", lw=0.8)
    ax.axhline(2**lo, color="0.6", lw=0.8)
    ax.set_xlabel("tasks K")
    ax.set_ylabel("width per network (units)")
    ax.legend(fontsize=7)
    return style.titled(fig, "Width where sharing stops hurting")


CARUANA = (
    "Caruana 1997 reports one shared net 16% below the best separate net's error and 28% below their mean "
    "(1D-ALVINN, Table 1), and 23.5% and 31.4% below (1D-DOORS, Table 2). Here the same layout in mean per-task "
    "test log loss, mtl at the largest width; a positive percentage means the shared net is below:"
)


def caruana_table(table: pd.DataFrame, keys: list[str]) -> str:
    """Caruana's Table 1 layout: separate networks at each width against the shared network.

    Mean per-task test log loss over seeds, one row per value of `keys`; the shared network
    (mtl) is taken at the largest width, and compared with the best and the mean of the
    separate networks over widths.
    """
    rows = table[table["metric"] == "test_bce"]
    loss = rows.groupby([*keys, "model.width", "arm"])["value"].mean().unstack("arm")
    widths = sorted(rows["model.width"].unique())
    names = ["f" if k == FRACTION else "K" for k in keys]
    header = [*names, *(f"stl w={w:g}" for w in widths), f"mtl w={widths[-1]:g}", "mtl vs best stl", "mtl vs mean stl"]
    body = []
    for key, part in loss.groupby(level=list(range(len(keys)))):
        part = part.droplevel(list(range(len(keys))))
        stl = part["stl"].reindex(widths)
        mtl = part["mtl"].get(widths[-1], np.nan)
        best, mean = stl.min(), stl.mean()
        cells = [f"{v:.4f}" for v in stl] + [f"{mtl:.4f}", f"{(best - mtl) / best:+.1%}", f"{(mean - mtl) / mean:+.1%}"]
        body.append([*(f"{v:g}" for v in key), *cells])
    return markdown.table(header, body)


def width_figure(table: pd.DataFrame, shared: list[str], suite: str, width_label: str):
    """Per K: each shared arm's gain (log loss, AUROC) and every arm's loss against width."""
    ks, widths = sorted(table["data.tasks"].unique()), sorted(table["model.width"].unique())
    fig, axes = style.figure(len(ks), 3)
    for col, k in enumerate(ks):
        at_k = table[table["data.tasks"] == k]
        for row, metric in enumerate(("test_bce", "test_auroc")):
            ax = axes[row][col]
            for arm in shared:
                g = summarize(_gains(at_k, metric, arm), ["model.width"], value="gain")
                style.arm_band(ax, g, "model.width", arm)
            style.zero_line(ax)
            ax.set_ylabel(("test log loss stl - shared" if row == 0 else "test AUROC shared - stl") + " (gain)")
        ax = axes[2][col]
        losses = at_k[at_k["metric"] == "test_bce"].groupby(["model.width", "arm", "seed"], as_index=False)
        summary = summarize(losses["value"].mean(), ["model.width", "arm"])
        for arm in style.arms_in(summary["arm"]):
            style.arm_band(ax, summary[summary["arm"] == arm], "model.width", arm)
        style.reference_lines(ax, references(at_k))
        ax.set_ylabel("mean per-task test log loss (nats)")
        for row in range(3):
            style.log2_axis(axes[row][col], widths)
            axes[row][col].set_xlabel(width_label)
        axes[0][col].set_title(f"K = {k:g} tasks")
    axes[0][0].legend(fontsize=7)
    axes[2][0].legend(fontsize=7)
    return style.titled(fig, f"Gain of sharing against width{suite}")


@study("capacity")
def analyse(c: Collection) -> Section:
    table = with_config(c, [*KEYS, "data.shared_features", "data.own_features"])
    suite, tag = on_suite(c)
    features = suite_of_jobs(c) == "features"
    section = Section(
        c.name,
        f"Capacity: Caruana's size criterion{suite}",
        "Does sharing hurt only when the shared network is too small, and does the width it needs grow with K?",
    )
    shared = [a for a in style.arms_in(table["arm"]) if a in ("mtl", "mtl_equal_params")]
    ks, widths = sorted(table["data.tasks"].unique()), sorted(table["model.width"].unique())
    cnn = c.jobs.iloc[0].get("model.kind") == "cnn"
    width_label = "channels per layer per network" if cnn else "hidden width per network (units)"
    main, _, where = split(table, features)
    if len(widths) >= 2:
        section.plot(
            c.name,
            width_figure(main, shared, suite, width_label),
            "Top two rows: paired gain of each shared arm over the separate networks (positive = sharing helped), "
            "task mean per seed, against the width of each network; one column per task count K"
            f"{where.replace(', ', ', at ')}. The equal-parameter shared network (dashed) is widened to the K "
            "separate networks' total parameter count. Bottom: each arm's mean test log loss, with the constant "
            f"predictor and the Bayes optimum where the suite knows them. {held_equal(c)}",
        )
    keys = KEYS if features else KEYS[:2]  # a suite without a shared fraction has no f column
    kept, gate_note = gate(table, keys)
    section.notes.append(gate_note)
    kept_main, kept_control, _ = split(kept, features)
    tests = _tests(kept_main, kept_control, shared, where)
    section.verdicts = verdicts(tests) if tests else [untested(TREND, "fewer than two widths passed the gate")]
    texts = [CARUANA + "\n\n" + caruana_table(main, [FRACTION, "data.tasks"] if features else ["data.tasks"])]
    cross = crossovers(kept, features)
    if not cross.empty:
        section.plot(
            f"{c.name}_crossover",
            crossover_figure(cross, widths, features),
            "The width per network at which the mean gain of mtl over stl (test log loss, task mean) turns from "
            "below 0 to at least 0, interpolated in log2 width, against the task count K (band: 95% bootstrap "
            "interval over seeds; a point on the upper grey line never crossed, one on the lower was already >= 0 "
            "at the smallest width)"
            + (
                ". Dotted: the hidden features a shared trunk must represent, r + K m (r at f = 1)."
                if features
                else "."
            )  # fmt: skip
            + f" Points that passed the learnability gate. {held_equal(c)}",
        )
        texts.append(crossover_table(cross, widths, features))
    if len(ks) >= 2 and len(widths) >= 2:
        cells = cell_tests(table, kept, keys)
        panel = FRACTION if features else None
        labels = (width_label, "tasks K", "shared fraction f")
        title = f"Gain of sharing over width x K{suite} (blue: sharing helps, red: hurts)"
        section.plot(f"{c.name}_map", map_figure(cells, "model.width", "data.tasks", panel, labels, title),
                     f"{map_caption(cells)} {held_equal(c)}")  # fmt: skip
        columns = {FRACTION: "f", "data.tasks": "K", "model.width": "width"}
        texts.append(cell_table(cells, {k: v for k, v in columns.items() if k in keys}))
    curves = learning_curves(c, "model.width", f"Validation loss during training{suite}")
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            "Mean validation log loss over tasks per arm (95% CI over seeds), "
            "one panel per width; task counts (and f) averaged within a seed.",
        )
    section.summary = point_summary(table, keys)
    section.text = "\n\n".join(texts)
    section.notes.append(
        "Standley et al. 2020 found one shared network best only at the smallest budget; compare the sign of the "
        "gain at the smallest widths above."
    )
    if tag:
        section.verdicts = [v.relabel(tag) for v in section.verdicts]
    return section
