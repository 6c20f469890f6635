"""The groups arm: one network per group of tasks; padding heads are inert and unreported."""

import dataclasses

import numpy as np
import pytest
from controls_helpers import TINY, run_chunks, static, tiny_data

from harness.arms import groups_arm
from harness.config import ConfigError
from harness.runs.job import run_job


def by_task(result, arm):
    return {
        (r["task"], r["seed"]): (r["test_bce"], r["test_auroc"], r["val_bce"], r["best_step"])
        for r in result["records"]
        if r["arm"] == arm
    }


def test_one_group_is_the_shared_network_and_singletons_are_the_separate_ones(tiny):
    one = run_job(tiny(arms=["mtl", "groups"], train={"groups": [[2, 0, 1]]}))
    assert by_task(one, "groups") == by_task(one, "mtl")
    alone = run_job(tiny(arms=["stl", "groups"], train={"groups": [[1], [0], [2]]}))
    assert by_task(alone, "groups") == by_task(alone, "stl")
    assert alone["arms"]["groups"]["partition"] == [["task0"], ["task1"], ["task2"]]


def test_unequal_groups_pad_inert_heads_that_are_not_reported(tiny):
    result = run_job(tiny(arms=["stl", "groups"], train={"groups": [["task2"], [0, 1]]}))
    arm = result["arms"]["groups"]
    assert arm["groups"] == [[0, 1], [2]] and arm["partition"] == [["task0", "task1"], ["task2"]]
    assert (arm["networks"], arm["heads"]) == (2, 2)
    rows = [r for r in result["records"] if r["arm"] == "groups"]
    assert sorted((r["task"], r["network"]) for r in rows if r["seed"] == 0) == [(0, 0), (1, 0), (2, 1)]
    # Task 2's network has a padding head: with no labels it leaves the trunk's training
    # unchanged, so it differs from the separate network only in its initialisation.
    assert all(np.isfinite(r["test_bce"]) for r in rows)


def test_a_padding_head_gets_no_loss_and_no_update():
    spec = dataclasses.replace(static(()), arms=(groups_arm(((0, 1), (2,)), TINY.tasks),))
    before, after = (s["arms"]["groups"] for s in run_chunks(spec, tiny_data(), 2)[::2])
    heads = [(s.params["params"]["heads"]["kernel"], s.params["params"]["heads"]["bias"]) for s in (before, after)]
    for start, end in zip(*heads, strict=True):
        np.testing.assert_array_equal(start[1, ..., 1], end[1, ..., 1])  # network 1's padding head
        assert np.all(start[1, ..., 0] != end[1, ..., 0]) and np.all(start[0] != end[0])  # real heads train
    assert float(np.asarray(before.m)[1, :, 1].max()) == 0.0


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([[0, 1], [7]], "train.groups: unknown task 7; expected an index in [0, 2]"),
        ([[0, 1], [1, 2]], "each task in one group (task1 is in two)"),
        ([[0, 1], [], [2]], "non-empty groups (group 1 is empty)"),
        ([[0, 1]], "every task in a group (task2 in none)"),
        ([0, 1, 2], "a non-empty list of groups"),
    ],
)
def test_bad_partitions_are_one_line_errors(tiny, groups, message):
    with pytest.raises(ConfigError, match=None) as error:
        tiny(arms=["groups"], train={"groups": groups})
    assert message in str(error.value) and "\n" not in str(error.value)


def test_unknown_task_name_is_an_error_when_the_job_resolves_names(tiny):
    with pytest.raises(ConfigError, match=r"unknown task 'task9'; expected an index in \[0, 2\] or one of task0"):
        run_job(tiny(arms=["groups"], train={"groups": [["task0", "task9"], [1, 2]]}))


def test_groups_need_the_groups_arm(tiny):
    with pytest.raises(ConfigError, match="train.groups=.* null unless arm groups is trained"):
        tiny(train={"groups": [[0, 1, 2]]})
