"""Loss weighting of the shared arm: uncertainty weighting and PCGrad against hand-computed values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from controls_helpers import PAIR, run_chunks, same_heads, static, tiny_data

from harness.config import ConfigError, RunConfig, TrainConfig, validate
from harness.train.gradients import head_mask, pcgrad, pcgrad_grads, uncertainty_total


def test_uncertainty_weighting_matches_kendall_by_hand():
    losses, log_var = jnp.array([0.5, 2.0]), jnp.array([0.0, jnp.log(2.0)])
    # exp(-s) L + s / 2: 1 * 0.5 + 0 + 0.5 * 2.0 + log(2) / 2
    assert float(uncertainty_total(losses, log_var)) == pytest.approx(1.5 + 0.5 * np.log(2.0), rel=1e-6)
    d_losses, d_log_var = jax.grad(uncertainty_total, argnums=(0, 1))(losses, log_var)
    np.testing.assert_allclose(d_losses, [1.0, 0.5], rtol=1e-6)  # the task weights exp(-s)
    np.testing.assert_allclose(d_log_var, [-0.5 + 0.5, -1.0 + 0.5], rtol=1e-6, atol=1e-7)  # -exp(-s) L + 1/2


def test_pcgrad_projects_conflicting_gradients_by_hand():
    g = jnp.array([[1.0, 0.0], [-1.0, 1.0]])  # g1 . g2 = -1 < 0
    # g1 - (-1 / |g2|^2) g2 = (0.5, 0.5); g2 - (-1 / |g1|^2) g1 = (0, 1); sum (0.5, 1.5)
    np.testing.assert_allclose(pcgrad(g, jax.random.PRNGKey(0)), [0.5, 1.5], rtol=1e-6)
    agreeing = jnp.array([[1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(pcgrad(agreeing, jax.random.PRNGKey(0)), [2.0, 1.0], rtol=1e-6)


def test_pcgrad_touches_the_trunk_only():
    a = jnp.array([[1.0, 0.0], [-1.0, 1.0]])
    params = {"params": {"trunk": jnp.array([0.3, -0.2]), "heads": {"bias": jnp.array([0.1, 0.4])}}}

    def losses(p):  # task k: trunk . a_k + (k + 1) * bias_k
        return p["params"]["trunk"] @ a.T + jnp.array([1.0, 2.0]) * p["params"]["heads"]["bias"]

    values, grads = pcgrad_grads(losses, params, jax.random.PRNGKey(1))
    np.testing.assert_allclose(values, losses(params))
    np.testing.assert_allclose(grads["params"]["trunk"], [0.5, 1.5], rtol=1e-6)
    np.testing.assert_allclose(grads["params"]["heads"]["bias"], [1.0, 2.0], rtol=1e-6)


def test_pcgrad_puts_each_trunk_leaf_back_in_its_place():
    # Three trunk leaves of different shapes: the projected trunk gradient, flattened in leaf
    # order, is split back leaf by leaf; the heads get the plain sum of the tasks' gradients.
    a = jnp.array([[1.0, 0.0, 2.0, -1.0, 0.5, 0.0, 1.0], [-1.0, 1.0, -2.0, 0.0, 1.0, 3.0, -1.0]])
    params = {
        "params": {
            "Dense_0": {"bias": jnp.zeros(2), "kernel": jnp.zeros((1, 2))},
            "Dense_1": {"bias": jnp.zeros(3)},
            "heads": {"bias": jnp.zeros(2)},
        }
    }

    def losses(p):
        trunk = jnp.concatenate(
            [leaf.ravel() for leaf in jax.tree.leaves({k: v for k, v in p["params"].items() if k != "heads"})]
        )
        return a @ trunk + jnp.array([1.0, 2.0]) * p["params"]["heads"]["bias"]

    _, grads = pcgrad_grads(losses, params, jax.random.PRNGKey(1))
    flat = np.asarray(pcgrad(a, jax.random.PRNGKey(1)))  # leaf order: Dense_0 bias, Dense_0 kernel, Dense_1 bias
    np.testing.assert_allclose(grads["params"]["Dense_0"]["bias"], flat[:2], rtol=1e-6)
    np.testing.assert_allclose(grads["params"]["Dense_0"]["kernel"], flat[2:4].reshape(1, 2), rtol=1e-6)
    np.testing.assert_allclose(grads["params"]["Dense_1"]["bias"], flat[4:], rtol=1e-6)
    np.testing.assert_allclose(grads["params"]["heads"]["bias"], [1.0, 2.0], rtol=1e-6)


def test_head_mask_multiplies_head_columns_and_trunk_leaves_apart():
    params = {
        "params": {"Dense_0": {"kernel": jnp.ones((3, 4))}, "heads": {"kernel": jnp.ones((4, 2)), "bias": jnp.ones(2)}}
    }
    mask = head_mask(params, jnp.array([1.0, 0.0]), jnp.array(0.0))
    np.testing.assert_array_equal(mask["params"]["Dense_0"]["kernel"], np.zeros((3, 4)))
    np.testing.assert_array_equal(mask["params"]["heads"]["kernel"], np.tile([1.0, 0.0], (4, 1)))
    np.testing.assert_array_equal(mask["params"]["heads"]["bias"], [1.0, 0.0])
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(mask))


def test_weighting_options_in_the_trainer():
    """Copies of a task on equal heads never conflict: PCGrad trains like equal weights; uncertainty moves log_var."""
    data = tiny_data(PAIR, duplicate=True)
    equal, pc = (
        run_chunks(static(("mtl",), tasks=2, weighting=w), data, 1, prepare=same_heads)[-1]["arms"]["mtl"]
        for w in ("equal", "pcgrad")
    )
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), equal.params, pc.params)
    assert not np.any(np.asarray(equal.log_var))
    uw = run_chunks(static(("mtl", "stl"), tasks=2, weighting="uncertainty"), data, 1)[-1]["arms"]
    assert np.all(np.asarray(uw["mtl"].log_var) != 0.0)
    assert not np.any(np.asarray(uw["stl"].log_var)), "one-task networks are not weighted"


def test_unknown_weighting_is_one_line():
    with pytest.raises(ConfigError, match="train.weighting='gradnorm'"):
        validate(RunConfig(train=TrainConfig(weighting="gradnorm")))
