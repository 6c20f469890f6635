"""The grouping study's statistics on a constructed table."""

import pandas as pd
import pytest

from harness import grouping_study as study


def table():
    """Two jobs of 4 tasks and 3 seeds: two planted groups, and none."""
    rows = []
    losses = {  # per job and arm, the test log loss of every task, per seed
        "planted": {"groups": [0.40, 0.42, 0.41], "mtl": [0.50, 0.53, 0.52], "stl": [0.45, 0.46, 0.47]},
        "none": {"groups": [0.40, 0.41, 0.40], "mtl": [0.401, 0.409, 0.402], "stl": [0.50, 0.52, 0.51]},
    }
    searched = {  # per job and seed, each task's group
        "planted": [[0, 1, 0, 1], [0, 1, 0, 1], [0, 1, 1, 1]],
        "none": [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    }
    trained = {"planted": [0, 1, 0, 1], "none": [0, 0, 0, 0]}
    for job, task_groups in (("planted", 2), ("none", 1)):
        point = {"job": job, "data.tasks": 4, "data.task_groups": task_groups}
        for arm, per_seed in losses[job].items():
            for seed, loss in enumerate(per_seed):
                rows += [
                    {**point, "arm": arm, "task": k, "seed": seed, "metric": "test_bce", "value": loss}
                    for k in range(4)
                ]
        for seed, labels in enumerate(searched[job]):
            rows += [
                {**point, "arm": "search", "task": k, "seed": seed, "metric": "group", "value": g}
                for k, g in enumerate(labels)
            ]
        rows += [
            {**point, "arm": "groups", "task": k, "seed": -1, "metric": "group", "value": g}
            for k, g in enumerate(trained[job])
        ]
    return pd.DataFrame(rows)


def test_recovery_is_the_adjusted_rand_index_against_the_planted_groups():
    rec = study.recovery(table()).set_index("data.task_groups")
    # {0,2}{1,3} twice (ARI 1) and {0}{1,2,3} once (ARI 0 against {0,2}{1,3}).
    assert rec.loc[2, "mean"] == pytest.approx(2 / 3) and rec.loc[2, "n"] == 3
    assert rec.loc[2, "trained_ari"] == 1.0 and rec.loc[1, "mean"] == 1.0


def test_verdicts_beat_where_groups_are_planted_and_tie_where_not():
    stats = study.analyse(table())
    gains = stats.gains.set_index(["data.task_groups", "alternative"])
    assert gains.loc[(2, "mtl"), "mean"] == pytest.approx((0.10 + 0.11 + 0.11) / 3)
    verdicts = stats.verdicts.set_index("data.task_groups")
    assert verdicts.loc[2, "verdict"] == "yes" and verdicts.loc[2, "planted"]
    assert verdicts.loc[1, "verdict"] == "yes" and "ties the better" in verdicts.loc[1, "claim"]  # mtl; stl is worse
    assert study.analyse(table(), delta=0.0001).verdicts.set_index("data.task_groups").loc[1, "verdict"] == "unclear"


def test_planted_partition_is_the_generators_interleaving():
    assert study.planted_partition(6, 2) == [0, 1, 0, 1, 0, 1]
    assert study.planted_partition(5, 3) == [0, 1, 2, 0, 1]
    assert study.planted_partition(4, 1) == [0, 0, 0, 0]


def test_search_rows_read_a_result():
    result = {"grouping": {"per_seed": [[[0, 1], [2]]]}, "arms": {"groups": {"groups": [[0], [1, 2]]}}}
    rows = pd.DataFrame(study.search_rows(result, "7"))
    assert rows[rows["arm"] == "search"].sort_values("task")["value"].tolist() == [0, 0, 1]
    assert rows[rows["arm"] == "groups"].sort_values("task")["value"].tolist() == [0, 1, 1]
