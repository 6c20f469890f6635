"""Statistics helpers against values computed by hand."""

import math

import pandas as pd
import pytest

from harness.analysis.stats import (
    TTest,
    delta_m,
    equivalent,
    gain_summary,
    holm,
    mde,
    mean_ci,
    paired,
    seeds_needed,
    slopes,
    summarize,
    t_test,
)


def test_mean_ci_matches_hand_computed_t_interval():
    # mean 2, sd 1, n 3: half-width = t_{0.975, 2} * 1 / sqrt(3) = 4.302653 / 1.732051 = 2.484138
    mean, low, high, n = mean_ci([1.0, 2.0, 3.0])
    assert (mean, n) == (2.0, 3)
    assert low == pytest.approx(2.0 - 2.484138, abs=1e-5)
    assert high == pytest.approx(2.0 + 2.484138, abs=1e-5)


def test_mean_ci_needs_two_values_for_an_interval_and_ignores_nan():
    mean, low, high, n = mean_ci([5.0, float("nan")])
    assert (mean, n) == (5.0, 1) and math.isnan(low) and math.isnan(high)
    assert mean_ci([])[3] == 0


def _table(rows):
    return pd.DataFrame(rows, columns=["point", "arm", "task", "seed", "metric", "value"])


def test_paired_gain_sign_follows_the_metric_direction():
    table = _table(
        [
            (1, "mtl", 0, 0, "test_bce", 0.40),
            (1, "stl", 0, 0, "test_bce", 0.50),
            (1, "mtl", 0, 0, "test_auroc", 0.70),
            (1, "stl", 0, 0, "test_auroc", 0.80),
        ]
    )
    bce = paired(table, "test_bce", keys=["point"])
    auroc = paired(table, "test_auroc", keys=["point"])
    assert bce["gain"].item() == pytest.approx(0.10)  # lower loss for the shared network: it helped
    assert auroc["gain"].item() == pytest.approx(-0.10)  # lower AUROC for the shared network: it hurt


def test_gain_summary_averages_tasks_within_a_seed_then_seeds():
    rows = []
    # seed 0: gains 0.1 and 0.3 -> 0.2; seed 1: gains 0.0 and 0.2 -> 0.1; mean 0.15, sd 0.0707107, n 2
    for seed, gains in ((0, (0.1, 0.3)), (1, (0.0, 0.2))):
        for task, g in enumerate(gains):
            rows += [(1, "stl", task, seed, "test_bce", 1.0), (1, "mtl", task, seed, "test_bce", 1.0 - g)]
    out = gain_summary(_table(rows), "test_bce", keys=["point"])
    half = 12.706205 * 0.0707107 / math.sqrt(2)
    assert out["mean"].item() == pytest.approx(0.15)
    assert out["low"].item() == pytest.approx(0.15 - half, rel=1e-5)
    assert out["n"].item() == 2
    target = gain_summary(_table(rows), "test_bce", keys=["point"], tasks=[1])
    assert target["mean"].item() == pytest.approx(0.25)


def test_delta_m_is_positive_when_sharing_helps_and_in_percent():
    table = _table(
        [
            (1, "stl", 0, 0, "test_bce", 0.50),
            (1, "mtl", 0, 0, "test_bce", 0.40),  # (0.5 - 0.4) / 0.5 = +20%
            (1, "stl", 0, 0, "test_auroc", 0.80),
            (1, "mtl", 0, 0, "test_auroc", 0.88),  # -(0.8 - 0.88) / 0.8 = +10%
        ]
    )
    out = delta_m(table, keys=["point"])
    assert out["delta"].item() == pytest.approx(15.0)
    worse = table.assign(value=[0.5, 0.6, 0.8, 0.72])  # +20% loss, -10% AUROC: both hurt
    assert delta_m(worse, keys=["point"])["delta"].item() == pytest.approx(-15.0)


def test_pairs_need_both_arms():
    table = _table([(1, "mtl", 0, 0, "test_bce", 0.4), (1, "stl", 0, 1, "test_bce", 0.5)])
    assert paired(table, "test_bce", keys=["point"]).empty


def test_summarize_groups():
    frame = pd.DataFrame({"k": [1, 1, 2], "value": [1.0, 3.0, 5.0]})
    out = summarize(frame, ["k"])
    assert out["mean"].tolist() == [2.0, 5.0] and out["n"].tolist() == [2, 1]


def _jobs_table(values):
    """Rows (job, arm, task, seed, value) of test_bce at one sweep point held by two jobs."""
    return pd.DataFrame(
        [(job, 1, arm, task, seed, "test_bce", v) for job, arm, task, seed, v in values],
        columns=["job", "point", "arm", "task", "seed", "metric", "value"],
    )


