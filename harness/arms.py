"""The arms, declared once: name, description and figure style.

Imported by the config layer (the accepted names), harness/arms.py (descriptions) and the
analysis wing (colours and labels), so none of them needs JAX to know the arms. How an
arm is built is harness/arms.py's make_arm.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import NamedTuple


class Arm(NamedTuple):
    description: str
    label: str  # legend text
    color: str  # one colour per arm in every figure
    line: str = "-"  # matplotlib line style


ARMS: dict[str, Arm] = {
    "mtl": Arm(
        "one shared trunk, K logistic heads, masked loss over every existing label",
        "shared network (mtl)",
        "#1f77b4",
    ),
    "stl": Arm(
        "K separate networks of the same architecture, each trained only on its task's labelled rows",
        "separate networks (stl)",
        "#ff7f0e",
    ),
    "mtl_drop": Arm(
        "shared network trained only on rows with no missing label", "shared, rows with '?' dropped", "#d62728", "-."
    ),
    "mtl_zero": Arm(
        "shared network trained with every '?' treated as label 0", "shared, '?' read as 0", "#9467bd", ":"
    ),
    "mtl_equal_params": Arm(
        "shared network widened to about as many parameters as the K separate networks together",
        "shared, equal total params",
        "#2ca02c",
        "--",
    ),
    "mtl_shuffled": Arm(
        "shared network whose other tasks' training labels are permuted across rows (target reported)",
        "shared, other tasks' labels shuffled",
        "#7f7f7f",
        "--",
    ),
    "transfer_head": Arm(
        "pretrained on the other tasks, then a new target head trained on a frozen trunk",
        "transfer, new head only",
        "#8c564b",
    ),
    "transfer_full": Arm(
        "pretrained on the other tasks, then the whole network fine-tuned on the target task",
        "transfer, fine-tune all",
        "#e377c2",
    ),
    "transfer_shuffled": Arm(
        "transfer_full pretrained on the other tasks' labels permuted across rows (control)",
        "transfer, sources' labels shuffled",
        "#bcbd22",
        "--",
    ),
    "pairs": Arm(
        "one shared network per pair of tasks, K(K-1)/2 networks with 2 heads",
        "one network per pair of tasks",
        "#17becf",
    ),
    "groups": Arm(
        "one shared network per group of tasks (train.groups, or searched), trained like the separate networks",
        "one network per group of tasks",
        "#000000",
    ),
}

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
