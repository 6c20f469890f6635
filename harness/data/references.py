"""What a suite's test metrics are measured against: the constant predictor, and the
Bayes-optimal predictor where the generator knows P(y | x).

Computed on the host from the replicate-stacked Dataset (nothing extra goes to the
device); one value per replicate and task.
"""

from __future__ import annotations

import numpy as np

from harness.config import DataConfig
from harness.data import suite_of
from harness.data.base import Dataset
from harness.train.metrics import evaluate


def base_rate(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Each task's share of positive labels among its labelled rows [..., n, K] -> [..., K],
    clipped to [1 / 2n, 1 - 1 / 2n] so no test label costs an infinite loss; 1/2 without labels."""
    n = m.sum(-2)
    rate = np.divide((y * m).sum(-2), n, out=np.full(n.shape, 0.5), where=n > 0)
    edge = 0.5 / np.maximum(n, 1)
    return np.clip(rate, edge, 1.0 - edge)


def references(cfg: DataConfig, data: Dataset) -> dict[str, np.ndarray]:
    """constant_bce, bayes_bce and bayes_auroc [replicates, K] on the test split (NaN without a posterior).

    Replicate r is data seed cfg.seed + r, as in `make_replicates`.
    """
    y_train, m_train = np.asarray(data.y_train, np.float64), np.asarray(data.m_train, np.float64)
    y_test = np.asarray(data.y_test, np.float64)
    p = base_rate(y_train, m_train)[:, None, :]
    constant = evaluate(np.broadcast_to(np.log(p) - np.log1p(-p), y_test.shape), y_test)["test_bce"]
    bayes = np.full(constant.shape, np.nan), np.full(constant.shape, np.nan)
    posterior = suite_of(cfg).posterior
    if posterior is not None:
        logits = np.stack([posterior(cfg, cfg.seed + r, x) for r, x in enumerate(data.x_test)])
        scores = evaluate(logits, y_test)
        bayes = scores["test_bce"], scores["test_auroc"]
    return {"constant_bce": constant, "bayes_bce": bayes[0], "bayes_auroc": bayes[1]}
