"""Statistics over the tidy table: means with t confidence intervals, paired gains, Delta_m.

Conventions (stated in every report):
- A seed is a replicate: both arms train on the same data draw and the same seed, so
  arm differences are paired per (sweep point, task, seed).
- gain of sharing = separate - shared for losses (test_bce) and shared - separate for
  scores (test_acc, test_auroc): positive means sharing helped.
- Uncertainty is over seeds: a point's per-seed values (for example the mean over tasks
  of the paired gain) are summarised by their mean and a two-sided 95% t interval.
- Delta_m (LibMTL) in percent: mean over tasks t and metrics m of
  (-1)^{higher_is_better(m)} * (B_tm - N_tm) / B_tm * 100, B the separate networks, N the
  shared one, computed per seed and then summarised over seeds; positive = sharing helped.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as _scipy_stats
from statsmodels.stats.multitest import multipletests

HIGHER_IS_BETTER = {"test_bce": False, "val_bce": False, "test_acc": True, "test_auroc": True}
DELTA_M_METRICS = ("test_bce", "test_auroc")


def finite(values: Sequence[float]) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return x[np.isfinite(x)]


def one_sample(x: np.ndarray) -> Any:
    """scipy's one-sample t test against 0 of at least two values that are not all equal."""
    with warnings.catch_warnings():  # nearly equal values: scipy warns of precision, the result stands
        warnings.simplefilter("ignore", RuntimeWarning)
        return _scipy_stats.ttest_1samp(x, 0.0)


def interval(x: np.ndarray, level: float) -> tuple[float, float]:
    """The two-sided t interval of the mean of `x` (at least two values); a point without spread."""
    if np.ptp(x) == 0:
        return float(x[0]), float(x[0])
    ci = one_sample(x).confidence_interval(level)
    return float(ci.low), float(ci.high)


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float, int]:
    """(mean, low, high, n) with a two-sided t interval; NaN dropped; the bounds are NaN for fewer than 2 values."""
    x = finite(values)
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    if n < 2:
        return float(x.mean()), math.nan, math.nan, n
    return float(x.mean()), *interval(x, level), n


