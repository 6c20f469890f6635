"""harness.arms: which tasks each arm's networks train, and what each arm reports.

The trainer, preflight's memory estimate and the config layer all read these records, so
a wrong layout here trains and reports the wrong networks everywhere at once.
"""

from __future__ import annotations

import pytest

from harness.arms import ARMS, PAD, ArmSpec, groups_arm, make_arm


def test_each_layout_gives_its_networks_and_heads():
    """Guards preflight's counts: one network of K heads, K of one, K(K-1)/2 of two."""
    counts = {name: (ARMS[name].networks(5), ARMS[name].heads(5)) for name in ("mtl", "stl", "pairs", "transfer_full")}
    assert counts == {"mtl": (1, 5), "stl": (5, 1), "pairs": (10, 2), "transfer_full": (1, 5)}
    assert all(type(n) is int for pair in counts.values() for n in pair)  # counts, never 10.0
    assert (ARMS["groups"].networks(5), ARMS["groups"].heads(5)) == (1, 5)  # a partition: at least one, at most K


def test_the_arms_that_need_two_tasks_are_the_auxiliary_pair_and_partition_layouts():
    needs_two = {name for name, arm in ARMS.items() if arm.multi_task}
    assert needs_two == {"mtl_shuffled", "transfer_head", "transfer_full", "transfer_shuffled", "pairs", "groups"}


def test_make_arm_builds_each_layouts_groups():
    assert make_arm("mtl", 3).groups == ((0, 1, 2),)
    assert make_arm("stl", 3).groups == ((0,), (1,), (2,))
    assert make_arm("pairs", 4).groups == ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
    assert make_arm("transfer_full", 4, target=2).groups == ((2, 0, 1, 3),)
    assert make_arm("mtl_shuffled", 3).groups == ((0, 1, 2),)


def test_make_arm_carries_the_arms_label_view_transfer_shuffle_and_sharing():
    spec = make_arm("transfer_shuffled", 3, target=1)
    assert (spec.name, spec.label_view, spec.transfer, spec.shuffle_aux, spec.sharing) == (
        "transfer_shuffled", "masked", "full", True, "hard"
    )  # fmt: skip
    assert make_arm("mtl_drop", 3).label_view == "drop_rows"
    assert make_arm("mtl_zero", 3).label_view == "zero_fill"
    assert make_arm("transfer_head", 3).transfer == "head"
    assert make_arm("mmoe", 3).sharing == "mmoe"
    assert make_arm("cross_stitch", 3).sharing == "cross_stitch"
    assert make_arm("mtl", 3).key_names == ()


def test_only_the_equal_parameter_arms_take_the_equal_parameter_width():
    """Guards the equal-parameter arms against training at model.width (silently mtl)."""
    assert make_arm("mtl_equal_params", 3, 40).width == 40
    assert make_arm("mmoe_equal_params", 3, 40).width == 40
    assert make_arm("mtl", 3, 40).width is None
    assert make_arm("stl", 3, 40).width is None


def test_target_only_and_weighted_follow_what_the_arm_trains():
    """Guards what is reported: the transfer and shuffled arms report the target alone; task
    weighting applies where several tasks train one network together, not to fine-tuning."""
    assert make_arm("transfer_head", 3).target_only
    assert make_arm("mtl_shuffled", 3).target_only
    assert not make_arm("mtl", 3).target_only
    assert make_arm("mtl", 3).weighted
    assert make_arm("mtl_shuffled", 3).weighted
    assert not make_arm("stl", 3).weighted
    assert not make_arm("transfer_full", 3).weighted
    assert make_arm("pairs", 3).weighted


def test_spec_networks_and_heads_are_its_groups_shape():
    spec = ArmSpec("x", ((0, 1, 2), (3, 4, PAD)))
    assert (spec.networks, spec.heads) == (2, 3)


def test_groups_arm_pads_smaller_groups_and_keys_each_network_as_its_twin_arm():
    """Guards the pairing of seeds: a group that is one task draws stl's keys, two tasks
    pairs', every task mtl's; a padded or other group its own."""
    spec = groups_arm(((0, 1), (2,), (3, 4)), 5)
    assert spec.name == "groups"
    assert spec.groups == ((0, 1), (2, PAD), (3, 4))
    assert spec.key_names == ("pairs", "groups", "pairs")
    assert groups_arm(((0,), (1,), (2,)), 3).key_names == ("stl", "stl", "stl")
    assert groups_arm(((0, 1, 2),), 3).key_names == ("mtl",)
    assert groups_arm(((0, 1, 2), (3, 4, 5)), 6).key_names == ("groups", "groups")
    assert make_arm("groups", 3, partition=((0, 2), (1,))).groups == ((0, 2), (1, PAD))


def test_make_arm_refuses_an_unknown_arm_and_a_partition_arm_without_a_partition():
    with pytest.raises(ValueError, match="unknown arm 'nope'"):
        make_arm("nope", 3)
    with pytest.raises(ValueError, match=r"arm groups needs a partition of the tasks \(train.groups"):
        make_arm("groups", 3)
