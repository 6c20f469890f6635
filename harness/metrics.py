"""Test metrics of binary classifiers, column by column, inside the compiled program."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax.scipy.stats import rankdata


def bce(logits: jnp.ndarray, labels: jnp.ndarray) -> jnp.ndarray:
    """Mean log loss per column: [n, c] -> [c]."""
    return optax.sigmoid_binary_cross_entropy(logits, labels).mean(0)


def accuracy(logits: jnp.ndarray, labels: jnp.ndarray) -> jnp.ndarray:
    return ((logits > 0) == (labels > 0.5)).mean(0)


def auroc(logits: jnp.ndarray, labels: jnp.ndarray) -> jnp.ndarray:
    """Area under the ROC curve per column (Mann-Whitney, ties get average ranks).

    NaN for a column with only one class.
    """

    def column(scores: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
        ranks = rankdata(scores)
        pos = y.sum()
        neg = y.shape[0] - pos
        return (jnp.sum(ranks * y) - pos * (pos + 1) / 2) / (pos * neg)

    return jax.vmap(column, in_axes=1)(logits, labels)


def all_metrics(logits: jnp.ndarray, labels: jnp.ndarray) -> dict[str, jnp.ndarray]:
    return {"test_bce": bce(logits, labels), "test_acc": accuracy(logits, labels), "test_auroc": auroc(logits, labels)}
