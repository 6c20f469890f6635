"""Transfer arms: pretrain on the source tasks, then fine-tune the target from the pretrained network."""

import jax
import numpy as np
import pytest
from controls_helpers import run_chunks, static, tiny_data

from harness.arms import make_arm
from harness.config import ConfigError, RunConfig, TrainConfig, validate
from harness.train.metrics import bce
from harness.train.models import make_model
from harness.train.trainer import chunk_calls, evaluation_steps


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
    # 5 steps of pretraining (state 1), the start of fine-tuning (state 2), 5 steps of it (state 3).
    spec = static(("transfer_head", "transfer_full"), eval_every=5)
    return run_chunks(spec, tiny_data(), 0, lr=1e-3, pretrain_steps=5, calls=[(5, False), (0, True), (5, False)])


@pytest.mark.parametrize("arm", ["transfer_head", "transfer_full"])
def test_pretraining_trains_the_trunk_on_the_sources_and_leaves_the_new_head(states, arm):
    init, pretrained = (s["arms"][arm].params for s in states[:2])
    assert not equal(trunk(init), trunk(pretrained))
    assert not equal(source_heads(init), source_heads(pretrained))
    assert equal(target_head(init), target_head(pretrained))
    best_step = np.asarray(states[1]["arms"][arm].best_step)
    assert best_step[0, 0] == 0 and np.all(best_step[0, 1:] == 5), "sources are early-stopped in pretraining only"
    # The target is evaluated from the first fine-tuning step on: at step 5, before any step on it.
    assert np.asarray(states[2]["arms"][arm].best_step)[0, 0] == 5


def test_new_head_only_leaves_the_trunk_unchanged(states):
    pretrained, tuned = (states[i]["arms"]["transfer_head"].params for i in (1, 3))
    assert equal(trunk(pretrained), trunk(tuned))
    assert equal(source_heads(pretrained), source_heads(tuned))
    assert not equal(target_head(pretrained), target_head(tuned))
    assert np.asarray(states[3]["arms"]["transfer_head"].best_step)[0, 0] == 10


def test_fine_tuning_everything_starts_from_the_pretrained_trunk(states):
    pretrained, tuned = (states[i]["arms"]["transfer_full"].params for i in (1, 3))
    assert equal(source_heads(pretrained), source_heads(tuned))
    moved = max(jax.tree.leaves(jax.tree.map(lambda a, b: float(np.abs(a - b).max()), trunk(pretrained), trunk(tuned))))
    # 5 fresh Adam steps of lr 1e-3 move each weight by at most about 5 * 3.2e-3; a
    # trunk that restarted from anywhere else would be O(0.1) away.
    assert 0.0 < moved < 0.02


def test_fine_tuning_starts_from_the_best_pretraining_step_with_a_fresh_optimiser():
    # Pretraining for 30 steps, evaluated every 5 from step 0; at lr 0.03 the sources'
    # validation loss is lowest before the end. Then fine-tuning starts.
    spec = static(("transfer_full", "transfer_shuffled"), eval_every=5)
    data = tiny_data()
    calls = [(0, False), *[(5, False)] * 6, (0, True), (5, False)]
    states = run_chunks(spec, data, 0, lr=0.03, pretrain_steps=30, calls=calls)
    model = make_model(spec.model, 3)
    for arm in ("transfer_full", "transfer_shuffled"):
        pretraining = [s["arms"][arm] for s in states[1:8]]  # evaluations at steps 0, 5, ..., 30
        source_val = []
        for s in pretraining:
            logits = jax.vmap(model.apply, in_axes=(0, None))(s.params, data.x_val)[0]
            source_val.append(sum(float(bce(logits[:, h], data.y_val[:, h])) for h in (1, 2)))
        start = states[8]["arms"][arm]
        if arm == "transfer_full":  # early-stopped on the sources' validation loss, here before the end
            best = int(np.argmin(source_val)) * 5
            assert best < 30
        else:  # the shuffled control keeps its whole pretraining
            best = 30
            assert np.argmin(source_val) * 5 != best
        assert int(start.source_step[0]) == best
        assert equal(start.params, pretraining[best // 5].params)
        # A fresh Adam: no step counted, no moments; fine-tuning then counts its own steps.
        adam = start.opt_state[0]
        assert int(adam.count[0]) == 0 and not any(np.any(leaf) for leaf in jax.tree.leaves((adam.mu, adam.nu)))
        assert int(states[9]["arms"][arm].opt_state[0].count[0]) == 5


def test_shuffled_control_pretrains_on_permuted_source_labels():
    spec = make_arm("transfer_shuffled", 3)
    assert spec.shuffle_aux and spec.transfer == "full" and spec.target_only


def test_transfer_schedule_restarts_dense_at_fine_tuning():
    spec = static(("stl", "transfer_head"), eval_every=50)
    schedule = evaluation_steps(spec, 200, pretrain_steps=100)
    assert schedule == [0, 1, 2, 4, 8, 16, 32, 50, 100, 100, 101, 102, 104, 108, 116, 132, 150, 200]
    calls = chunk_calls(schedule)
    assert [c for c, (_, restore) in enumerate(calls) if restore] == [9] and calls[9] == (0, True)
    assert sum(steps for steps, _ in calls) == 200
    assert evaluation_steps(static(("stl",), eval_every=50), 200, pretrain_steps=100)[8:10] == [100, 150]


def test_pretrain_fraction_must_leave_both_phases():
    with pytest.raises(ConfigError, match="train.pretrain_fraction=1.0 is not accepted"):
        validate(RunConfig(arms=["transfer_head"], train=TrainConfig(pretrain_fraction=1.0)))
    validate(RunConfig(arms=["mtl"], train=TrainConfig(pretrain_fraction=1.0)))  # unused without a transfer arm
