"""Primary tests and verdict rules against hand-computed values."""

import math

import pytest

from harness.analysis.stats import TTest, equivalent, holm, mde, seeds_needed, slopes, t_test
from harness.analysis.verdict import OUTCOMES, Criterion, decide, effect_exists, fmt, untested, verdicts

GAIN = Criterion("sharing helps", "gain > 0", "paired difference", +1, 0.01)


def test_t_test_matches_the_closed_form_for_two_degrees_of_freedom():
    # mean 2, sd 1, n 3, se 1/sqrt(3). With 2 df, F(t) = 1/2 + t / (2 sqrt(2 + t^2)), so
    # t_0.975 = 4.302653, t_0.95 = 2.919986 and p = 1 - t/sqrt(2 + t^2) at t = 2 sqrt(3).
    t = t_test([1.0, 2.0, 3.0])
    se = 1 / math.sqrt(3)
    assert (t.n, t.mean, t.sd) == (3, 2.0, 1.0)
    assert t.high - t.mean == pytest.approx(4.302653 * se, rel=1e-6)
    assert t.high90 - t.mean == pytest.approx(2.919986 * se, rel=1e-6)
    assert t.p == pytest.approx(1 - 2 * math.sqrt(3) / math.sqrt(14), rel=1e-6)
    assert t.d_z == 2.0


def test_tost_needs_the_90_percent_interval_inside_delta():
    t = t_test([0.1, 0.2, 0.3])  # 90% interval 0.2 +- 2.919986 * 0.1 / sqrt(3) = [0.0314, 0.3686]
    assert equivalent(t, 0.37) and not equivalent(t, 0.36)


def test_minimal_detectable_effect_and_seeds_needed():
    # (t_{0.975,2} + t_{0.8,2}) / sqrt(3); t_{0.8,2} = sqrt(1.125) from the closed form above.
    assert mde(1.0, 3) == pytest.approx((4.302653 + math.sqrt(1.125)) / math.sqrt(3), rel=1e-6)
    # normal start: (1.959964 + 0.841621)^2 = 7.85 -> 8; with t, 8 and 9 seeds need 11 (too few), 10 need 10
    assert seeds_needed(1.0, 1.0) == 10
    assert seeds_needed(0.5, 1.0) < seeds_needed(1.0, 1.0) < seeds_needed(2.0, 1.0)


def test_holm_steps_down_and_stops_at_the_first_kept_hypothesis():
    assert holm([0.01, 0.04, 0.03]) == [True, False, False]  # 0.03 > 0.05 / 2
    assert holm([0.01, 0.02, 0.04]) == [True, True, True]  # Bonferroni would keep 0.02 and 0.04
    assert holm([0.2, float("nan")]) == [False, False]


def test_slopes_are_fitted_per_seed_and_averaged_over_lines():
    import pandas as pd

    rows = [(0, 1, x, 2 * x) for x in range(3)] + [(0, 2, x, 4 * x) for x in range(3)]
    rows += [(1, 1, x, 1.0) for x in range(3)] + [(1, 2, x, 1.0) for x in range(3)]
    frame = pd.DataFrame(rows, columns=["seed", "k", "x", "gain"])
    out = slopes(frame, "x", by=["k"])
    assert out["slope"].tolist() == pytest.approx([3.0, 0.0])


def test_verdict_rules_on_constructed_inputs():
    clear = [0.10, 0.11, 0.12, 0.09, 0.10]
    tight = [0.001, -0.001, 0.0005, -0.0005, 0.0]
    noisy = [0.10, -0.10, 0.05, -0.02]
    rows = [(GAIN, clear, ""), (GAIN, [-v for v in clear], ""), (GAIN, tight, ""), (GAIN, noisy, "")]
    assert [v.outcome for v in verdicts(rows)] == ["holds", "contradicted", "no effect", "underpowered"]
    same = Criterion("weighting matches equal", "no effect", "paired difference", 0, 0.01)
    assert [v.outcome for v in verdicts([(same, tight, ""), (same, clear, ""), (same, noisy, "")])] == [
        "holds",
        "contradicted",
        "underpowered",
    ]


def test_a_verdict_takes_its_side_from_the_interval_not_the_mean():
    crossing = TTest(n=3, mean=0.5, sd=1.0, low=-0.1, high=1.1, low90=0.0, high90=1.0, p=0.01)
    assert decide(GAIN, crossing, significant=True) == "underpowered"


