"""Arms: how K tasks are split over networks, and which labels each network sees.

Every arm is a set of G networks with H heads each; network g's head h predicts task
`groups[g][h]`. The shared network is G=1, H=K; the separate networks are G=K, H=1.
All G networks of an arm train as one vmapped program with the same optimiser, steps
and batch size per network.

The `groups` arm trains one network per group of a partition of the tasks; groups
smaller than the largest are padded with PAD heads, which have no labels (exactly zero
loss and gradient) and are not reported.

Arms about one target task (data.target) put it at head 0: the transfer arms, which
pretrain on the other tasks' heads and then fine-tune head 0, and the shuffle control,
whose other tasks' labels are permuted; they report head 0 only.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import jax
import jax.numpy as jnp

from harness.arm_names import ARMS

PAD = -1  # the task of a padding head


@dataclass(frozen=True)
class ArmSpec:
    name: str
    groups: tuple[tuple[int, ...], ...]
    label_view: str = "masked"  # masked | drop_rows | zero_fill
    width: int | None = None  # None: model.width
    transfer: str | None = None  # head | full: what fine-tuning trains after pretraining on heads 1..H-1
    shuffle_aux: bool = False  # permute every task's training labels except head 0's (Caruana's control)
    key_names: tuple[str, ...] = ()  # per network, the name its random keys derive from (empty: this arm's)

    @property
    def networks(self) -> int:
        return len(self.groups)

    @property
    def heads(self) -> int:
        return len(self.groups[0])

    @property
    def target_only(self) -> bool:
        """Only head 0 (the target task) is a result of this arm."""
        return self.transfer is not None or self.shuffle_aux

    @property
    def weighted(self) -> bool:
        """train.weighting applies: several tasks trained together on one network at every step."""
        return self.heads > 1 and self.transfer is None


DESCRIPTIONS = {name: arm.description for name, arm in ARMS.items()}


def groups_arm(partition: tuple[tuple[int, ...], ...], tasks: int) -> ArmSpec:
    """One network per group, each padded with PAD heads to the largest group's size.

    An unpadded network is keyed as the arm that trains the same network (mtl: every
    task, stl: one task, pairs: two), so it draws the same initialisation and minibatches.
    """
    heads = max(len(group) for group in partition)

    def twin(group: tuple[int, ...]) -> str:
        if len(group) != heads:
            return "groups"
        return "mtl" if len(group) == tasks else {1: "stl", 2: "pairs"}.get(len(group), "groups")

    padded = tuple(group + (PAD,) * (heads - len(group)) for group in partition)
    return ArmSpec("groups", padded, key_names=tuple(twin(group) for group in partition))


def make_arm(
    name: str,
    tasks: int,
    equal_params_width: int | None = None,
    target: int = 0,
    partition: tuple[tuple[int, ...], ...] | None = None,
) -> ArmSpec:
    """The arm called `name`; `equal_params_width` is the width of `mtl_equal_params`,
    `partition` the tasks of each network of `groups`."""
    every = tuple(range(tasks))
    if name == "groups":
        if partition is None:
            raise ValueError("arm groups needs a partition of the tasks (train.groups, or a grouping search)")
        return groups_arm(partition, tasks)
    target_first = ((target, *(k for k in every if k != target)),)
    if name in ("transfer_head", "transfer_full"):
        return ArmSpec(name, target_first, transfer=name.removeprefix("transfer_"))
    if name == "transfer_shuffled":
        return ArmSpec(name, target_first, transfer="full", shuffle_aux=True)
    if name == "mtl_shuffled":
        return ArmSpec(name, target_first, shuffle_aux=True)
    if name == "pairs":
        return ArmSpec(name, tuple(combinations(every, 2)))
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


def shuffle_auxiliary(key: jax.Array, y: jnp.ndarray, m: jnp.ndarray) -> jnp.ndarray:
    """Labels [N, H] with every column but the first permuted among that column's labelled rows.

    Caruana's shuffle control: the auxiliary tasks keep their label counts and class
    balance (and the mask is untouched) but carry no information about the inputs.
    """

    def column(k, y_col, m_col):
        labelled_first = jnp.argsort(-m_col, stable=True)
        shuffled_first = jnp.argsort(jax.random.uniform(k, m_col.shape) + 2.0 * (1.0 - m_col))
        permuted = y_col.at[labelled_first].set(y_col[shuffled_first])
        return jnp.where(m_col > 0, permuted, y_col)

    keys = jax.random.split(key, y.shape[1] - 1)
    aux = jax.vmap(column, in_axes=(0, 1, 1), out_axes=1)(keys, y[:, 1:], m[:, 1:])
    return jnp.concatenate([y[:, :1], aux], axis=1)
