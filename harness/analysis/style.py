"""One figure style: arm colours and labels (from harness/arms.py), bands, heat maps, saving.

Figures are matplotlib `Figure` objects (no pyplot state): a study builds them, the report
saves them in each format asked for (png at 300 dpi, pdf, svg). Fonts, sizes, grid and
resolution come from one style sheet shipped with the package, harness.mplstyle, applied
when this module is imported.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.style
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from harness.arms import ARMS, Arm

FORMATS = ("png", "pdf", "svg")
STYLE_SHEET = Path(__file__).with_name("harness.mplstyle")
matplotlib.style.use(STYLE_SHEET)
METRIC_LABEL = {
    "test_bce": "test log loss (nats, lower is better)",
    "test_auroc": "test AUROC (higher is better)",
    "test_acc": "test accuracy (higher is better)",
}
GAIN_LABEL = "gain of sharing: test log loss stl - mtl (nats)"
REFERENCE_STYLE = {"constant_bce": ("constant predictor", "0.4", "--"), "bayes_bce": ("Bayes optimum", "0.1", ":")}


def arm_style(name: str) -> Arm:
    """The arm's label, colour and line; an undeclared arm is an error, never a vanished curve."""
    if name not in ARMS:
        raise KeyError(f"arm {name!r} has no declaration in harness/arms.py")
    return ARMS[name]


def series(i: int, n: int) -> tuple:
    """The colour of line i of n that is not an arm (a task count, a weighting, a rho): from a
    sequential map, so it is never mistaken for an arm's colour."""
    return colormaps["viridis"](0.85 * i / max(n - 1, 1))


def arms_in(names) -> list[str]:
    """The arms present, in declaration order (so every figure lists them alike)."""
    present = set(names)
    unknown = sorted(present - set(ARMS))
    if unknown:
        arm_style(unknown[0])
    return [a for a in ARMS if a in present]


def figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.8):
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def band(ax, summary: pd.DataFrame, x: str, label: str, color=None, style: str = "-", marker: str | None = "o") -> None:
    """Mean line with its 95% CI as a shaded band; summary has columns x, mean, low, high."""
    s = summary.sort_values(x)
    ax.plot(s[x], s["mean"], style, marker=marker, ms=4, color=color, label=label)
    if s["low"].notna().any():
        ax.fill_between(s[x], s["low"], s["high"], color=ax.lines[-1].get_color(), alpha=0.18, lw=0)


def arm_band(ax, summary: pd.DataFrame, x: str, arm: str, marker: str | None = "o") -> None:
    style = arm_style(arm)
    band(ax, summary, x, style.label, style.color, style.line, marker)


def zero_line(ax) -> None:
    ax.axhline(0.0, color="0.3", lw=0.8, zorder=0)


def reference_lines(ax, references: dict[str, float]) -> None:
    """Horizontal lines for the constant predictor's and the Bayes optimum's log loss, when known."""
    for name, value in references.items():
        if name in REFERENCE_STYLE and np.isfinite(value):
            label, color, line = REFERENCE_STYLE[name]
            ax.axhline(value, color=color, ls=line, lw=1, label=label)


def log2_axis(ax, values) -> None:
    ax.set_xscale("log", base=2)
    ticks = sorted(set(values))
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(int(t)) if float(t).is_integer() else f"{t:g}" for t in ticks])
    ax.minorticks_off()


MARKS = {"helps": ("+", "-"), "hurts": ("\u2212", "--")}  # a significant cell's sign and its box's line


def heatmap(ax, cells: pd.DataFrame, x: str, y: str, limit: float, xlabel: str, ylabel: str):
    """Cells coloured by mean gain (diverging around 0).

    `cells` has columns x, y, mean, and optionally `mark` ("helps", "hurts" or "": the
    caller's test, e.g. after a multiple-comparison correction) and `excluded` (True: the
    cell is left out of every test; drawn hatched grey with "gate", never coloured). A
    marked cell gets a bold + (helps) or minus sign (hurts) and a box, solid or dashed. Where
    the grid is at least 2 x 2 and changes sign, a black line is drawn where the mean gain crosses
    0 (interpolated between the centres of cells that are not excluded).
    """
    xs, ys = sorted(cells[x].unique()), sorted(cells[y].unique())
    grid = np.full((len(ys), len(xs)), np.nan)
    for _, c in cells.iterrows():
        i, j = ys.index(c[y]), xs.index(c[x])
        if bool(c.get("excluded", False)):
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fc="0.88", ec="0.55", hatch="//", lw=0.8, zorder=2))
            ax.text(j, i, "gate", ha="center", va="center", fontsize=7, color="0.3", zorder=3)
            continue
        grid[i, j] = c["mean"]
        dark = abs(c["mean"]) > 0.6 * limit  # white text on the darkest cells
        color = "white" if dark else "black"
        mark = MARKS.get(c.get("mark", ""))
        ax.text(j, i + (0.15 if mark else 0), f"{c['mean']:+.3f}", ha="center", va="center", fontsize=7, color=color)
        if mark:
            sign, line = mark
            ax.text(j, i - 0.22, sign, ha="center", va="center", fontsize=11, fontweight="bold", color=color)
            ax.add_patch(Rectangle((j - 0.46, i - 0.46), 0.92, 0.92, fill=False, ec="black", lw=1.8, ls=line))
    image = ax.imshow(grid, cmap="RdBu", norm=TwoSlopeNorm(0.0, -limit, limit), origin="lower", aspect="auto")
    finite = grid[np.isfinite(grid)]
    if min(grid.shape) >= 2 and finite.size >= 4 and finite.min() < 0 < finite.max():  # the boundary: gain 0
        ax.contour(np.ma.masked_invalid(grid), levels=[0.0], colors="black", linewidths=1.6)
    ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return image


def titled(fig: Figure, title: str) -> Figure:
    fig.suptitle(title, fontsize=11)
    return fig


def save(fig: Figure, folder: Path, stem: str, formats: tuple[str, ...] = ("png",)) -> list[Path]:
    """Write `fig` as folder/stem.FMT for each format (the style sheet's 300 dpi for png)."""
    paths = [Path(folder) / f"{stem}.{fmt}" for fmt in formats]
    for path in paths:
        fig.savefig(path)
    return paths


def parse_formats(text: str) -> tuple[str, ...]:
    """`png,pdf` -> ("png", "pdf"); ValueError naming what is accepted."""
    formats = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"--format {text!r}: expected one or more of {', '.join(FORMATS)}, comma-separated")
    return formats


def shown(formats: tuple[str, ...]) -> str:
    """The format REPORT.md embeds: png or svg where written (a browser shows them), else the first."""
    return next((f for f in formats if f in ("png", "svg")), formats[0])
