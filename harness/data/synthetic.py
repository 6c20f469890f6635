"""Synthetic binary task families with controllable relatedness (MMoE-style, binarised).

Inputs x ~ N(0, I_d). Task k has the unit direction

    w_k = a * u_0 + b * v_g(k) + c * u_k,    g(k) = k mod data.task_groups,

with u_0 (shared by all tasks) and v_0, v_1, ... (one per group) orthonormal, and u_k a
random unit vector of task k's own, orthogonal to those shared directions (so nearly
orthogonal to the other tasks' u_j in high dimension: E[u_j . u_k] = 0). With one group
a = rho, b = 0, c = sqrt(1 - rho^2), so cos(w_j, w_k) = rho^2 in expectation; with G
groups a = rho_between, b = sqrt(rho^2 - rho_between^2), c = sqrt(1 - rho^2), so the
cosine is rho^2 within a group and rho_between^2 between groups. The score is

    s_k(x) = z + sum_i sin(alpha_i * z + beta_i)
             + specific * sum_i sin(gamma_ki * r_ki . x + delta_ki),     z = w_k . x,

with alpha_i, beta_i shared by every task (the shared low-level features) and the
task's own unit directions r_ki (orthogonal to the shared ones) and link gamma_ki,
delta_ki, which no other task shares. The label is y_k = 1[s_k(x) + noise_k * eps > t_k],
eps ~ N(0, 1) per row and task, noise_k = noise * exp(noise_spread * e_k) with e_k
uniform on [-1, 1], and t_k the median of s_k over a fixed reference sample (balanced
classes). Hence P(y_k = 1 | x) = Phi((s_k(x) - t_k) / noise_k) exactly: the Bayes
reference (`posterior_logits`).

Every quantity has its own random stream (the constants below): task k is the same
task at any data.tasks, and the inputs, noise draws and label budget do not depend on
data.tasks, relatedness, specific or noise_spread, so sweeps over them are paired.
docs/task-families.md has the formulas and the keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy.special import log_ndtr

from harness.config import DataConfig, check
from harness.data.base import Dataset, label_mask
from harness.data.suite import CHUNK_VALUES, Suite, by_rows, generated_size

# Random streams, each np.random.default_rng([seed, stream, ...]); none depends on the task count.
LINK, BASIS, MASK, TASK, REFERENCE, INPUTS, NOISE = range(7)
REFERENCE_ROWS = 4096  # rows of the sample whose median score is each task's threshold
# The Bayes posterior's logits are clipped here: a noiseless task's posterior is a step,
# and beyond it a label's probability differs from 0 or 1 by less than 1e-43.
LOGIT_CAP = 100.0


class Family(NamedTuple):
    """The tasks of one data seed: everything the generator needs to score and label x."""

    w: np.ndarray  # [dim, K] unit task directions
    alpha: np.ndarray  # [S] shared link
    beta: np.ndarray  # [S]
    own: np.ndarray  # [dim, K * S] each task's own unit directions r_ki
    gamma: np.ndarray  # [K * S] each task's own link
    delta: np.ndarray  # [K * S]
    specific: float
    threshold: np.ndarray  # [K]
    noise: np.ndarray  # [K] label noise per task


def shared_basis(seed: int, dim: int, groups: int) -> np.ndarray:
    """u_0, v_0, ..., v_{G-1} as orthonormal columns [dim, G + 1].

    Gram-Schmidt in column order, each column drawn from its own stream, so column j
    does not depend on how many groups follow it.
    """
    raw = np.stack([np.random.default_rng([seed, BASIS, j]).standard_normal(dim) for j in range(groups + 1)], 1)
    q, r = np.linalg.qr(raw)
    return q * np.sign(np.diag(r))


def mixing(cfg: DataConfig) -> tuple[float, float, float]:
    """(a, b, c) of w_k = a u_0 + b v_g(k) + c u_k, with a^2 + b^2 + c^2 = 1."""
    rho = cfg.relatedness
    a = rho if cfg.task_groups == 1 else cfg.relatedness_between
    return a, float(np.sqrt(rho**2 - a**2)), float(np.sqrt(1.0 - rho**2))


def _own_units(raw: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Columns of `raw` made orthogonal to the shared directions and of unit length."""
    free = raw - basis @ (basis.T @ raw)
    return free / np.linalg.norm(free, axis=0, keepdims=True)


def family(cfg: DataConfig, seed: int) -> Family:
    dim, tasks, waves = cfg.dim, cfg.tasks, cfg.sinusoids
    basis = shared_basis(seed, dim, cfg.task_groups)
    link = np.random.default_rng([seed, LINK])
    alpha, beta = link.uniform(0.5, 2.0, waves), link.uniform(0.0, 2.0 * np.pi, waves)
    u, spread, own, gamma, delta = [], [], [], [], []
    for k in range(tasks):  # every draw is made whatever the config's values, in this order
        rng = np.random.default_rng([seed, TASK, k])
        u.append(rng.standard_normal(dim))
        spread.append(rng.uniform(-1.0, 1.0))
        own.append(rng.standard_normal((dim, waves)))
        gamma.append(rng.uniform(0.5, 2.0, waves))
        delta.append(rng.uniform(0.0, 2.0 * np.pi, waves))
    a, b, c = mixing(cfg)
    groups = np.arange(tasks) % cfg.task_groups
    w = a * basis[:, :1] + b * basis[:, 1 + groups] + c * _own_units(np.stack(u, 1), basis)
    tasks_family = Family(
        w=w,
        alpha=alpha,
        beta=beta,
        own=_own_units(np.concatenate(own, 1), basis),
        gamma=np.concatenate(gamma),
        delta=np.concatenate(delta),
        specific=cfg.specific,
        threshold=np.zeros(tasks),
        noise=cfg.noise * np.exp(cfg.noise_spread * np.array(spread)),
    )
    reference = np.random.default_rng([seed, REFERENCE]).standard_normal((REFERENCE_ROWS, dim))
    return tasks_family._replace(threshold=np.median(score(tasks_family, reference), axis=0))