def test_delta_m_is_per_seed_over_tasks_and_jobs_never_pooling_seeds():
    # stl 1.0 everywhere; mtl per (job, task, seed). Per seed, the mean over jobs and tasks of (B - N) / B:
    # seed 0: (10 + 20 + 0 + 30) / 4 = 15%; seed 1: (5 + 5 + 15 + 15) / 4 = 10%.
    mtl = {("a", 0, 0): 0.9, ("a", 1, 0): 0.8, ("b", 0, 0): 1.0, ("b", 1, 0): 0.7,
           ("a", 0, 1): 0.95, ("a", 1, 1): 0.95, ("b", 0, 1): 0.85, ("b", 1, 1): 0.85}  # fmt: skip
    rows = [(j, "mtl", t, s, v) for (j, t, s), v in mtl.items()] + [(j, "stl", t, s, 1.0) for (j, t, s) in mtl]
    out = delta_m(_jobs_table(rows), keys=["point"], metrics=("test_bce",))
    assert out["seed"].tolist() == [0, 1]
    assert out["delta"].tolist() == pytest.approx([15.0, 10.0])


def test_pairs_never_cross_jobs():
    # Job a ran only the shared arm and job b only the separate one at the same point: no pair.
    table = _jobs_table([("a", "mtl", 0, 0, 0.4), ("b", "stl", 0, 0, 0.5)])
    assert paired(table, "test_bce", keys=["point"]).empty
    both = _jobs_table([("a", "mtl", 0, 0, 0.4), ("a", "stl", 0, 0, 0.5), ("b", "mtl", 0, 0, 0.3)])
    assert paired(both, "test_bce", keys=["point"])["gain"].tolist() == pytest.approx([0.1])


def test_holm_rejects_a_p_value_equal_to_its_threshold():
    # Holm rejects while p_(i) <= alpha / (m - i + 1): 0.025 = 0.05 / 2, then 0.05 = 0.05 / 1.
    assert holm([0.05]) == [True]
    assert holm([0.05, 0.025]) == [True, True]


def test_tost_takes_two_seeds_and_needs_the_interval_strictly_inside():
    def interval(low90, high90, n=2):
        return TTest(n=n, mean=0.0, sd=0.1, low=-1.0, high=1.0, low90=low90, high90=high90, p=1.0)

    assert equivalent(interval(-0.125, 0.125), 0.25)  # two seeds are enough for the test
    assert not equivalent(interval(-0.125, 0.125, n=1), 0.25)
    assert not equivalent(interval(-0.25, 0.125), 0.25)  # a bound on -delta is not inside
    assert not equivalent(interval(-0.125, 0.25), 0.25)  # nor one on +delta


def test_slopes_skip_missing_points_and_read_numbers_held_as_objects():
    import numpy as np

    # Seed 0: y = 2x at x = 0, 1 (the point without y is left out): slope 2. Seed 1: y = 3 - x.
    frame = pd.DataFrame(
        {
            "seed": [0, 0, 0, 1, 1, 1],
            "x": pd.Series([0, 1, 2, 0, 1, None], dtype=object),  # a key missing in one job: None
            "gain": pd.Series([0.0, 2.0, None, 3.0, 2.0, 1.0], dtype=object),
        }
    )
    out = slopes(frame, "x")
    assert out["seed"].tolist() == [0, 1]
    assert out["slope"].tolist() == pytest.approx([2.0, -1.0])
    assert np.isfinite(out["slope"]).all()


def test_slopes_need_two_distinct_x_and_keep_their_columns_when_none_qualifies():
    # Seed 0: x = 0, 1 -> slope 2 (a spread of exactly 1 counts). Seed 1: x constant -> no slope.
    frame = pd.DataFrame({"seed": [0, 0, 1, 1, 1], "x": [0.0, 1.0, 3.0, 3.0, 3.0], "gain": [1.0, 3.0, 1.0, 2.0, 3.0]})
    out = slopes(frame, "x")
    assert out["seed"].tolist() == [0] and out["slope"].tolist() == pytest.approx([2.0])
    flat = slopes(frame[frame["seed"] == 1], "x")
    assert flat.empty and list(flat.columns) == ["seed", "slope"]


