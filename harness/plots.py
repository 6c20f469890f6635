"""Matplotlib drawing helpers (Agg): lines with confidence bands, and help/hurt heat maps."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402

ARM_STYLE = {
    "mtl": ("shared network (mtl)", "C0", "-"),
    "stl": ("separate networks (stl)", "C1", "-"),
    "mtl_equal_params": ("shared, equal total params", "C2", "--"),
    "mtl_drop": ("shared, rows with '?' dropped", "C3", "-."),
    "mtl_zero": ("shared, '?' read as 0", "C4", ":"),
    "groups": ("one network per group of tasks (groups)", "C5", "-"),
}
METRIC_LABEL = {
    "test_bce": "test log loss (nats, lower is better)",
    "test_auroc": "test AUROC (higher is better)",
    "test_acc": "test accuracy (higher is better)",
}


def figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.8):
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    return fig, axes


def band(ax, summary: pd.DataFrame, x: str, label: str, color=None, style: str = "-", marker: str = "o") -> None:
    """Mean line with its 95% CI as a shaded band; summary has columns x, mean, low, high."""
    s = summary.sort_values(x)
    ax.plot(s[x], s["mean"], style, marker=marker, ms=4, color=color, label=label)
    if s["low"].notna().any():
        ax.fill_between(s[x], s["low"], s["high"], color=ax.lines[-1].get_color(), alpha=0.18, lw=0)


def zero_line(ax) -> None:
    ax.axhline(0.0, color="0.3", lw=0.8, zorder=0)


def log2_axis(ax, values) -> None:
    ax.set_xscale("log", base=2)
    ticks = sorted(set(values))
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(int(t)) if float(t).is_integer() else f"{t:g}" for t in ticks])
    ax.minorticks_off()


def heatmap(ax, cells: pd.DataFrame, x: str, y: str, limit: float, xlabel: str, ylabel: str):
    """Cells coloured by mean gain (diverging around 0); a dot marks a CI that excludes 0."""
    xs, ys = sorted(cells[x].unique()), sorted(cells[y].unique())
    grid = np.full((len(ys), len(xs)), np.nan)
    for _, c in cells.iterrows():
        i, j = ys.index(c[y]), xs.index(c[x])
        grid[i, j] = c["mean"]
        significant = c["low"] > 0 or c["high"] < 0
        ax.text(j, i, f"{c['mean']:+.3f}" + ("\n*" if significant else ""), ha="center", va="center", fontsize=7)
        if significant:
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="black", lw=1.6))
    image = ax.imshow(grid, cmap="RdBu", norm=TwoSlopeNorm(0.0, -limit, limit), origin="lower", aspect="auto")
    ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return image


def save(fig, path: Path, title: str) -> Path:
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