def score(f: Family, x: np.ndarray) -> np.ndarray:
    """Noiseless scores s_k(x) [n, K] of inputs [n, dim], in float64."""
    return by_rows(lambda rows: _score(f, np.asarray(rows, np.float64)), x, f.own.shape[1] + f.w.shape[1])


def _score(f: Family, x: np.ndarray) -> np.ndarray:
    z = x @ f.w
    shared = z + np.sin(f.alpha * z[..., None] + f.beta).sum(-1)
    if not f.specific:  # half the cost of a default draw
        return shared
    own = np.sin(f.gamma * (x @ f.own) + f.delta).reshape(len(x), z.shape[1], -1).sum(-1)
    return shared + f.specific * own


def inputs(seed: int, split: int, n: int, dim: int) -> np.ndarray:
    """Inputs of one split (0 train, 1 validation, 2 test), as the networks see them."""
    return np.random.default_rng([seed, INPUTS, split]).standard_normal((n, dim)).astype(np.float32)


def labels(f: Family, seed: int, split: int, x: np.ndarray) -> np.ndarray:
    """Noisy labels [n, K]; task k's noise draws come from its own stream per split."""
    return noisy_labels(score(f, x), f.noise, f.threshold, seed, split)


def noisy_labels(scores: np.ndarray, noise: np.ndarray, threshold: np.ndarray, seed: int, split: int) -> np.ndarray:
    """y_k = 1[s_k + noise_k * eps > t_k] [n, K], eps from task k's stream [seed, NOISE, split, k]."""
    eps = np.stack(
        [np.random.default_rng([seed, NOISE, split, k]).standard_normal(len(scores)) for k in range(len(noise))], 1
    )
    return (scores + noise * eps > threshold).astype(np.float32)


def probit_logits(margin: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """logit Phi(margin / noise_k), exactly; a step (clipped to +-LOGIT_CAP) where noise_k = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(noise > 0, margin / noise, np.sign(margin) * LOGIT_CAP)
    return np.clip(log_ndtr(m) - log_ndtr(-m), -LOGIT_CAP, LOGIT_CAP)


def posterior_logits(cfg: DataConfig, seed: int, x: np.ndarray) -> np.ndarray:
    """logit P(y = 1 | x) [n, K], exactly: P = Phi((s(x) - t) / noise_k), a step where noise_k = 0."""
    f = family(cfg, seed)
    return probit_logits(score(f, x) - f.threshold, f.noise)


def draw(cfg: DataConfig, seed: int, label: Callable[[int, np.ndarray], np.ndarray]) -> Dataset:
    """The splits of a generated family: each split's inputs, labelled by `label(split, x)`,
    and the training pool's label mask."""
    splits = []
    for split, n in enumerate((cfg.pool, cfg.n_val, cfg.n_test)):
        x = inputs(seed, split, n, cfg.dim)
        splits += [x, label(split, x)]
    x_train, y_train, x_val, y_val, x_test, y_test = splits
    mask = label_mask(cfg, np.random.default_rng([seed, MASK]))
    return Dataset(x_train, y_train, mask, x_val, y_val, x_test, y_test)


def make(cfg: DataConfig, seed: int) -> Dataset:
    f = family(cfg, seed)
    return draw(cfg, seed, lambda split, x: labels(f, seed, split, x))


def generation_bytes(cfg: DataConfig, per_task: int, reference_copies: int = 2) -> int:
    """The peak of generating one replicate of a family whose tasks have `per_task` directions
    each, in float64: the directions as drawn and orthogonalised (three copies), the reference
    sample's scores and their median (`reference_copies`), a split's scores and noise draws (three), and one
    chunk of scoring temporaries (six). tests/test_bad_input.py compares it with the measured peak."""
    directions = 3 * cfg.dim * cfg.tasks * per_task
    rows = max(REFERENCE_ROWS, cfg.pool, cfg.n_val, cfg.n_test)
    scores = max(reference_copies * REFERENCE_ROWS, 3 * max(cfg.pool, cfg.n_val, cfg.n_test)) * cfg.tasks
    return 8 * (directions + scores + 6 * min(CHUNK_VALUES, rows * cfg.tasks * per_task))


def check_keys(d: DataConfig) -> None:
    """Room for the shared directions and one direction of each task's own."""
    bound = f">= data.task_groups + 2 = {d.task_groups + 2}"
    check(d.dim >= d.task_groups + 2, "data.dim", d.dim, f"an integer {bound}")


SUITE = Suite(
    make=make,
    task_names=lambda d: [f"task{k}" for k in range(d.tasks)],
    size=lambda d: generated_size(d, d.dim, f"data.dim={d.dim}", generation_bytes(d, 1 + d.sinusoids)),
    title="synthetic tasks",
    check=check_keys,
    posterior=posterior_logits,
)
