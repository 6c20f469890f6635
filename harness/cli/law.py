"""`python -m harness.law SWEEP [--held-out SWEEP2] [--out DIR] [--format png,pdf,svg]`: the fitted law.

Fits the law of the gain of sharing (harness/analysis/law.py; docs/analysis.md, "The fitted
law") to a sweep's per-seed gains, at the points that passed the learnability gate, and says
how well it predicts points it was not fitted on: the points of a second sweep (--held-out,
other grid values of the same family), or, without one, every other labels-per-task value of
SWEEP itself. Writes DIR/LAW.md (parameters with bootstrap intervals, fit and held-out R^2 and
RMSE, every point measured and predicted), DIR/law.json and the boundary figure DIR/law.FMT.
Default DIR: SWEEP/law. Each problem with the arguments or the sweeps is one line on stderr,
exit status 2, and nothing written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis import law, markdown, style
from harness.analysis.collect import CollectError, collect
from harness.cli.report import problems

NEEDED = ("mtl", "stl")


def sweep_rows(sweep: Path) -> tuple[pd.DataFrame, str]:
    """The sweep's per-seed gains for the law; CollectError naming the sweep when it cannot give any."""
    c = collect(sweep)
    suites = set(c.jobs.get("data.suite", pd.Series(["synthetic"])).astype(str))
    if suites != {"features"}:
        raise CollectError(f"{sweep}: the law is of the shared-features family (data.suite=features), not {suites}")
    missing = [arm for arm in NEEDED if arm not in set(c.table["arm"])]
    if missing:
        raise CollectError(f"{sweep}: no results of arm {', '.join(missing)}; the law's gain is stl minus mtl")
    rows, note = law.gain_rows(c)
    if rows.empty:
        raise CollectError(f"{sweep}: no point passed the learnability gate ({note})")
    return rows, note


def held_split(fit_rows: pd.DataFrame, held_rows: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.Series, str]:
    """All rows, which are held out, and the rule in words; CollectError when the fit has too few points."""
    if held_rows is not None:
        rows = pd.concat([fit_rows, held_rows], ignore_index=True)
        held = pd.Series([False] * len(fit_rows) + [True] * len(held_rows))
        rule = "the held-out sweep's points"
    else:
        split = law.held_within(fit_rows)
        if split is None:
            raise CollectError(
                "the fitted sweep has fewer than 3 values of data.n_per_task: nothing to hold out and still fit; "
                "pass --held-out SWEEP2"
            )
        rows, (held, rule) = fit_rows, split
    if rows.loc[~held.to_numpy(), ["n", "f", "w", "K"]].drop_duplicates().shape[0] < len(law.PARAMS):
        raise CollectError(f"fewer fitted points than the law's {len(law.PARAMS)} parameters")
    return rows, held, rule


def points_table(result: law.Fit) -> str:
    header = ["labels per task n", "f", "width w", "K", "held out", "measured gain", "predicted gain"]
    rows = [
        [f"{p.n:g}", f"{p.f:g}", f"{p.w:g}", f"{p.K:g}", "yes" if p.held_out else "", f"{p.measured:+.4f}"]
        + [f"{p.predicted:+.4f}"]
        for p in result.points.sort_values(["held_out", "w", "n", "f"]).itertuples()
    ]
    return markdown.table(header, rows)


def summary(result: law.Fit, rule: str) -> dict:
    return {
        "form": "g = a f (1 - 1/K) n^(-alpha) - c (1 - f) K / w",
        "params": {
            name: {"value": float(v), "low": float(lo), "high": float(hi)}
            for name, v, lo, hi in zip(law.PARAMS, result.params, result.low, result.high, strict=True)
        },
        "held_out": rule,
        "fit_r2": result.fit_r2,
        "held_r2": result.held_r2,
        "held_rmse": result.held_rmse,
        "points": result.points.to_dict(orient="records"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.law", description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path, help="the sweep the law is fitted on (data.suite=features, arms mtl, stl)")
    parser.add_argument("--held-out", type=Path, help="a second sweep whose points are predicted, not fitted")
    parser.add_argument("--out", type=Path, help="output folder (default: SWEEP/law)")
    parser.add_argument("--format", default="png", help="figure formats, comma-separated: png (300 dpi), pdf, svg")
    args = parser.parse_args(argv)
    try:
        formats = style.parse_formats(args.format)
    except ValueError as error:
        parser.error(str(error))
    sweeps = [args.sweep, *([args.held_out] if args.held_out else [])]
    bad = problems(sweeps, args.out)
    try:
        if bad:
            raise CollectError("; ".join(bad))
        fit_rows, note = sweep_rows(args.sweep)
        held_rows = sweep_rows(args.held_out)[0] if args.held_out else None
        rows, held, rule = held_split(fit_rows, held_rows)
    except CollectError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result = law.fit(rows, held)
    out = args.out or args.sweep / "law"
    out.mkdir(parents=True, exist_ok=True)
    middle = float(np.median(sorted(result.points["f"].unique())))
    n_held = float(result.points.loc[result.points["held_out"], "n"].median())
    nearest = min(result.points["n"].unique(), key=lambda n: abs(n - n_held))
    style.save(law.law_figure(result, middle, float(nearest)), out, "law", formats)
    (out / "law.json").write_text(json.dumps(summary(result, rule), indent=2) + "\n")
    held_from = f" Held out: {markdown.escape(args.held_out)}." if args.held_out else ""
    text = [
        f"# Fitted law of the gain of sharing: {markdown.escape(args.sweep)}",
        "",
        f"{note}{held_from}",
        "",
        law.law_text(result, rule),
        "",
        f"![law](law.{style.shown(formats)})",
        "",
        points_table(result),
        "",
    ]
    (out / "LAW.md").write_text("\n".join(text))
    print(out / "LAW.md")
    return 0
