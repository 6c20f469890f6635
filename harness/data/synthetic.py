"""Synthetic binary tasks with controllable relatedness (MMoE-style, binarised).

Inputs x ~ N(0, I_d). Each task k has a unit direction

    w_k = rho * u_0 + sqrt(1 - rho^2) * u_k

with u_0, u_1, ..., u_K orthonormal (random unit vectors when K + 1 > d, which are
nearly orthogonal in high dimension), so cos(w_j, w_k) = rho^2 for j != k. A shared
nonlinearity turns the projection into a score,

    s_k(x) = z + sum_i sin(alpha_i * z + beta_i),   z = w_k . x,

with the same alpha_i, beta_i for every task (the shared low-level features), and the
label is y_k = 1[s_k(x) + noise * eps > t], eps ~ N(0, 1) drawn per row and task,
t the median of the noiseless score (balanced classes). rho = 1 gives the same task up
to label noise; rho = 0 gives tasks on orthogonal directions.

Everything except rho is drawn from the data seed in a fixed order, so sweeping rho
(or sizes, or the missing fraction) keeps the inputs, the noise and the label budget
identical: sweep points are paired.
"""

from __future__ import annotations

import numpy as np

from harness.config import DataConfig
from harness.data.base import Dataset, label_mask


def directions(rng: np.random.Generator, dim: int, tasks: int, rho: float) -> np.ndarray:
    """Unit task directions [dim, tasks] with pairwise cosine rho^2."""
    raw = rng.standard_normal((dim, tasks + 1))
    if tasks + 1 <= dim:
        basis, _ = np.linalg.qr(raw)
    else:
        basis = raw / np.linalg.norm(raw, axis=0, keepdims=True)
    return rho * basis[:, :1] + np.sqrt(1.0 - rho**2) * basis[:, 1:]


def make(cfg: DataConfig, seed: int) -> Dataset:
    structure = np.random.default_rng([seed, 0])
    w = directions(structure, cfg.dim, cfg.tasks, cfg.relatedness)
    alpha = structure.uniform(0.5, 2.0, size=cfg.sinusoids)
    beta = structure.uniform(0.0, 2.0 * np.pi, size=cfg.sinusoids)

    def score(x: np.ndarray) -> np.ndarray:
        z = x @ w
        return z + np.sin(alpha * z[..., None] + beta).sum(-1)

    threshold = np.median(score(structure.standard_normal((4096, cfg.dim))), axis=0)
    samples = np.random.default_rng([seed, 1])

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        x = samples.standard_normal((n, cfg.dim))
        noisy = score(x) + cfg.noise * samples.standard_normal((n, cfg.tasks))
        return x.astype(np.float32), (noisy > threshold).astype(np.float32)

    x_train, y_train = split(cfg.pool)
    x_val, y_val = split(cfg.n_val)
    x_test, y_test = split(cfg.n_test)
    mask = label_mask(cfg, np.random.default_rng([seed, 2]))
    return Dataset(x_train, y_train, mask, x_val, y_val, x_test, y_test)