def test_holm_decides_which_effects_count():
    # Three criteria, each p about 0.03: alone each holds, after Holm none does.
    values = [0.03, 0.05, 0.07, 0.01, 0.09]
    alone = verdicts([(GAIN, values, "")])[0]
    assert alone.outcome == "holds" and 0.01 < alone.test.p < 0.05
    assert [v.outcome for v in verdicts([(GAIN, values, "")] * 3)] == ["underpowered"] * 3


def test_underpowered_rows_state_the_seeds_needed():
    (v,) = verdicts([(GAIN, [0.10, -0.10, 0.05, -0.02], "")])
    assert v.power.startswith("4 seeds; MDE ") and f"~{seeds_needed(v.test.sd, 0.01)} seeds to detect 0.01" in v.power


def test_one_interval_format():
    assert fmt(0.0123, -0.001, 0.0256) == "+0.012 [-0.001, +0.026]"
    assert fmt(0.5) == "+0.500" and fmt(float("nan")) == "n/a"


def test_a_confirming_test_can_withhold_holds_but_never_a_contradiction():
    up, down = [0.10, 0.11, 0.12], [-0.10, -0.11, -0.12]  # 95% intervals well clear of 0 and of delta
    (v,) = verdicts([(GAIN, up, "3 points")], {GAIN: ("permutation", 0.3)})
    assert v.outcome == "underpowered" and v.measured.endswith("; 3 points; permutation p = 0.3")
    assert verdicts([(GAIN, up, "")], {GAIN: ("permutation", 0.01)})[0].outcome == "holds"
    assert verdicts([(GAIN, down, "")], {GAIN: ("permutation", 0.99)})[0].outcome == "contradicted"
    assert decide(GAIN, t_test(up), True, confirmed=False) == "underpowered"


def test_a_failed_precondition_gives_not_applicable_and_leaves_holm_to_the_others():
    clear = [0.10, 0.11, 0.12, 0.09, 0.10]
    control = Criterion("shuffle control", "gain > 0", "paired difference", +1, 0.01, needs="the gain exists")
    absent = effect_exists([0.01, -0.02, 0.0, 0.01, -0.01], "mtl vs stl")
    out = verdicts([(control, clear, ""), (GAIN, clear, "")], held={control: absent})
    assert [v.outcome for v in out] == ["not applicable", "holds"]
    assert out[0].precondition.startswith("the gain exists: failed (mtl vs stl -0.0020 [")
    assert out[1].precondition == "its points passed the learnability gate: held"
    present = effect_exists(clear, "mtl vs stl")
    assert present.ok and verdicts([(control, clear, "")], held={control: present})[0].outcome == "holds"


def test_two_identical_arms_never_get_a_decisive_verdict():
    same = Criterion("weighting matches equal", "no effect", "paired difference", 0, 0.01)
    for criterion, value in ((same, 0.0), (GAIN, 0.0), (GAIN, 0.05)):
        (v,) = verdicts([(criterion, [value] * 5, "")])
        assert v.outcome == "not applicable" and "zero variance" in v.precondition
    ari = Criterion("recovers", "ARI >= 0.8", "per-seed ARI - 0.8", +1, 0.1, "(ARI - 0.8)", difference=False)
    assert verdicts([(ari, [0.2] * 5, "")])[0].outcome == "holds"  # every seed found the partition


def test_a_criterion_without_usable_points_is_not_applicable_with_the_reason():
    v = untested(GAIN, "fewer than two widths passed the gate")
    assert v.outcome == "not applicable" and v.precondition.endswith("failed (fewer than two widths passed the gate)")


def test_the_report_counts_every_verdict_word_and_the_docs_define_each_once():
    from pathlib import Path

    from harness.analysis.report import CONVENTIONS, tally

    assert tally(["holds", "holds", "not applicable"]) == (
        "2 holds, 0 contradicted, 0 no effect, 0 underpowered, 1 not applicable"
    )
    docs = " ".join((Path(__file__).parents[1] / "docs" / "studies.md").read_text().split())
    for word, meaning in OUTCOMES.items():
        assert f"*{word}*: {meaning}." in CONVENTIONS
        assert docs.count(f"*{word}*: {meaning}.") == 1, word


