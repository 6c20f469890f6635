"""Tasks that share a layer of features (teacher-student): where sharing can help.

Inputs x ~ N(0, I_d). r shared hidden features h_j(x) = phi(a_j . x), j = 1 .. r
(data.shared_features), with orthonormal unit directions a_j, and for each task k m
features of its own g_ki(x) = phi(b_ki . x), i = 1 .. m (data.own_features), whose unit
directions b_ki are orthogonal to every a_j. phi(u) = sin(u) + cos(u), a smooth bump
with an odd and an even part (a linear model captures part of it, a hidden layer the
rest). Task k's score

    s_k(x) = sqrt(f) * (v_k . h(x)) / sd_k + sqrt(1 - f) * (c_k . g_k(x)) / sd'_k,

with f = data.shared_fraction, v_k ~ N(0, I_r) and c_k ~ N(0, I_m) task k's own mixing
weights, and sd_k, sd'_k the standard deviations of the two parts over a fixed reference
sample (so f is the share of the score's variance the shared features carry). Tasks
combine the same features differently, so they are different tasks even at f = 1. The
label is y_k = 1[s_k(x) + noise_k * eps > t_k] with the median threshold and the label
noise of the directions family (harness/data/synthetic.py), whose inputs, noise draws
and label mask this family shares: P(y_k = 1 | x) = Phi((s_k(x) - t_k) / noise_k)
exactly (`posterior_logits`).

A shared trunk needs about r + K m hidden features, each separate network r + m. Task
k's draws come from its own stream, so task k is the same task at every data.tasks and
every data.shared_fraction. docs/task-families.md has the formulas and the keys.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from harness.config import DataConfig, check
from harness.data.base import Dataset
from harness.data.suite import Suite, by_rows, generated_size
from harness.data.synthetic import REFERENCE, REFERENCE_ROWS, draw, generation_bytes, noisy_labels, probit_logits

# Random streams beside the directions family's (whose inputs, noise and mask streams this one uses).
SHARED, OWN = 7, 8


class Features(NamedTuple):
    """The tasks of one data seed."""

    a: np.ndarray  # [dim, r] shared feature directions, orthonormal
    v: np.ndarray  # [r, K] each task's weights on the shared features
    b: np.ndarray  # [dim, K * m] each task's own feature directions, orthogonal to a
    c: np.ndarray  # [K, m] each task's weights on its own features
    fraction: float  # f, the shared features' share of the score's variance
    scale: np.ndarray  # [2, K] sd of the shared and the own part on the reference sample
    threshold: np.ndarray  # [K]
    noise: np.ndarray  # [K]


def phi(u: np.ndarray) -> np.ndarray:
    return np.sin(u) + np.cos(u)


def shared_directions(seed: int, dim: int, count: int) -> np.ndarray:
    """a_1 .. a_r as orthonormal columns [dim, r], column j from stream [seed, SHARED, j]."""
    raw = np.stack([np.random.default_rng([seed, SHARED, j]).standard_normal(dim) for j in range(count)], 1)
    q, r = np.linalg.qr(raw)
    return q * np.sign(np.diag(r))


def parts(t: Features, x: np.ndarray) -> np.ndarray:
    """The shared part v_k . h(x) and the own part c_k . g_k(x), [2, n, K], in float64."""
    return by_rows(lambda rows: _parts(t, np.asarray(rows, np.float64)), x, t.a.shape[1] + 2 * t.b.shape[1], axis=1)


def _parts(t: Features, x: np.ndarray) -> np.ndarray:
    tasks, own = t.c.shape
    shared = phi(x @ t.a) @ t.v
    mine = (phi(x @ t.b).reshape(len(x), tasks, own) * t.c).sum(-1)
    return np.stack([shared, mine])


def score(t: Features, x: np.ndarray) -> np.ndarray:
    """Noiseless scores s_k(x) [n, K]."""
    shared, mine = parts(t, x)
    return np.sqrt(t.fraction) * shared / t.scale[0] + np.sqrt(1.0 - t.fraction) * mine / t.scale[1]


def family(cfg: DataConfig, seed: int) -> Features:
    dim, r, m = cfg.dim, cfg.shared_features, cfg.own_features
    a = shared_directions(seed, dim, r)
    v, c, b, spread = [], [], [], []
    for k in range(cfg.tasks):  # every draw is made whatever the config's values, in this order
        rng = np.random.default_rng([seed, OWN, k])
        spread.append(rng.uniform(-1.0, 1.0))
        v.append(rng.standard_normal(r))
        c.append(rng.standard_normal(m))
        raw = rng.standard_normal((dim, m))
        free = raw - a @ (a.T @ raw)
        b.append(free / np.linalg.norm(free, axis=0, keepdims=True))
    tasks = Features(
        a=a,
        v=np.stack(v, 1),
        b=np.concatenate(b, 1),
        c=np.stack(c),
        fraction=cfg.shared_fraction,
        scale=np.ones((2, cfg.tasks)),
        threshold=np.zeros(cfg.tasks),
        noise=cfg.noise * np.exp(cfg.noise_spread * np.array(spread)),
    )
    reference = np.random.default_rng([seed, REFERENCE]).standard_normal((REFERENCE_ROWS, dim))
    sd = parts(tasks, reference).std(axis=1)
    tasks = tasks._replace(scale=np.where(sd > 0, sd, 1.0))  # no own features: that part is 0
    return tasks._replace(threshold=np.median(score(tasks, reference), axis=0))


def posterior_logits(cfg: DataConfig, seed: int, x: np.ndarray) -> np.ndarray:
    """logit P(y = 1 | x) [n, K], exactly."""
    t = family(cfg, seed)
    return probit_logits(score(t, x) - t.threshold, t.noise)


def make(cfg: DataConfig, seed: int) -> Dataset:
    t = family(cfg, seed)
    return draw(cfg, seed, lambda split, x: noisy_labels(score(t, x), t.noise, t.threshold, seed, split))


def check_keys(d: DataConfig) -> None:
    """At least one shared feature, and room for each task's own directions beside them."""
    check(d.shared_features >= 1, "data.shared_features", d.shared_features, "an integer >= 1")
    check(d.own_features >= 0, "data.own_features", d.own_features, "an integer >= 0")
    check(0.0 <= d.shared_fraction <= 1.0, "data.shared_fraction", d.shared_fraction, "a number in [0, 1]")
    bound = f"an integer > data.shared_features = {d.shared_features}"
    check(d.dim > d.shared_features, "data.dim", d.dim, bound)


SUITE = Suite(
    make=make,
    task_names=lambda d: [f"task{k}" for k in range(d.tasks)],
    # The reference sample is held five times: its two parts [2, n, K], their deviations, the scores.
    size=lambda d: generated_size(d, d.dim, f"data.dim={d.dim}", generation_bytes(d, d.own_features + 1, 5)),
    title="shared-feature tasks",
    check=check_keys,
    posterior=posterior_logits,
)
