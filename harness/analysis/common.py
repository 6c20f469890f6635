"""Pieces every study uses: config columns, what was held equal, point summaries, the
learnability gate, reference lines and the learning-curve figure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis import markdown, style
from harness.analysis.collect import Collection
from harness.analysis.stats import delta_m, gain_summary, summarize
from harness.analysis.verdict import fmt
from harness.data import SUITES

GATE = 0.5  # default share of the constant-to-Bayes AUROC gap the separate networks must close


def with_config(c: Collection, keys: list[str]) -> pd.DataFrame:
    """The long table with config columns `keys` (swept or not) attached."""
    missing = [k for k in keys if k not in c.table.columns]
    if not missing:
        return c.table
    return c.table.merge(c.jobs[["job", *missing]], on="job", how="left")


def suite_of_jobs(c: Collection) -> str:
    return str(c.jobs.iloc[0].get("data.suite", "synthetic"))


def on_suite(c: Collection) -> tuple[str, str]:
    """(title suffix, verdict prefix) naming a non-synthetic suite and its trunk; empty for the
    generated families (synthetic, features), which every criterion is first stated for."""
    j = c.jobs.iloc[0]
    suite = suite_of_jobs(c)
    if suite in ("synthetic", "features"):
        return "", ""
    title = SUITES[suite].title if suite in SUITES else suite
    name = f"{title}, {str(j['model.kind']).upper()} trunk"
    return f" ({name})", f"[{name}] "


def learning_rate_text(j: pd.Series) -> str:
    """What ran: the grid and what chose from it, or the one learning rate."""
    grid = j.get("train.lr_grid")
    if not isinstance(grid, str) or not grid:
        return f"lr {j['train.lr']:g}"
    values = ", ".join(f"{float(v):g}" for v in grid.split(","))
    on = "the target's" if j.get("train.lr_objective", "tasks") == "target" else "the sum of its tasks'"
    return f"lr chosen per arm, seed and network from [{values}] on {on} validation loss"


def held_equal(c: Collection) -> str:
    j = c.jobs.iloc[0]
    size = int(j["train.batch_size"])
    batch = f"batch {size} per network from the union of its tasks' labelled rows (sampling union)"
    if j.get("train.sampling", "union") == "per_task":
        batch = f"batch {size} per task and network, each from the task's own labelled rows (sampling per_task)"
    return (
        f"Held equal: the same data draw per seed for every arm, {int(j['train.steps'])} steps per network, "
        f"{j['train.optimizer']} ({learning_rate_text(j)}), {batch}, "
        f"per-task early stopping on validation loss (checked every {int(j['train.eval_every'])} steps), "
        f"paired seeds (n = {int(j['train.seeds'])}); bands and brackets are 95% t intervals over seeds."
    )


def point_summary(table: pd.DataFrame, keys: list[str], shared: str = "mtl", separate: str = "stl") -> pd.DataFrame:
    """Per sweep point: gain in test log loss and Delta_m (%), each with its 95% CI."""
    gain = gain_summary(table, "test_bce", keys, shared, separate)
    dm = summarize(delta_m(table, keys, shared, separate), keys, value="delta")
    out = gain.merge(dm, on=keys, suffixes=("", "_dm"))
    return out.rename(columns={"mean": "gain", "low": "gain_low", "high": "gain_high", "n": "seeds"}).rename(
        columns={"mean_dm": "delta_m", "low_dm": "delta_m_low", "high_dm": "delta_m_high"}
    )[[*keys, "gain", "gain_low", "gain_high", "delta_m", "delta_m_low", "delta_m_high", "seeds"]]


def references(table: pd.DataFrame) -> dict[str, float]:
    """Mean constant-predictor and Bayes log loss over the rows given (NaN when unknown)."""
    out = {}
    for name in ("constant_bce", "bayes_bce"):
        values = table.loc[table["metric"] == name, "value"]
        out[name] = float(values.mean()) if values.notna().any() else np.nan
    return out


def learned_share(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame | None:
    """Per point of `keys` (per job without keys): arm stl's mean learned_auroc, column `learned`;
    None when the results carry none."""
    learned = table[(table["metric"] == "learned_auroc") & (table["arm"] == "stl")]
    if learned.empty or learned["value"].isna().all():
        return None
    return learned.groupby(keys or ["job"], dropna=False)["value"].mean().rename("learned").reset_index()


def gate(table: pd.DataFrame, keys: list[str], threshold: float = GATE) -> tuple[pd.DataFrame, str]:
    """Keep the points where arm stl closed at least `threshold` of the AUROC gap (learned_auroc).

    Returns the kept rows and a sentence for the report: the threshold, and every excluded
    point with its learned fraction, or why the gate was skipped.
    """
    by, share = keys or ["job"], learned_share(table, keys)
    if share is None:
        return (
            table,
            "Learnability gate skipped: the results carry no learned_auroc (non-synthetic suite or old results).",
        )
    low = share[share["learned"] < threshold]
    note = (
        f"Learnability gate: a point enters a verdict when the separate networks closed at least {threshold:.0%} of "
        "the AUROC gap between the constant predictor and the Bayes optimum (mean learned_auroc of arm stl)"
    )
    if low.empty:
        return table, note + "; every point passed."
    listed = "; ".join(
        ", ".join(f"{k}={r[k]:g}" if isinstance(r[k], int | float) else f"{k}={r[k]}" for k in by)
        + f" ({r['learned']:.0%})"
        for _, r in low.iterrows()
    )
    kept = table.merge(share[share["learned"] >= threshold][by], on=by, how="inner")
    return kept, f"{note}. Excluded ({len(low)} of {len(share)}): {listed}."


def gate_table(table: pd.DataFrame, keys: list[str], threshold: float = GATE) -> str:
    """Markdown: every point's learned fraction (arm stl's mean learned_auroc) against the gate's
    threshold, and whether it entered the verdicts; empty when the results carry none."""
    by, share = keys or ["job"], learned_share(table, keys)
    if share is None:
        return ""
    lines = [
        f"Learnability gate, point by point (a point enters a verdict at a learned fraction of at least "
        f"{threshold:.0%}):",
        "",
    ]
    rows = [
        [*(f"{r[k]:g}" if isinstance(r[k], int | float) else markdown.escape(r[k]) for k in by), f"{r['learned']:.0%}"]
        + ["passed" if r["learned"] >= threshold else "excluded"]
        for _, r in share.iterrows()
    ]
    return "\n".join([*lines, markdown.table([*by, "learned fraction (stl)", "gate"], rows)])


def learning_curves(c: Collection, key: str | None, title: str, panels: int = 4, target: bool = False):
    """Validation log loss against step per arm (mean over tasks, 95% CI over seeds).

    One panel per value of `key` (at most `panels`, spread over its range); other swept
    keys are averaged within a seed; `target`: the target task (data.target) alone. None
    when the results hold no curves.
    """
    curves = c.curves
    if curves.empty:
        return None
    extra = [k for k in ([key] if key else []) + (["data.target"] if target else []) if k not in curves]
    curves = curves.merge(c.jobs[["job", *extra]], on="job", how="left") if extra else curves
    if target:
        curves = curves[curves["task"] == curves["data.target"]]
    values = sorted(curves[key].unique()) if key is not None else [None]
    if len(values) > panels:
        values = [values[i] for i in np.linspace(0, len(values) - 1, panels).round().astype(int)]
    fig, axes = style.figure(len(values), width=4.2, height=3.4)
    for ax, value in zip(axes[0], values, strict=True):
        part = curves if key is None else curves[curves[key] == value]
        per_seed = part.groupby(["arm", "seed", "step"], as_index=False)["val_bce"].mean()
        summary = summarize(per_seed, ["arm", "step"], value="val_bce")
        for arm in style.arms_in(summary["arm"]):
            style.arm_band(ax, summary[summary["arm"] == arm], "step", arm, marker=None)
        style.reference_lines(ax, references(c.table[c.table["job"].isin(set(part["job"]))]))
        ax.set_xlabel("training step")
        ax.set_ylabel("validation log loss (nats)")
        if key is not None:
            ax.set_title(f"{key} = {value:g}" if isinstance(value, int | float) else f"{key} = {value}", fontsize=9)
    axes[0][0].legend(fontsize=7)
    return style.titled(fig, title)


def ci_row(row, name: str = "gain", digits: int = 4) -> str:
    return fmt(row[name], row[f"{name}_low"], row[f"{name}_high"], digits)
