"""Transfer arms: pretrain on the source tasks, then fine-tune the target from the pretrained network."""

import jax
import numpy as np
import pytest
from controls_helpers import run_chunks, static, tiny_data

from harness.config import ConfigError, RunConfig, TrainConfig, validate


def trunk(params):
    return {k: v for k, v in params["params"].items() if k != "heads"}


def target_head(params):
    return params["params"]["heads"]["kernel"][..., 0], params["params"]["heads"]["bias"][..., 0]


def source_heads(params):
    return params["params"]["heads"]["kernel"][..., 1:], params["params"]["heads"]["bias"][..., 1:]


def equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


@pytest.fixture(scope="module")
def states():
    # Chunks of 5 steps, pretraining for the first 5: state 1 is the pretrained network.
    spec = static(("transfer_head", "transfer_full"), eval_every=5)
    return run_chunks(spec, tiny_data(), 2, lr=1e-3, pretrain_steps=5)


@pytest.mark.parametrize("arm", ["transfer_head", "transfer_full"])
def test_pretraining_trains_the_trunk_on_the_sources_and_leaves_the_new_head(states, arm):
    init, pretrained = (s["arms"][arm].params for s in states[:2])
    assert not equal(trunk(init), trunk(pretrained))
    assert not equal(source_heads(init), source_heads(pretrained))
    assert equal(target_head(init), target_head(pretrained))
    best_step = np.asarray(states[1]["arms"][arm].best_step)
    assert best_step[0, 0] == 0 and np.all(best_step[0, 1:] == 5), "sources are early-stopped in pretraining only"


def test_new_head_only_leaves_the_trunk_unchanged(states):
    pretrained, tuned = (s["arms"]["transfer_head"].params for s in states[1:])
    assert equal(trunk(pretrained), trunk(tuned))
    assert equal(source_heads(pretrained), source_heads(tuned))
    assert not equal(target_head(pretrained), target_head(tuned))
    assert np.asarray(states[2]["arms"]["transfer_head"].best_step)[0, 0] == 10


def test_fine_tuning_everything_starts_from_the_pretrained_trunk(states):
    pretrained, tuned = (s["arms"]["transfer_full"].params for s in states[1:])
    assert equal(source_heads(pretrained), source_heads(tuned))
    moved = max(jax.tree.leaves(jax.tree.map(lambda a, b: float(np.abs(a - b).max()), trunk(pretrained), trunk(tuned))))
    # 5 fresh Adam steps of lr 1e-3 move each weight by at most about 5 * 3.2e-3; a
    # trunk that restarted from anywhere else would be O(0.1) away.
    assert 0.0 < moved < 0.02


def test_pretrain_fraction_must_leave_both_phases():
    with pytest.raises(ConfigError, match="train.pretrain_fraction=1.0 is not accepted"):
        validate(RunConfig(arms=["transfer_head"], train=TrainConfig(pretrain_fraction=1.0)))
    validate(RunConfig(arms=["mtl"], train=TrainConfig(pretrain_fraction=1.0)))  # unused without a transfer arm