def summarize(frame: pd.DataFrame, by: Sequence[str], value: str = "value") -> pd.DataFrame:
    """Mean and 95% CI of `value` for each group of `by` (one row per group)."""
    rows = []
    for key, group in frame.groupby(list(by), sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        mean, low, high, n = mean_ci(group[value].to_numpy())
        rows.append({**dict(zip(by, key, strict=True)), "mean": mean, "low": low, "high": high, "n": n})
    return pd.DataFrame(rows, columns=[*by, "mean", "low", "high", "n"])


def paired(
    table: pd.DataFrame, metric: str, shared: str = "mtl", separate: str = "stl", keys: Sequence[str] = ()
) -> pd.DataFrame:
    """Per (keys, task, seed): the two arms' values and gain (positive = `shared` did better).

    Rows where either arm is missing are dropped (a pair needs both). Pairs never cross
    jobs; jobs that share `keys` (a key swept but not asked for) are kept side by side.
    """
    index = [*keys, *(["job"] if "job" in table else []), "task", "seed"]
    rows = table[(table["metric"] == metric) & table["arm"].isin([shared, separate])]
    wide = rows.pivot_table(index=index, columns="arm", values="value", aggfunc="first").dropna()
    if shared not in wide or separate not in wide:
        return pd.DataFrame(columns=[*index, "shared", "separate", "gain"])
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    out = wide[[shared, separate]].rename(columns={shared: "shared", separate: "separate"})
    out["gain"] = sign * (out["shared"] - out["separate"])
    return out.reset_index()


def gain_per_seed(pairs: pd.DataFrame, keys: Sequence[str] = (), tasks: Sequence[int] | None = None) -> pd.DataFrame:
    """Mean over tasks (or over `tasks` only) of the paired gain, one row per (keys, seed)."""
    if tasks is not None:
        pairs = pairs[pairs["task"].isin(list(tasks))]
    return pairs.groupby([*keys, "seed"], as_index=False)["gain"].mean()


def gain_summary(
    table: pd.DataFrame,
    metric: str,
    keys: Sequence[str] = (),
    shared: str = "mtl",
    separate: str = "stl",
    tasks: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Mean over seeds (with 95% CI) of the per-seed, task-averaged paired gain, per point of `keys`."""
    per_seed = gain_per_seed(paired(table, metric, shared, separate, keys), keys, tasks)
    return summarize(per_seed, keys, value="gain")


def delta_m(
    table: pd.DataFrame,
    keys: Sequence[str] = (),
    shared: str = "mtl",
    separate: str = "stl",
    metrics: Sequence[str] = DELTA_M_METRICS,
) -> pd.DataFrame:
    """Delta_m in percent per (keys, seed); positive = sharing helped (see module docstring)."""
    parts = []
    for metric in metrics:
        pairs = paired(table, metric, shared, separate, keys)
        # The paired gain is already (-1)^hib * (B - N), so the term is gain / B.
        pairs["delta"] = 100.0 * pairs["gain"] / pairs["separate"].abs()
        parts.append(pairs)
    every = pd.concat(parts, ignore_index=True)
    return every.groupby([*keys, "seed"], as_index=False)["delta"].mean()


# --- Primary tests for verdicts (docs/analysis.md, "Statistics"; formulas from REFERENCES.md) ---

ALPHA = 0.05  # two-sided level of every primary test, before Holm's correction
POWER = 0.8  # power at which the minimal detectable effect and the seeds needed are stated


@dataclass(frozen=True)
class TTest:
    """A one-sample t test over seeds of per-seed values (paired differences or slopes)."""

    n: int
    mean: float
    sd: float
    low: float  # 95% interval
    high: float
    low90: float  # 90% interval: TOST at alpha = 0.05
    high90: float
    p: float  # two-sided, against 0

    @property
    def d_z(self) -> float:
        """Effect size of a paired design: mean over the sd of the per-seed values."""
        return self.mean / self.sd if self.sd > 0 else math.nan


def t_test(values: Sequence[float]) -> TTest:
    """Mean, 95% and 90% t intervals and the two-sided p value of per-seed `values` (NaN dropped).

    Values without spread have no t statistic: p is 1 if they are all 0, else 0 (the mean is certain).
    """
    x = finite(values)
    n = len(x)
    if n < 2:
        mean = float(x.mean()) if n else math.nan
        return TTest(n, mean, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    p = float(one_sample(x).pvalue) if np.ptp(x) > 0 else float(mean == 0)
    return TTest(n, mean, sd, *interval(x, 0.95), *interval(x, 0.90), p)


def equivalent(test: TTest, delta: float) -> bool:
    """TOST at level 0.05: the 90% interval lies inside (-delta, +delta), the same decision as
    both one-sided tests rejecting at 0.05 (statsmodels' ttost_mean; tests/test_stats.py)."""
    return bool(test.n >= 2 and -delta < test.low90 and test.high90 < delta)


def mde(sd: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """Minimal detectable effect of a paired t test: (t_{1-alpha/2,n-1} + t_{power,n-1}) sd / sqrt(n)."""
    if n < 2 or not np.isfinite(sd):
        return math.nan
    t = _scipy_stats.t
    return float((t.ppf(1 - alpha / 2, n - 1) + t.ppf(power, n - 1)) * sd / math.sqrt(n))


def seeds_needed(sd: float, delta: float, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Seeds for a paired t test to detect `delta`: the fewest n >= 2 with n >= ((t_{1-alpha/2,n-1} +
    t_{power,n-1}) sd / delta)^2, searched upwards from the normal approximation (power >= 0.5)."""
    if not (np.isfinite(sd) and delta > 0):
        return None
    if sd == 0:
        return 2
    t = _scipy_stats.t

    def enough(n: int) -> bool:
        return n >= math.ceil(((t.ppf(1 - alpha / 2, n - 1) + t.ppf(power, n - 1)) * sd / delta) ** 2)

    # For power >= 0.5 both t quantiles exceed the normal ones, so no n below the normal start is
    # enough, and `enough` stays true once it holds (its right side falls as n grows): step up to
    # the first n. Iterating n -> the right side instead can alternate (2, 3, 2, ... for sd / delta
    # near 0.1) and stop on a count that is too small.
    z = _scipy_stats.norm
    n = max(2, math.ceil(((z.ppf(1 - alpha / 2) + z.ppf(power)) * sd / delta) ** 2))
    while not enough(n):
        n += 1
    return n


def holm(p_values: Sequence[float], alpha: float = ALPHA) -> list[bool]:
    """Holm's step-down (statsmodels): reject the i-th smallest p while p_(i) <= alpha / (m - i + 1);
    a p value that is NaN is not a hypothesis and is not rejected."""
    p = np.asarray(p_values, dtype=float)
    tested = np.isfinite(p)
    reject = np.zeros(len(p), dtype=bool)
    if tested.any():
        reject[tested] = multipletests(p[tested], alpha=alpha, method="holm")[0]
    return reject.tolist()


def slopes(frame: pd.DataFrame, x: str, value: str = "gain", by: Sequence[str] = ()) -> pd.DataFrame:
    """Per seed (and `by`): the least-squares slope of `value` against `x` over every point.

    With several lines per seed (for example one per task count K, in `by`), the slope is
    fitted per line and the lines' slopes are averaged within the seed.
    """
    rows = []
    for key, group in frame.groupby([*by, "seed"], sort=True):
        xs, ys = group[x].to_numpy(float), group[value].to_numpy(float)
        ok = np.isfinite(xs) & np.isfinite(ys)
        if ok.sum() >= 2 and np.ptp(xs[ok]) > 0:
            key = key if isinstance(key, tuple) else (key,)
            rows.append({"seed": key[-1], "slope": float(np.polyfit(xs[ok], ys[ok], 1)[0])})
    out = pd.DataFrame(rows, columns=["seed", "slope"])
    return out.groupby("seed", as_index=False)["slope"].mean()
