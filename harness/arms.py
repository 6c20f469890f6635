"""Arms: how K tasks are split over networks, and which labels each network sees.

Every arm is a set of G networks with H heads each; network g's head h predicts task
`groups[g][h]`. The shared network is G=1, H=K; the separate networks are G=K, H=1.
All G networks of an arm train as one vmapped program with the same optimiser, steps
and batch size per network.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp


@dataclass(frozen=True)
class ArmSpec:
    name: str
    groups: tuple[tuple[int, ...], ...]
    label_view: str = "masked"  # masked | drop_rows | zero_fill
    width: int | None = None  # None: model.width

    @property
    def networks(self) -> int:
        return len(self.groups)

    @property
    def heads(self) -> int:
        return len(self.groups[0])


DESCRIPTIONS = {
    "mtl": "one shared trunk, K logistic heads, masked loss over every existing label",
    "stl": "K separate networks of the same architecture, each trained only on its task's labelled rows",
    "mtl_drop": "shared network trained only on rows with no missing label",
    "mtl_zero": "shared network trained with every '?' treated as label 0",
    "mtl_equal_params": "shared network widened to about as many parameters as the K separate networks together",
}


def make_arm(name: str, tasks: int, equal_params_width: int | None = None) -> ArmSpec:
    """The arm called `name`; `equal_params_width` is the width of `mtl_equal_params`."""
    every = tuple(range(tasks))
    if name == "mtl":
        return ArmSpec(name, (every,))
    if name == "mtl_equal_params":
        return ArmSpec(name, (every,), width=equal_params_width)
    if name == "stl":
        return ArmSpec(name, tuple((k,) for k in every))
    if name == "mtl_drop":
        return ArmSpec(name, (every,), label_view="drop_rows")
    if name == "mtl_zero":
        return ArmSpec(name, (every,), label_view="zero_fill")
    raise ValueError(f"unknown arm {name!r}")


def label_view(view: str, y: jnp.ndarray, m: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The labels and mask a network of this arm trains on, from the pool's [N, K] arrays."""
    if view == "masked":
        return y, m
    any_label = m.max(axis=1, keepdims=True)
    if view == "drop_rows":
        complete = m.min(axis=1, keepdims=True)
        return y, m * complete
    if view == "zero_fill":
        return y * m, jnp.broadcast_to(any_label, m.shape)
    raise ValueError(f"unknown label view {view!r}")
