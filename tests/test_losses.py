import warnings

import jax
import jax.numpy as jnp
import numpy as np

from harness.train.losses import masked_bce
from harness.train.metrics import average_ranks, evaluate


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


def test_test_metrics_match_scikit_learn_with_ties_and_a_one_class_column():
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=(2, 40, 3)).astype(np.float32)
    logits = np.round(rng.normal(size=(2, 40, 3)), 1).astype(np.float32)  # rounding makes ties
    labels[1, :, 2] = 1.0  # one class only: AUROC undefined
    got = evaluate(logits, labels)
    for r in range(2):
        for c in range(3):
            y, z = labels[r, :, c], logits[r, :, c]
            p = 1 / (1 + np.exp(-z.astype(np.float64)))
            np.testing.assert_allclose(got["test_bce"][r, c], log_loss(y, p, labels=[0, 1]), rtol=1e-9)
            assert got["test_acc"][r, c] == accuracy_score(y, z > 0)
            if (r, c) == (1, 2):
                assert np.isnan(got["test_auroc"][r, c])
            else:
                np.testing.assert_allclose(got["test_auroc"][r, c], roc_auc_score(y, z), rtol=1e-12)


def test_average_ranks_match_scipy_with_ties_and_nan():
    from scipy.stats import rankdata

    rng = np.random.default_rng(1)
    for decimals in (0, 1, 3):  # coarser rounding, more ties
        values = np.round(rng.normal(size=(3, 4, 57)), decimals)
        values[0, 0] = 0.0  # one slice all tied
        values[2, 1, 7] = np.nan  # scipy: NaN throughout that slice
        np.testing.assert_array_equal(average_ranks(values), rankdata(values, axis=-1))


def test_logistic_loss_and_its_derivatives_match_optax_over_a_wide_range_of_logits():
    import optax

    from harness.train.losses import sigmoid_bce

    z = jnp.array([-60.0, -20.0, -3.0, -0.5, 0.0, 0.5, 3.0, 20.0, 60.0])
    for y in (jnp.zeros_like(z), jnp.ones_like(z), jnp.full_like(z, 0.3)):
        np.testing.assert_allclose(sigmoid_bce(z, y), optax.sigmoid_binary_cross_entropy(z, y), rtol=1e-6, atol=1e-7)
        for argnum in (0, 1):  # d/dlogit = sigmoid(z) - y, d/dlabel = -z
            ours = jax.grad(lambda *a: sigmoid_bce(*a).sum(), argnum)(z, y)
            ref = jax.grad(lambda *a: optax.sigmoid_binary_cross_entropy(*a).sum(), argnum)(z, y)
            np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-7)
        second = jax.vmap(jax.grad(jax.grad(sigmoid_bce)), in_axes=(0, 0))(z, y)  # sigmoid'(z), for Hessians
        np.testing.assert_allclose(second, jax.nn.sigmoid(z) * jax.nn.sigmoid(-z), rtol=1e-6, atol=1e-8)


def test_a_one_class_column_gives_nan_auroc_without_a_warning():
    logits = np.array([[0.3, -1.0], [1.2, 2.0], [-0.4, 0.5]])
    labels = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 0.0]])  # column 0: one class
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auroc = evaluate(logits, labels)["test_auroc"]
    assert np.isnan(auroc[0]) and auroc[1] == 1.0
