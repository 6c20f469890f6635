"""The line a single run prints at its end: each arm's task-mean test log loss and the gain of sharing."""

from __future__ import annotations

import pandas as pd

from harness.analysis.stats import mean_ci
from harness.analysis.verdict import fmt


def run_summary(result: dict) -> str | None:
    """`test log loss (task mean, 3 seeds): mtl 0.6521, stl 0.6600; gain of sharing (stl - mtl) +0.0079 [...]`.

    None for a result without records (failed or diverged). The gain is paired: per seed,
    over the tasks both arms report, then a t interval over seeds.
    """
    records = pd.DataFrame(result.get("records") or [])
    if records.empty:
        return None
    per_seed = records.groupby(["arm", "seed", "task"])["test_bce"].mean().unstack("arm")
    arms = [a for a in dict.fromkeys(records["arm"]) if a in per_seed]
    seeds = records["seed"].nunique()
    means = ", ".join(f"{a} {per_seed[a].groupby('seed').mean().mean():.4f}" for a in arms)
    line = f"test log loss (task mean, {seeds} seeds): {means}"
    if {"mtl", "stl"} <= set(arms):
        both = per_seed[["mtl", "stl"]].dropna()
        gain = (both["stl"] - both["mtl"]).groupby("seed").mean()
        line += f"; gain of sharing (stl - mtl) {fmt(*mean_ci(gain.to_numpy())[:3], 4)} nats"
    return line
