"""Where sharing helps and where it hurts (harness/experiments/help_hurt_map.yaml)."""

from __future__ import annotations

import numpy as np

from harness.analysis import style
from harness.analysis.collect import Collection
from harness.analysis.common import gate, held_equal, learning_curves, point_summary, with_config
from harness.analysis.registry import Section, study
from harness.analysis.stats import gain_per_seed, gain_summary, paired, slopes
from harness.analysis.verdict import Criterion, verdicts

KEYS = ["model.width", "data.n_per_task", "data.relatedness"]
FEW = Criterion(
    "Help/hurt map: sharing helps most with few labels per task",
    "the gain falls as labels per task grow",
    "per-seed slope of the task-mean gain (test log loss) against log2(labels per task), every cell",
    -1,
    0.005,
    "nats per doubling",
)
RELATED = Criterion(
    "Help/hurt map: sharing helps most when the tasks are related",
    "the gain rises with rho",
    "per-seed slope of the task-mean gain (test log loss) against rho, every cell",
    +1,
    0.01,
    "nats per unit rho",
)
PANELS = (
    ("data.n_per_task", "data.relatedness", "labels per task", "rho"),
    ("data.relatedness", "data.n_per_task", "relatedness rho", "labels per task"),
)


@study("help_hurt_map")
def analyse(c: Collection) -> Section:
    table = with_config(c, KEYS)
    section = Section(
        c.name,
        "Where sharing helps and where it hurts",
        "Over width, labels per task and relatedness, where is the gain of sharing positive, and where negative?",
    )
    cells = gain_summary(table, "test_bce", KEYS)
    limit = max(float(np.nanmax(np.abs(cells["mean"]))), 1e-6)
    for i, (y, panel, ylabel, panel_name) in enumerate(PANELS):
        values = sorted(cells[panel].unique())
        fig, axes = style.figure(len(values), width=4.4, height=4.0)
        image = None
        for ax, v in zip(axes[0], values, strict=True):
            image = style.heatmap(ax, cells[cells[panel] == v], "model.width", y, limit, "hidden width (units)", ylabel)
            ax.set_title(f"{panel_name} = {v:g}")
        fig.colorbar(image, ax=list(axes[0]), label="gain: test log loss stl - mtl (nats)", shrink=0.9)
        section.plot(
            f"{c.name}{'' if i == 0 else '_rho'}",
            style.titled(fig, f"Gain of sharing over width x {ylabel} (blue: sharing helps, red: hurts)"),
            "Each cell: mean over seeds of the task-averaged paired gain in test log loss (positive, blue = sharing "
            "helped); boxed cells marked * have a 95% interval that excludes 0 (not corrected for the many cells: "
            f"the verdicts use the per-seed slopes). {held_equal(c)}",
        )
    kept, gate_note = gate(table, KEYS)
    section.notes.append(gate_note)
    gain = gain_per_seed(paired(kept, "test_bce", keys=KEYS), KEYS)
    tests = []
    if gain["data.n_per_task"].nunique() >= 2:
        per_seed = slopes(gain.assign(x=np.log2(gain["data.n_per_task"])), "x", by=["model.width", "data.relatedness"])
        tests.append((FEW, per_seed["slope"], "fitted per (width, rho) line"))
    if gain["data.relatedness"].nunique() >= 2:
        per_seed = slopes(gain, "data.relatedness", by=["model.width", "data.n_per_task"])
        tests.append((RELATED, per_seed["slope"], "fitted per (width, labels) line"))
    section.verdicts = verdicts(tests)
    curves = learning_curves(c, "data.n_per_task", "Validation loss during training")
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            "Mean validation log loss over tasks per arm (95% CI over seeds), "
            "one panel per labels per task; widths and rho averaged within a seed.",
        )
    section.summary = point_summary(table, KEYS)
    return section
