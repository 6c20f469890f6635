"""The grouping study's statistics on constructed tables."""

import warnings

import pandas as pd
import pytest

from harness.analysis.collect import search_rows
from harness.analysis.studies import grouping as study

LOSSES = {  # per point and arm, the test log loss of every task, per seed
    2: {"groups": [0.40, 0.42, 0.41], "mtl": [0.50, 0.53, 0.52], "stl": [0.45, 0.46, 0.47]},
    1: {"groups": [0.40, 0.41, 0.40], "mtl": [0.401, 0.409, 0.402], "stl": [0.50, 0.52, 0.51]},
}
SEARCHED = {2: [[0, 1, 0, 1], [0, 1, 0, 1], [0, 1, 1, 1]], 1: [[0, 0, 0, 0]] * 3}  # per point and seed
TRAINED = {2: [0, 1, 0, 1], 1: [0, 0, 0, 0]}
POINT = {"data.tasks": 4, "train.grouping_signal": "affinity"}


def table():
    """Two jobs of 4 tasks and 3 seeds: two planted groups, and none."""
    return pd.DataFrame(
        {
            **POINT,
            "job": str(g),
            "data.task_groups": g,
            "arm": arm,
            "task": k,
            "seed": s,
            "metric": "test_bce",
            "value": v,
        }
        for g, arms in LOSSES.items()
        for arm, per_seed in arms.items()
        for s, v in enumerate(per_seed)
        for k in range(4)
    )


def partitions():
    rows = [
        {**POINT, "job": str(g), "data.task_groups": g, "arm": "search", "task": k, "seed": s, "group": label}
        for g, seeds in SEARCHED.items()
        for s, labels in enumerate(seeds)
        for k, label in enumerate(labels)
    ]
    rows += [
        {**POINT, "job": str(g), "data.task_groups": g, "arm": "groups", "task": k, "seed": -1, "group": label}
        for g, labels in TRAINED.items()
        for k, label in enumerate(labels)
    ]
    return pd.DataFrame(rows)


def test_recovery_is_the_adjusted_rand_index_against_the_planted_groups():
    rec = study.recovery(partitions()).set_index("data.task_groups")
    # {0,2}{1,3} twice (ARI 1) and {0}{1,2,3} once (ARI 0 against {0,2}{1,3}).
    assert rec.loc[2, "mean"] == pytest.approx(2 / 3) and rec.loc[2, "n"] == 3
    assert rec.loc[2, "trained_ari"] == 1.0 and rec.loc[1, "mean"] == 1.0


def primary_tests(trained=TRAINED):
    keys = ["data.task_groups", "train.grouping_signal"]
    parts = partitions()
    for g, labels in trained.items():
        rows = (parts["arm"] == "groups") & (parts["data.task_groups"] == g)
        parts.loc[rows, "group"] = labels
    planned, held = study.tests(study.ari_per_seed(parts, keys), study.gains(table()), study.trained_as(parts, keys))
    return {c.name: (list(values), note, held.get(c)) for c, values, note in planned}


def test_primary_tests_beat_where_groups_are_planted_and_tie_where_not():
    tests = primary_tests(TRAINED | {1: [0, 0, 1, 1]})  # a third partition at both points
    recovered, _, _ = tests["Grouping (affinity): the search recovers the planted groups"]
    assert recovered == pytest.approx([1.0 - study.RECOVERED, 1.0 - study.RECOVERED, 0.0 - study.RECOVERED])
    over_mtl, _, held = tests["Grouping (affinity): the grouped network beats mtl where groups are planted"]
    assert over_mtl == pytest.approx([0.10, 0.11, 0.11]) and held.ok
    tie = tests["Grouping (affinity): without planted groups the grouped network ties the better of mtl and stl"]
    assert tie[1] == "vs mtl" and tie[0] == pytest.approx([0.001, -0.001, 0.002])  # mtl; stl is worse


def test_a_grouping_that_is_mtl_or_stl_is_compared_with_nothing():
    # Without planted groups the search put every task in one group: the grouped network is mtl there.
    tests = primary_tests()
    values, _, held = tests[
        "Grouping (affinity): without planted groups the grouped network ties the better of mtl and stl"
    ]
    assert values == [] and not held.ok and "groups is mtl" in held.detail
    values, _, held = primary_tests(TRAINED | {2: [0, 1, 2, 3]})[
        "Grouping (affinity): the grouped network beats stl where groups are planted"
    ]
    assert values == [] and not held.ok and "groups is stl" in held.detail
    from harness.analysis.verdict import verdicts

    planned = [(study.ties("affinity"), values, "")]
    (verdict,) = verdicts(planned, held={study.ties("affinity"): held})
    assert verdict.outcome == "not applicable" and "failed" in verdict.precondition


def test_planted_partition_is_the_generators_interleaving():
    assert study.planted_partition(6, 2) == [0, 1, 0, 1, 0, 1]
    assert study.planted_partition(5, 3) == [0, 1, 2, 0, 1]
    assert study.planted_partition(4, 1) == [0, 0, 0, 0]


def test_search_rows_read_a_result():
    result = {"grouping": {"per_seed": [[[0, 1], [2]]]}, "arms": {"groups": {"groups": [[0], [1, 2]]}}}
    rows = pd.DataFrame(search_rows(result, "7"))
    assert rows[rows["arm"] == "search"].sort_values("task")["group"].tolist() == [0, 0, 1]
    assert rows[rows["arm"] == "groups"].sort_values("task")["group"].tolist() == [0, 1, 1]


def test_a_sweep_whose_points_all_fail_the_gate_draws_its_figure_without_a_legend_warning(tmp_path):
    from fake_results import write_sweep

    from harness.analysis.collect import collect

    write_sweep(tmp_path, "grouping", references=True, learned=0.1)  # the separate networks learned nothing
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "No artists with labels found" is a UserWarning
        section = study.analyse(collect(tmp_path))
    assert "Excluded" in section.notes[0]
