"""Leading axes of the compiled program: replicates, learning rates, networks, and the
vmap that indexes away an axis of length 1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax


def squeeze(tree: Any) -> Any:
    """Every leaf without its leading axis of length 1."""
    return jax.tree.map(lambda a: a[0], tree)


def unsqueeze(tree: Any) -> Any:
    """Every leaf with a leading axis of length 1 put back."""
    return jax.tree.map(lambda a: a[None], tree)


def vmap(fn: Callable, in_axes: int | tuple[int | None, ...] = 0) -> Callable:
    """`jax.vmap` over leading axes, except that an axis of length 1 is indexed away and
    put back instead of mapped.

    XLA's CPU backend lays out a batched matrix product with a unit batch dimension
    badly: every weight gradient is transposed on each step. With one seed, 8 separate
    networks of width 1024 trained at 0.7x the throughput of the same networks without
    the seed axis.
    """
    mapped = jax.vmap(fn, in_axes=in_axes)

    def call(*args):
        axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
        sizes = {jax.tree.leaves(a)[0].shape[0] for a, axis in zip(args, axes, strict=True) if axis is not None}
        if sizes != {1}:
            return mapped(*args)
        return unsqueeze(fn(*(a if axis is None else squeeze(a) for a, axis in zip(args, axes, strict=True))))

    return call