def test_a_confirming_p_of_exactly_005_does_not_confirm():
    """Guards the confirmation threshold: "below 0.05" (docs/analysis.md), so p = 0.05 withholds holds."""
    up = [0.10, 0.11, 0.12]
    assert verdicts([(GAIN, up, "")], {GAIN: ("permutation", 0.05)})[0].outcome == "underpowered"
    assert verdicts([(GAIN, up, "")], {GAIN: ("permutation", 0.0499)})[0].outcome == "holds"


def interval(low: float, high: float, n: int = 5, sd: float = 0.01) -> TTest:
    """A hand-made t test with the given 95% interval (and a 90% one inside it)."""
    mean = (low + high) / 2
    return TTest(n=n, mean=mean, sd=sd, low=low, high=high, low90=low + sd / 10, high90=high - sd / 10, p=0.001)


def test_intervals_are_formatted_signed_or_not_and_without_a_bound_as_the_mean_alone():
    assert fmt(0.412, 0.398, 0.426, signed=False) == "0.412 [0.398, 0.426]"
    assert fmt(0.5, float("-inf"), 0.6) == fmt(0.5, 0.4, float("nan")) == "+0.500"


def test_the_precondition_of_a_control_needs_two_seeds_and_says_when_it_failed():
    two = [0.100, 0.101]
    present, t = effect_exists(two, "mtl vs stl"), t_test(two)
    assert present.ok and present.detail == f"mtl vs stl {fmt(t.mean, t.low, t.high, 4)} nats"
    absent = effect_exists([0.10], "mtl vs stl")
    assert not absent.ok and absent.detail == "mtl vs stl +0.1000 nats, not above 0"


def test_a_relabelled_verdict_keeps_everything_but_the_prefixed_name():
    (v,) = verdicts([(GAIN, [0.10, 0.11, 0.12], "note")])
    w = v.relabel("digits: ")
    assert w.criterion.name == "digits: " + GAIN.name and w.criterion.delta == GAIN.delta
    assert (w.test, w.outcome, w.note, w.held) == (v.test, v.outcome, v.note, v.held)


@pytest.mark.parametrize("delta, decimals", [(0.1, 3), (0.01, 4), (0.0001, 6), (0.0, 3)])
def test_the_measured_value_has_one_decimal_more_than_delta_and_at_least_three(delta, decimals):
    criterion = Criterion("c", "gain > 0", "paired difference", +1, delta)
    (v,) = verdicts([(criterion, [0.1, 0.2, 0.3], "")])
    assert v.measured.startswith(f"{0.2:+.{decimals}f} [")


def test_two_seeds_decide_and_one_seed_is_underpowered():
    assert decide(GAIN, interval(0.05, 0.07, n=2), significant=True) == "holds"  # confirmed by default
    assert decide(GAIN, interval(0.05, 0.07, n=1), significant=True) == "underpowered"
    (v,) = verdicts([(GAIN, [0.05, 0.05], "")])  # two equal seeds: one network
    assert v.outcome == "not applicable" and "zero variance" in v.precondition and not v.held.ok


@pytest.mark.parametrize(
    "criterion_sign, low, high, significant, outcome",
    [
        (+1, 0.0, 0.2, True, "underpowered"),  # an interval that touches 0 has no side
        (-1, -0.2, 0.0, True, "underpowered"),
        (-1, -0.2, -0.1, True, "holds"),
        (+1, -0.2, 0.5, True, "underpowered"),
        (0, 0.05, 0.2, False, "underpowered"),  # a side without significance contradicts nothing
        (0, 0.05, 0.2, True, "contradicted"),
    ],
)
def test_the_side_comes_from_the_interval_strictly(criterion_sign, low, high, significant, outcome):
    criterion = Criterion("c", "p", "t", criterion_sign, 0.01)
    assert decide(criterion, interval(low, high), significant) == outcome


def test_a_zero_variance_criterion_is_left_out_of_holm():
    # Alone, p about 0.03 holds; beside a zero-variance criterion that Holm must not count, it still does.
    values = [0.03, 0.05, 0.07, 0.01, 0.09]
    out = verdicts([(GAIN, [0.05] * 5, ""), (GAIN, values, "")])
    assert [v.outcome for v in out] == ["not applicable", "holds"]


def test_an_untested_criterion_reports_no_usable_points():
    v = untested(GAIN, "no point passed the gate")
    assert v.test.n == 0 and v.measured == "no usable points" and v.power == "0 seed(s): no interval"
