"""TAG lookahead affinity: positive between identical tasks, negative against a negated gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from controls_helpers import PAIR, run_chunks, same_heads, static, tiny_data

from harness.config import ConfigError, RunConfig, TrainConfig, validate
from harness.train.gradients import lookahead_affinity

PARAMS = {"params": {"trunk": jnp.array([0.5, -1.0]), "heads": {"bias": jnp.array([0.0, 0.0])}}}
LR = 0.1


def sgd(grads):  # TAG's lookahead step
    return jax.tree.map(lambda g: -LR * g, grads)


def f(p):  # a positive loss of the trunk
    return jnp.sum((p["params"]["trunk"] - 2.0) ** 2) + 1.0


@pytest.mark.parametrize("scale", [1.0, 0.05])  # losses above 1, and below 1 as log losses are
def test_identical_tasks_have_positive_affinity(scale):
    z, valid = lookahead_affinity(lambda p: scale * jnp.stack([f(p), f(p)]), PARAMS, sgd)
    assert np.all(valid)
    # A step of lr * grad (s f) from trunk t lowers f from 1 + |t - 2|^2 to 1 + (1 - 2 s lr)^2 |t - 2|^2.
    d2 = float(jnp.sum((PARAMS["params"]["trunk"] - 2.0) ** 2))
    assert scale * (1.0 + d2) < 1.0 or scale == 1.0
    expected = 1.0 - (1.0 + (1.0 - 2 * scale * LR) ** 2 * d2) / (1.0 + d2)
    np.testing.assert_allclose(z, np.full((2, 2), expected), rtol=1e-5)
    assert expected > 0


def test_a_negated_gradient_has_negative_affinity():
    z, _ = lookahead_affinity(lambda p: jnp.stack([f(p), 20.0 - f(p)]), PARAMS, sgd)
    assert z[0, 1] < 0 and z[1, 0] < 0
    assert z[0, 0] > 0 and z[1, 1] > 0


def test_affinity_is_undefined_for_a_task_without_labels_in_the_batch():
    z, valid = lookahead_affinity(lambda p: jnp.stack([f(p), 0.0 * f(p)]), PARAMS, sgd)
    np.testing.assert_array_equal(valid, [[True, False], [False, False]])
    assert z[0, 1] == 0.0


def test_the_lookahead_takes_the_step_it_is_given():
    def g(p):
        return jnp.sum((p["params"]["trunk"] + 1.0) ** 2) + 1.0

    half = lookahead_affinity(
        lambda p: jnp.stack([f(p), g(p)]), PARAMS, lambda d: jax.tree.map(lambda x: x / 2, sgd(d))
    )
    full = lookahead_affinity(lambda p: jnp.stack([f(p), g(p)]), PARAMS, sgd)
    t = np.array([0.5, -1.0])
    for i, d in enumerate((2 * (t - 2.0), 2 * (t + 1.0))):  # task i's trunk gradient
        for j, loss in enumerate((lambda x: np.sum((x - 2.0) ** 2) + 1.0, lambda x: np.sum((x + 1.0) ** 2) + 1.0)):
            for z, step in ((full[0], LR), (half[0], LR / 2)):
                np.testing.assert_allclose(z[i, j], 1.0 - loss(t - step * d) / loss(t), rtol=1e-5, atol=1e-6)


def test_measured_affinity_between_two_copies_of_a_task_is_positive():
    spec = static(("mtl",), tasks=2, affinity_every=1)
    arm = run_chunks(spec, tiny_data(PAIR, duplicate=True), 1, prepare=same_heads)[-1]["arms"]["mtl"]
    assert np.all(np.asarray(arm.affinity_count) == 5)  # every step of the 5-step chunk
    z = np.asarray(arm.affinity_sum / arm.affinity_count)[0]
    np.testing.assert_allclose(z, np.full((2, 2), z[0, 0]), rtol=1e-4)  # one loss function, twice
    assert z[0, 1] > 0 and z[1, 0] > 0


def test_affinity_needs_the_shared_arm_and_a_divisor_of_eval_every():
    with pytest.raises(ConfigError, match="train.affinity_every=5 is not accepted; expected 0 unless arm mtl"):
        validate(RunConfig(arms=["stl"], train=TrainConfig(affinity_every=5)))
    with pytest.raises(ConfigError, match="a divisor of train.eval_every=50"):
        validate(RunConfig(train=TrainConfig(affinity_every=7)))


def test_affinity_counts_only_the_measurements_inside_its_window():
    # Guards the early window: late measurements (trunk gradients cancelling) must not enter the mean.
    data = tiny_data(PAIR, duplicate=True)
    whole = run_chunks(static(("mtl",), tasks=2, affinity_every=1), data, 2)[-1]["arms"]["mtl"]
    early = run_chunks(static(("mtl",), tasks=2, affinity_every=1, affinity_until=3), data, 2)[-1]["arms"]["mtl"]
    assert np.all(np.asarray(whole.affinity_count) == 10) and np.all(np.asarray(early.affinity_count) == 3)
    first = run_chunks(static(("mtl",), tasks=2, affinity_every=1), data, 1, calls=[(3, False)])[-1]["arms"]["mtl"]
    np.testing.assert_allclose(early.affinity_sum, first.affinity_sum, rtol=1e-5)  # the same first 3 steps


def test_the_window_is_checked():
    with pytest.raises(ConfigError, match="train.affinity_window=0 is not accepted"):
        validate(RunConfig(train=TrainConfig(affinity_every=5, affinity_window=0)))
    assert TrainConfig(steps=500, affinity_window=0.2).affinity_steps == 100
