"""Per-task gradients of a shared network: loss weighting and inter-task affinity.

A network's parameters split into the shared trunk and the heads (every leaf under the
module named `heads`, whose last axis is the head). These functions take a per-task
loss function `losses(params) -> [T]` and work on the trunk's part of the gradients:

- uncertainty weighting (Kendall et al. 2018): a learned log-variance per task;
- PCGrad (Yu et al. 2020): each task's trunk gradient is projected off the gradients
  of the other tasks it conflicts with;
- TAG lookahead affinity (Fifty et al. 2021): how much a trunk step on task i alone
  lowers task j's loss;

and `make_optimizer` builds the optimiser that turns them into updates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

HEADS = "heads"  # the module name of the heads in harness/train/models.py


def is_head(path: tuple) -> bool:
    return any(getattr(entry, "key", None) == HEADS for entry in path)


def head_mask(params: Any, head_on: jnp.ndarray, trunk_on: jnp.ndarray) -> Any:
    """Multipliers shaped like `params`: head leaves by column (`head_on` [H]), trunk leaves by `trunk_on`."""
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: jnp.broadcast_to(head_on if is_head(path) else trunk_on, leaf.shape).astype(leaf.dtype),
        params,
    )


def uncertainty_total(losses: jnp.ndarray, log_var: jnp.ndarray) -> jnp.ndarray:
    """Kendall et al. (2018), eq. 10 for classification: sum_k exp(-s_k) L_k + s_k / 2, s_k = log sigma_k^2.

    At s = 0 every weight is 1 (the equal-weight loss); at the optimum exp(-s_k) = 1 / (2 L_k).
    """
    return jnp.sum(jnp.exp(-log_var) * losses + 0.5 * log_var)


def pcgrad(grads: jnp.ndarray, key: jax.Array) -> jnp.ndarray:
    """PCGrad's combined gradient from per-task gradients [T, P] (Yu et al. 2020, Algorithm 1).

    For each task i, over the other tasks j in random order: if g_i . g_j < 0, replace
    g_i by g_i - (g_i . g_j) / |g_j|^2 g_j (g_j the original gradient). Returns the sum
    of the projected gradients [P].
    """
    tasks = grads.shape[0]

    def project(i, k):
        def visit(g, j):
            dot = g @ grads[j]
            conflict = (j != i) & (dot < 0)
            return jnp.where(conflict, g - dot / jnp.maximum(grads[j] @ grads[j], 1e-20) * grads[j], g), None

        return jax.lax.scan(visit, grads[i], jax.random.permutation(k, tasks))[0]

    return jax.vmap(project)(jnp.arange(tasks), jax.random.split(key, tasks)).sum(0)


def per_task_grads(losses: Callable[[Any], jnp.ndarray], params: Any) -> tuple[jnp.ndarray, Any]:
    """Per-task losses [T] and their gradients (each leaf gets a leading T axis)."""
    values, vjp = jax.vjp(losses, params)
    return values, jax.vmap(vjp)(jnp.eye(values.shape[0], dtype=values.dtype))[0]


def pcgrad_grads(losses: Callable[[Any], jnp.ndarray], params: Any, key: jax.Array) -> tuple[jnp.ndarray, Any]:
    """Per-task losses and the update direction: PCGrad on the trunk, plain sums on the heads.

    A head's gradient comes from its own task only, so only the trunk has conflicts to project.
    """
    values, grads = per_task_grads(losses, params)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(grads)
    shared = [leaf for path, leaf in leaves if not is_head(path)]
    flat = jnp.concatenate([leaf.reshape(leaf.shape[0], -1) for leaf in shared], axis=1)
    combined = pcgrad(flat, key)
    sizes = [leaf[0].size for leaf in shared]
    pieces = iter(jnp.split(combined, np.cumsum(sizes)[:-1]))
    out = [leaf.sum(0) if is_head(path) else next(pieces).reshape(leaf.shape[1:]) for path, leaf in leaves]
    return values, jax.tree_util.tree_unflatten(treedef, out)


def lookahead_affinity(
    losses: Callable[[Any], jnp.ndarray], params: Any, update: Callable[[Any], Any]
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """TAG's Z[i, j] = 1 - L_j(trunk + update(grad L_i)_trunk, heads) / L_j(trunk, heads), and where it is defined.

    `update(grads)` is the lookahead step from `grads` (not committed); the arms pass TAG's
    `-lr * grad` at the network's learning rate.
    Only the trunk takes the lookahead step; the heads stay. Z[i, j] is undefined (valid
    False, Z 0) where L_j is 0 (task j has no label in the batch) or task i has none
    (a zero gradient).
    """
    before, grads = per_task_grads(losses, params)

    def after(i):
        step = update(jax.tree.map(lambda g: g[i], grads))
        stepped = jax.tree_util.tree_map_with_path(lambda path, p, u: p if is_head(path) else p + u, params, step)
        return losses(stepped)

    tasks = before.shape[0]
    ratio = jax.vmap(after)(jnp.arange(tasks)) / jnp.where(before > 0, before, 1.0)[None, :]
    valid = (before[:, None] > 0) & (before[None, :] > 0)
    return jnp.where(valid, 1.0 - ratio, 0.0), valid


def make_optimizer(name: str, hp: dict[str, jnp.ndarray]) -> optax.GradientTransformation:
    """The training optimiser `name` at the hyperparameters `hp` (traced: one program serves a grid)."""
    if name == "adam":
        return optax.adam(hp["lr"])
    if name == "adamw":
        return optax.adamw(hp["lr"], weight_decay=hp["weight_decay"])
    if name == "sgd":
        return optax.sgd(hp["lr"], momentum=0.9)
    raise ValueError(f"unknown optimizer {name!r}")