def test_t_test_with_two_values_is_a_test_with_one_degree_of_freedom():
    # mean 2, sd sqrt(2), se 1; with 1 df (Cauchy) t_0.975 = 12.706205, t_0.95 = 6.313752 and
    # p = 1 - 2 atan(2) / pi = 0.295167.
    t = t_test([1.0, 3.0])
    assert (t.n, t.mean) == (2, 2.0) and t.sd == pytest.approx(math.sqrt(2))
    assert (t.low, t.high) == pytest.approx((2 - 12.706205, 2 + 12.706205), rel=1e-6)
    assert (t.low90, t.high90) == pytest.approx((2 - 6.313752, 2 + 6.313752), rel=1e-6)
    assert t.p == pytest.approx(1 - 2 * math.atan(2) / math.pi, rel=1e-6)


def test_t_test_below_two_values_has_a_mean_at_most_and_warns_of_nothing():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice"
        one, none = t_test([5.0, float("nan")]), t_test([])
    assert (one.n, one.mean, none.n) == (1, 5.0, 0)
    for t in (one, none):
        fields = (t.sd, t.low, t.high, t.low90, t.high90, t.p, *(() if t.n else (t.mean,)))
        assert all(isinstance(v, float) and math.isnan(v) for v in fields)


def test_t_test_without_spread_is_certain_unless_the_mean_is_zero():
    # se = 0: the p value is 0 for a non-zero mean and 1 for a zero one.
    assert t_test([1.0, 1.0]).p == 0.0 and t_test([0.5, 0.5, 0.5]).p == 0.0
    assert t_test([0.0, 0.0]).p == 1.0


def test_mde_scales_with_sd_from_two_seeds_and_needs_a_finite_sd():
    # n = 2, 1 df: (t_0.975 + t_0.8) sd / sqrt(2) = (12.706205 + tan(0.3 pi)) * 2 / sqrt(2)
    assert mde(2.0, 2) == pytest.approx((12.706205 + math.tan(0.3 * math.pi)) * 2 / math.sqrt(2), rel=1e-6)
    assert math.isnan(mde(math.inf, 5)) and math.isnan(mde(1.0, 1))


def test_seeds_needed_without_an_effect_or_a_finite_sd_is_unknown_and_without_spread_is_two():
    assert seeds_needed(math.inf, 1.0) is None
    assert seeds_needed(1.0, 0.0) is None and seeds_needed(0.0, 0.0) is None
    assert seeds_needed(0.0, 0.1) == 2  # no spread: the smallest paired test detects any effect


def test_seeds_needed_is_the_fewest_seeds_the_t_formula_accepts():
    # sd / delta = 0.11. Two seeds (1 df): ((12.706205 + tan(0.3 pi)) * 0.11)^2 = 2.40 -> 3 > 2, too few.
    # Three seeds (2 df): ((4.302653 + sqrt(1.125)) * 0.11)^2 = 0.35 -> 1 <= 3, enough. Iterating
    # n -> formula(n) from the normal start (2) alternates 2, 3, 2, ... and must not stop on 2.
    assert seeds_needed(0.11, 1.0) == 3
    assert seeds_needed(1.0, 1.0) == 10  # from the normal start 8: 8 and 9 are too few, 10 enough


def test_summarize_sorts_the_groups_and_keeps_a_missing_key_as_a_group():
    # Keys 2, 1, NaN (a key missing in some jobs) as they come: rows sorted 1, 2, then NaN.
    frame = pd.DataFrame({"k": [2.0, 1.0, float("nan"), 2.0], "value": [4.0, 1.0, 7.0, 6.0]})
    out = summarize(frame, ["k"])
    assert out["k"].tolist()[:2] == [1.0, 2.0] and math.isnan(out["k"].iloc[2])
    assert out["mean"].tolist() == [1.0, 5.0, 7.0] and out["n"].tolist() == [1, 2, 1]


def test_summarize_reports_both_bounds_and_its_columns_when_empty():
    # Values 4 and 6: mean 5, sd sqrt(2), n 2, half-width t_{0.975,1} * sqrt(2) / sqrt(2) = 12.706205.
    out = summarize(pd.DataFrame({"k": [1, 1], "value": [4.0, 6.0]}), ["k"])
    assert out[["low", "high"]].iloc[0].tolist() == pytest.approx([5 - 12.706205, 5 + 12.706205], rel=1e-6)
    empty = summarize(pd.DataFrame({"k": [], "value": []}), ["k"])
    assert empty.empty and list(empty.columns) == ["k", "mean", "low", "high", "n"]


