"""The arms, one record each: what it trains, how it is drawn, what it reports.

Every list of arms derives from `ARMS`: the names the config layer accepts (and which
need two tasks or pretraining), the descriptions in result.json and docs, the colours
and labels of every figure, preflight's memory estimate (`Arm.networks`, `Arm.heads`)
and the networks the trainer builds (`make_arm`). Imports no JAX, so the config layer
and the analysis wing read it freely. Adding an arm is one entry here (docs/extending.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import NamedTuple

# Which tasks each of an arm's networks trains: every task on one network, one task per
# network, one pair per network, every task with the target first (head 0), or one group
# of a partition per network (train.groups or a search).
LAYOUTS = ("all", "each", "pairs", "target_first", "partition")


class Arm(NamedTuple):
    description: str
    label: str  # legend text
    color: str  # one colour per arm in every figure
    line: str = "-"  # matplotlib line style
    layout: str = "all"  # one of LAYOUTS
    label_view: str = "masked"  # masked | drop_rows | zero_fill: what it trains on where a label is '?'
    transfer: str | None = None  # head | full: what fine-tuning trains after pretraining on the other tasks
    shuffle_aux: bool = False  # permute every task's training labels except the target's (Caruana's control)
    equal_params: bool = False  # widened to about the separate networks' total parameter count
    sharing: str = "hard"  # hard (one trunk) | mmoe (gated experts) | cross_stitch (stitched columns)

    def networks(self, tasks: int) -> int:
        """Networks it trains on `tasks` tasks (a partition's: at least one)."""
        return {"each": tasks, "pairs": tasks * (tasks - 1) // 2}.get(self.layout, 1)

    def heads(self, tasks: int) -> int:
        """Heads of each network (a partition's: at most every task)."""
        return {"each": 1, "pairs": 2}.get(self.layout, tasks)

    @property
    def multi_task(self) -> bool:
        """It needs at least two tasks: an auxiliary or source task, or a partner."""
        return self.layout in ("target_first", "pairs", "partition")


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
        layout="each",
    ),
    "mtl_drop": Arm(
        "shared network trained only on rows with no missing label",
        "shared, rows with '?' dropped",
        "#d62728",
        "-.",
        label_view="drop_rows",
    ),
    "mtl_zero": Arm(
        "shared network trained with every '?' treated as label 0",
        "shared, '?' read as 0",
        "#9467bd",
        ":",
        label_view="zero_fill",
    ),
    "mtl_equal_params": Arm(
        "shared network widened to about as many parameters as the K separate networks together",
        "shared, equal total params",
        "#2ca02c",
        "--",
        equal_params=True,
    ),
    "mtl_shuffled": Arm(
        "shared network whose other tasks' training labels are permuted across rows (target reported)",
        "shared, other tasks' labels shuffled",
        "#7f7f7f",
        "--",
        layout="target_first",
        shuffle_aux=True,
    ),
    "transfer_head": Arm(
        "pretrained on the other tasks, then a new target head trained on a frozen trunk",
        "transfer, new head only",
        "#8c564b",
        layout="target_first",
        transfer="head",
    ),
    "transfer_full": Arm(
        "pretrained on the other tasks, then the whole network fine-tuned on the target task",
        "transfer, fine-tune all",
        "#e377c2",
        layout="target_first",
        transfer="full",
    ),
    "transfer_shuffled": Arm(
        "transfer_full pretrained on the other tasks' labels permuted across rows (control)",
        "transfer, sources' labels shuffled",
        "#bcbd22",
        "--",
        layout="target_first",
        transfer="full",
        shuffle_aux=True,
    ),
    "mmoe": Arm(
        "soft sharing: model.experts trunks of model.width units, one softmax gate over them per task (MMoE)",
        "mixture of experts (mmoe)",
        "#393b79",
        sharing="mmoe",
    ),
    "mmoe_equal_params": Arm(
        "mmoe with its experts widened to about as many parameters as the K separate networks together",
        "mmoe, equal total params",
        "#6b6ecf",
        "--",
        sharing="mmoe",
        equal_params=True,
    ),
    "cross_stitch": Arm(
        "soft sharing: one column of model.width units per task, columns linearly mixed after each layer",
        "cross-stitch columns",
        "#637939",
        sharing="cross_stitch",
    ),
    "pairs": Arm(
        "one shared network per pair of tasks, K(K-1)/2 networks with 2 heads",
        "one network per pair of tasks",
        "#17becf",
        layout="pairs",
    ),
    "groups": Arm(
        "one shared network per group of tasks (train.groups, or searched), trained like the separate networks",
        "one network per group of tasks",
        "#000000",
        layout="partition",
    ),
}

PAD = -1  # the task of a padding head


@dataclass(frozen=True)
class ArmSpec:
    """One arm as the trainer builds it: the task of every head of every network."""

    name: str
    groups: tuple[tuple[int, ...], ...]
    label_view: str = "masked"  # masked | drop_rows | zero_fill
    width: int | None = None  # None: model.width
    transfer: str | None = None  # head | full: what fine-tuning trains after pretraining on heads 1..H-1
    shuffle_aux: bool = False  # permute every task's training labels except head 0's (Caruana's control)
    key_names: tuple[str, ...] = ()  # per network, the name its random keys derive from (empty: this arm's)
    sharing: str = "hard"  # hard | mmoe | cross_stitch (harness/train/models.py)

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
    """The arm called `name`; `equal_params_width` is the width of an equal_params arm,
    `partition` the tasks of each network of a partition arm."""
    if name not in ARMS:
        raise ValueError(f"unknown arm {name!r}")
    arm, every = ARMS[name], tuple(range(tasks))
    if arm.layout == "partition":
        if partition is None:
            raise ValueError(f"arm {name} needs a partition of the tasks (train.groups, or a grouping search)")
        return groups_arm(partition, tasks)
    groups = {
        "all": lambda: (every,),
        "each": lambda: tuple((k,) for k in every),
        "pairs": lambda: tuple(combinations(every, 2)),
        "target_first": lambda: ((target, *(k for k in every if k != target)),),
    }[arm.layout]()
    width = equal_params_width if arm.equal_params else None
    return ArmSpec(name, groups, arm.label_view, width, arm.transfer, arm.shuffle_aux, sharing=arm.sharing)
