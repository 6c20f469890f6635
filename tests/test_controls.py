"""Caruana's shuffle control permutes the auxiliary tasks' labels and nothing else."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from controls_helpers import TINY, run_chunks, static, tiny_data

from harness.arms import make_arm
from harness.config import ConfigError, DataConfig, RunConfig, validate
from harness.train.labels import shuffle_auxiliary


def test_shuffle_permutes_only_auxiliary_labels_within_their_labelled_rows():
    rng = np.random.default_rng(0)
    y = jnp.asarray(rng.integers(0, 2, (200, 4)), jnp.float32)
    m = jnp.asarray(rng.random((200, 4)) < 0.6, jnp.float32)
    shuffled = np.asarray(shuffle_auxiliary(jax.random.PRNGKey(0), y, m))
    y, m = np.asarray(y), np.asarray(m)
    np.testing.assert_array_equal(shuffled[:, 0], y[:, 0])  # the target's labels
    np.testing.assert_array_equal(shuffled[m == 0], y[m == 0])  # a "?" stays where it is
    for k in range(1, 4):
        labelled = m[:, k] == 1
        assert shuffled[labelled, k].sum() == y[labelled, k].sum()  # same labels, other rows
        assert np.mean(shuffled[labelled, k] != y[labelled, k]) > 0.2


def test_shuffled_arm_trains_on_the_same_masks_and_target_labels():
    state = run_chunks(static(("mtl", "mtl_shuffled")), tiny_data(), 0)[0]["arms"]
    mtl, shuffled = state["mtl"], state["mtl_shuffled"]
    # mtl_shuffled's heads are (target=0, 1, 2), the same order as mtl's here.
    assert make_arm("mtl_shuffled", TINY.tasks).groups == ((0, 1, 2),)
    np.testing.assert_array_equal(shuffled.m, mtl.m)
    np.testing.assert_array_equal(shuffled.y[..., 0], mtl.y[..., 0])
    np.testing.assert_array_equal((shuffled.y * shuffled.m).sum(1), (mtl.y * mtl.m).sum(1))
    assert np.any(np.asarray(shuffled.y[..., 1:]) != np.asarray(mtl.y[..., 1:]))


def test_target_comes_first_in_the_control_arms():
    assert make_arm("mtl_shuffled", 4, target=2).groups == ((2, 0, 1, 3),)
    assert make_arm("transfer_head", 4, target=3).groups == ((3, 0, 1, 2),)
    assert make_arm("pairs", 4).groups == ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


@pytest.mark.parametrize("arm", ["mtl_shuffled", "transfer_full", "pairs"])
def test_control_arms_need_a_second_task(arm):
    with pytest.raises(ConfigError, match=f"data.tasks=1 is not accepted; expected an integer >= 2 with arm {arm}"):
        validate(RunConfig(arms=[arm], data=DataConfig(tasks=1)))


def test_control_arms_report_and_score_a_target_other_than_task_0(tiny):
    """Guards data.target != 0: the target-only arms (the shuffle control, transfer) report one
    record per seed, for the target task, and score it on the target's test labels: flipping
    another task's test labels leaves their metrics unchanged, and changes stl's on that task."""
    from harness.data import make_replicates
    from harness.runs.job import replicate_keys, run_job, static_of
    from harness.train.trainer import hyperparams, train

    controls = ("mtl_shuffled", "transfer_head")
    run = tiny(arms=["stl", *controls], data={"target": 1}, train={"pretrain_fraction": 0.5})
    result = run_job(run, progress=False)
    for arm in controls:
        assert sorted((r["task"], r["seed"]) for r in result["records"] if r["arm"] == arm) == [(1, 0), (1, 1)]

    data = make_replicates(run.data, run.train.seeds)
    flipped = data._replace(y_test=np.asarray(data.y_test).copy())
    flipped.y_test[..., 0] = 1 - flipped.y_test[..., 0]
    static = static_of(run, data.x_train.shape[2:])
    a, b = (train(static, replicate_keys(run), d, hyperparams(run.train), run.train.steps) for d in (data, flipped))
    for arm in controls:  # head 0 is the target, the one reported (the others only served it)
        np.testing.assert_allclose(a.metrics[arm]["test_bce"][..., 0], b.metrics[arm]["test_bce"][..., 0], rtol=1e-6)
    assert not np.allclose(a.metrics["stl"]["test_bce"][:, 0], b.metrics["stl"]["test_bce"][:, 0])
    np.testing.assert_allclose(a.metrics["stl"]["test_bce"][:, 1], b.metrics["stl"]["test_bce"][:, 1], rtol=1e-6)