def test_seeds_needed_depends_on_sd_over_delta_and_starts_no_higher_than_needed():
    assert seeds_needed(2.0, 2.0) == seeds_needed(0.5, 0.5) == 10  # sd / delta = 1, as above
    # sd / delta = 0.05: two seeds are enough ((12.706205 + tan(0.3 pi)) * 0.05)^2 = 0.50 -> 1 <= 2.
    assert seeds_needed(0.05, 1.0) == 2
    # sd / delta = 0.33: three seeds (2 df) give ((4.302653 + sqrt(1.125)) * 0.33)^2 = 3.13 -> 4 > 3;
    # four (3 df) give ((3.182446 + 0.978472) * 0.33)^2 = 1.89 -> 2 <= 4.
    assert seeds_needed(0.33, 1.0) == 4
    # sd / delta = 3: the normal start is ceil(70.64) = 71; ((t_0.975 + t_0.8) * 3)^2 is 72.65 with 71
    # seeds, 72.62 with 72 (-> 73, too few) and 72.60 with 73 (-> 73, enough).
    assert seeds_needed(3.0, 1.0) == 73


def test_paired_without_one_arm_is_empty_with_its_columns_and_takes_the_first_of_duplicates():
    only_shared = _table([(1, "mtl", 0, 0, "test_bce", 0.4)])
    out = paired(only_shared, "test_bce", keys=["point"])
    assert out.empty and list(out.columns) == ["point", "task", "seed", "shared", "separate", "gain"]
    # The same (point, task, seed, arm) twice: the first row counts (0.5 - 0.4), not the mean (0.5 - 0.3).
    doubled = _table(
        [(1, "mtl", 0, 0, "test_bce", 0.4), (1, "mtl", 0, 0, "test_bce", 0.2), (1, "stl", 0, 0, "test_bce", 0.5)]
    )
    assert paired(doubled, "test_bce", keys=["point"])["gain"].tolist() == pytest.approx([0.1])


# Fixed per-seed samples: skewed, tight, wide, negative, with a tie; the report's numbers for
# each must be what scipy and statsmodels give for the same input.
SAMPLES = [
    [0.012, -0.003, 0.021, 0.008, 0.015, 0.002, 0.019, 0.011, -0.001, 0.007],
    [0.5, 0.51, 0.49, 0.5],
    [-3.0, 4.0, 0.5],
    [-0.02, -0.031, -0.017, -0.024, -0.024],
]


@pytest.mark.parametrize("values", SAMPLES)
def test_intervals_and_p_values_are_scipys_one_sample_t_test(values):
    from scipy import stats

    expected = stats.ttest_1samp(values, 0.0)
    t = t_test(values)
    assert t.p == pytest.approx(expected.pvalue, rel=1e-12)
    assert (t.low, t.high) == pytest.approx(tuple(expected.confidence_interval(0.95)), rel=1e-12)
    assert (t.low90, t.high90) == pytest.approx(tuple(expected.confidence_interval(0.90)), rel=1e-12)
    assert mean_ci(values)[1:3] == pytest.approx(tuple(expected.confidence_interval(0.95)), rel=1e-12)


@pytest.mark.parametrize("values", SAMPLES)
@pytest.mark.parametrize("delta", [0.005, 0.01, 0.02, 0.05, 1.0, 5.0])
def test_no_effect_is_statsmodels_tost_at_005(values, delta):
    from statsmodels.stats.weightstats import DescrStatsW

    p_tost = DescrStatsW(values).ttost_mean(-delta, delta)[0]
    assert equivalent(t_test(values), delta) == (p_tost < 0.05)


@pytest.mark.parametrize(
    "p_values",
    [[0.01, 0.04, 0.03], [0.001, 0.02, 0.03, 0.2, 0.0125], [0.5], [0.049, 0.0251, 0.9, 0.0166]],
)
def test_holm_is_statsmodels_multipletests(p_values):
    from statsmodels.stats.multitest import multipletests

    assert holm(p_values) == multipletests(p_values, alpha=0.05, method="holm")[0].tolist()


def test_holm_leaves_a_missing_p_value_out_of_the_family():
    # Two hypotheses, not three: 0.03 <= 0.05 / 1 once 0.02 <= 0.05 / 2 is rejected.
    assert holm([0.02, float("nan"), 0.03]) == [True, False, True]


def test_the_reported_gain_is_the_mean_over_seeds_not_the_median():
    """Guards the estimator: a skewed sample's mean (0.04), which its median (0.0) is not."""
    skewed = [0.0, 0.0, 0.0, 0.0, 0.2]
    assert t_test(skewed).mean == pytest.approx(0.04) and mean_ci(skewed)[0] == pytest.approx(0.04)
    frame = pd.DataFrame({"point": ["a"] * 5, "seed": range(5), "gain": skewed})
    assert summarize(frame, ["point"], value="gain")["mean"].tolist() == pytest.approx([0.04])
