import jax
import jax.numpy as jnp
import numpy as np

from harness.losses import masked_bce


def bce(p, y):
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def test_masked_loss_matches_the_lecture_formula_by_hand():
    logits = jnp.array([[0.0, 2.0, -1.0], [1.5, -0.5, 3.0]])
    labels = jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    mask = jnp.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])  # two "?" labels
    p = 1 / (1 + np.exp(-np.asarray(logits)))
    # (1/m) * sum over rows of the labelled tasks' logistic losses, m = 2 rows.
    expected = (bce(p[0, 0], 1) + bce(p[0, 1], 0) + bce(p[1, 1], 1) + bce(p[1, 2], 1)) / 2
    np.testing.assert_allclose(masked_bce(logits, labels, mask), expected, rtol=1e-6)


def test_missing_label_adds_zero_loss_and_exactly_zero_gradient():
    logits = jnp.array([[0.3, -2.0], [1.0, 0.5]])
    labels = jnp.array([[1.0, 1.0], [0.0, 1.0]])
    mask = jnp.array([[1.0, 0.0], [1.0, 1.0]])
    grad = jax.grad(masked_bce)(logits, labels, mask)
    assert grad[0, 1] == 0.0
    assert np.all(np.asarray(grad)[np.asarray(mask) == 1] != 0.0)
    # Whatever the hidden label says, the loss is the same.
    flipped = labels.at[0, 1].set(0.0)
    assert masked_bce(logits, labels, mask) == masked_bce(logits, flipped, mask)
