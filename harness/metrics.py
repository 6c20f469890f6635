"""Binary classification metrics, column by column.

`bce` runs inside the compiled program (validation loss for early stopping); the test
metrics are computed once per run on the host, from the early-stopped test logits, so
that they add no compiled program of their own.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from scipy.stats import rankdata

from harness.losses import sigmoid_bce


def bce(logits: jnp.ndarray, labels: jnp.ndarray) -> jnp.ndarray:
    """Mean log loss per column: [n, c] -> [c]."""
    return sigmoid_bce(logits, labels).mean(0)


def evaluate(logits: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Test log loss, accuracy and AUROC over axis -2 (rows): [..., n, c] -> [..., c], float64.

    AUROC is Mann-Whitney's, with average ranks for ties; NaN for a column with one class.
    """
    z, y = np.asarray(logits, np.float64), np.asarray(labels, np.float64)
    pos = y.sum(-2)
    neg = y.shape[-2] - pos
    with np.errstate(invalid="ignore", divide="ignore"):
        auroc = ((rankdata(z, axis=-2) * y).sum(-2) - pos * (pos + 1) / 2) / (pos * neg)
    return {
        "test_bce": (np.logaddexp(0.0, z) - y * z).mean(-2),
        "test_acc": ((z > 0) == (y > 0.5)).mean(-2),
        "test_auroc": auroc,
    }
