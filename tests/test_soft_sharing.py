"""The soft-sharing arms: mmoe (gated experts) and cross_stitch (stitched columns)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from harness.config import ConfigError, ModelConfig, RunConfig, validate
from harness.data import make_replicates
from harness.runs.job import count_params, equal_params_width, replicate_keys, run_job, static_of
from harness.train.models import MLP, CrossStitch, MMoE, make_model
from harness.train.trainer import hyperparams, train

X = jax.random.normal(jax.random.PRNGKey(1), (5, 6))


def test_both_arms_train_and_report_every_task_with_their_parameter_counts(tiny):
    run = tiny(arms=["mtl", "mmoe", "mmoe_equal_params", "cross_stitch", "stl"])
    result = run_job(run, progress=False)
    assert result["status"] == "ok"
    k, shape = run.data.tasks, (run.data.dim,)
    for arm in ("mmoe", "mmoe_equal_params", "cross_stitch"):
        assert sorted({r["task"] for r in result["records"] if r["arm"] == arm}) == list(range(k))
    arms = result["arms"]
    assert arms["mmoe"]["params_per_network"] == count_params(run, k, None, shape, "mmoe")
    # cross_stitch: the K separate networks' parameters and depth K^2 mixing weights, exactly
    assert arms["cross_stitch"]["params_per_network"] == k * arms["stl"]["params_per_network"] + run.model.depth * k**2
    wide = equal_params_width(run, shape, "mmoe")
    assert arms["mmoe_equal_params"]["width"] == wide
    gap = abs(count_params(run, k, wide, shape, "mmoe") - k * arms["stl"]["params_per_network"])
    assert all(
        gap <= abs(count_params(run, k, w, shape, "mmoe") - k * arms["stl"]["params_per_network"])
        for w in range(1, 3 * wide)
    )


@pytest.mark.parametrize("arm", ["mmoe", "cross_stitch"])
def test_a_seed_trained_alone_equals_the_same_seed_in_the_vmapped_program(tiny, arm):
    run = tiny(arms=[arm])
    data = make_replicates(run.data, run.train.seeds)
    static = static_of(run, data.x_train.shape[2:])
    keys, hp = replicate_keys(run), hyperparams(run.train)
    together = train(static, keys, data, hp, run.train.steps)
    alone = train(static, keys[1:], jax.tree.map(lambda a: a[1:], data), hp, run.train.steps)
    for name in ("test_bce", "val_bce", "best_step"):
        np.testing.assert_allclose(alone.metrics[arm][name][0], together.metrics[arm][name][1], rtol=1e-5, atol=1e-6)


def test_one_expert_is_the_hard_shared_network():
    mmoe = MMoE(width=4, depth=2, heads=3, experts=1)
    params = mmoe.init(jax.random.PRNGKey(0), X)["params"]
    mlp = {
        "Dense_0": {"kernel": params["experts_0"][0], "bias": params["experts_0_bias"][0]},
        "Dense_1": {"kernel": params["experts_1"][0], "bias": params["experts_1_bias"][0]},
        "heads": params["heads"],
    }
    expected = MLP(width=4, depth=2, heads=3).apply({"params": mlp}, X)
    np.testing.assert_allclose(mmoe.apply({"params": params}, X), expected, rtol=1e-5, atol=1e-6)


def test_unstitched_columns_are_separate_networks_and_stitched_ones_are_not():
    model = CrossStitch(width=4, depth=2, heads=3)
    params = model.init(jax.random.PRNGKey(0), X)["params"]

    def column_grad(p):  # d(task 0's logits) / d(column 2's first layer)
        return jax.grad(lambda q: model.apply({"params": q}, X)[:, 0].sum())(p)["columns_0"][2]

    assert float(jnp.abs(column_grad(params)).sum()) > 0  # 0.1 of column 2 reaches task 0
    apart = {**params, "stitch_0": jnp.eye(3), "stitch_1": jnp.eye(3)}
    assert float(jnp.abs(column_grad(apart)).sum()) == 0


@pytest.mark.parametrize("sharing", ["mmoe", "cross_stitch"])
def test_gradients_match_finite_differences(sharing):
    model = make_model(ModelConfig(width=3, depth=2, experts=2), heads=2, sharing=sharing)
    x = X.astype(jnp.float64) if jax.config.jax_enable_x64 else X
    params = model.init(jax.random.PRNGKey(0), x)["params"]
    y = (jax.random.uniform(jax.random.PRNGKey(2), (5, 2)) > 0.5).astype(x.dtype)

    def loss(p):
        logits = model.apply({"params": p}, x)
        return jnp.mean(jnp.logaddexp(0.0, logits) - y * logits)

    check_grads(loss, (params,), order=1, modes=["rev"], atol=2e-2, rtol=2e-2, eps=1e-2)


def test_soft_sharing_needs_the_mlp():
    run = RunConfig(arms=["mmoe", "stl"])
    run.data.suite, run.data.tasks, run.model.kind = "digits", 10, "cnn"
    with pytest.raises(ConfigError, match="model.kind='cnn' is not accepted; expected mlp with arm mmoe"):
        validate(run)
    run = RunConfig(arms=["mmoe"])
    run.model.experts = 0
    with pytest.raises(ConfigError, match="model.experts=0 is not accepted"):
        validate(run)
