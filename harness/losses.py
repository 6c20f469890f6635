"""The lecture's masked multi-task logistic loss."""

from __future__ import annotations

import jax.numpy as jnp
import optax


def masked_bce(logits: jnp.ndarray, labels: jnp.ndarray, mask: jnp.ndarray) -> jnp.ndarray:
    """(1/m) * sum_i sum_{j: mask_ij = 1} L(yhat_ij, y_ij) over a batch of m rows.

    A "?" (mask 0) multiplies its term by zero, so it adds exactly zero loss and
    exactly zero gradient to its logit.
    """
    return masked_bce_per_task(logits, labels, mask).sum()


def masked_bce_per_task(logits: jnp.ndarray, labels: jnp.ndarray, mask: jnp.ndarray) -> jnp.ndarray:
    """The lecture's loss split by task: [m, K] -> [K], summing to `masked_bce`."""
    per_label = optax.sigmoid_binary_cross_entropy(logits, labels)
    return jnp.sum(per_label * mask, axis=0) / logits.shape[0]
