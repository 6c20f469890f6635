"""The arms, declared once: name, description and figure style.

Imported by the config layer (the accepted names), harness/arms.py (descriptions) and the
analysis wing (colours and labels), so none of them needs JAX to know the arms. How an
arm is built is harness/arms.py's make_arm.
"""

from __future__ import annotations

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
