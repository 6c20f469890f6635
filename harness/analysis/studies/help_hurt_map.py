"""Where sharing helps and where it hurts (experiments/help_hurt_map.yaml).

Primary tests (the verdicts): the per-seed slopes of the task-mean gain against
log2(labels per task) and against the shared fraction f, over every cell (FEW, SHARED; Holm
across the two). The map itself (harness/analysis/cells.py): every cell (width, labels per
task, f) that passes the learnability gate gets the paired t test on its per-seed task-mean
gain, with Holm's correction across all of the map's tested cells together; a cell is marked
(sharing helps / hurts) only when its test survives that correction. The line in each panel
is the boundary where the mean gain crosses 0.

Beside the verdicts, the fitted law (harness/analysis/law.py) on the cells that pass the gate:
fitted on every labels-per-task value but the middle one of the grid, and judged by how well
it predicts the middle one's cells (held out; the rule is fixed here, before any run).
"""

from __future__ import annotations

import numpy as np

from harness.analysis import law
from harness.analysis.cells import cell_table, cell_tests, map_caption, map_figure
from harness.analysis.collect import Collection
from harness.analysis.common import gate, held_equal, learning_curves, point_summary, with_config
from harness.analysis.registry import Section, study
from harness.analysis.stats import gain_per_seed, paired, slopes
from harness.analysis.verdict import Criterion, verdicts

FRACTION = "data.shared_fraction"
KEYS = ["model.width", "data.n_per_task", FRACTION]
FEW = Criterion(
    "Help/hurt map: sharing helps most with few labels per task",
    "the gain falls as labels per task grow",
    "per-seed slope of the task-mean gain (test log loss) against log2(labels per task), every cell",
    -1,
    0.005,
    "nats per doubling",
)
SHARED = Criterion(
    "Help/hurt map: sharing helps most when the tasks share their features",
    "the gain rises with the shared fraction f",
    "per-seed slope of the task-mean gain (test log loss) against f, every cell",
    +1,
    0.01,
    "nats per unit f",
)
# (x, y, one panel per, x label, y label, panel name, file suffix)
PANELS = (
    (FRACTION, "data.n_per_task", "model.width", "shared fraction f", "labels per task", "width", ""),
    (
        "model.width",
        FRACTION,
        "data.n_per_task",
        "hidden width (units)",
        "shared fraction f",
        "labels per task",
        "_width",
    ),
)
COLUMNS = {"model.width": "width", "data.n_per_task": "labels per task", FRACTION: "f"}


@study("help_hurt_map")
def analyse(c: Collection) -> Section:
    table = with_config(c, KEYS)
    section = Section(
        c.name,
        "Where sharing helps and where it hurts",
        "Over width, labels per task and the share of features the tasks share: where does sharing help, where hurt?",
    )
    kept, gate_note = gate(table, KEYS)
    section.notes.append(gate_note)
    cells = cell_tests(table, kept, KEYS)
    for x, y, panel, xlabel, ylabel, panel_name, suffix in PANELS:
        title = f"Gain of sharing over {xlabel} x {ylabel} (blue: sharing helps, red: hurts)"
        fig = map_figure(cells, x, y, panel, (xlabel, ylabel, panel_name), title)
        section.plot(f"{c.name}{suffix}", fig, f"{map_caption(cells)} {held_equal(c)}")
    gain = gain_per_seed(paired(kept, "test_bce", keys=KEYS), KEYS)
    tests = []
    if gain["data.n_per_task"].nunique() >= 2:
        per_seed = slopes(gain.assign(x=np.log2(gain["data.n_per_task"])), "x", by=["model.width", FRACTION])
        tests.append((FEW, per_seed["slope"], "fitted per (width, f) line"))
    if gain[FRACTION].nunique() >= 2:
        per_seed = slopes(gain, FRACTION, by=["model.width", "data.n_per_task"])
        tests.append((SHARED, per_seed["slope"], "fitted per (width, labels) line"))
    section.verdicts = verdicts(tests)
    curves = learning_curves(c, "data.n_per_task", "Validation loss during training")
    if curves is not None:
        section.plot(
            f"{c.name}_curves",
            curves,
            "Mean validation log loss over tasks per arm (95% CI over seeds), "
            "one panel per labels per task; widths and f averaged within a seed.",
        )
    text = [cell_table(cells, COLUMNS)]
    fitted = fit_law(c)
    if fitted is not None:
        result, rule = fitted
        text.append(law.law_text(result, rule))
        middle = float(np.median(sorted(result.points["f"].unique())))
        n_held = float(result.points.loc[result.points["held_out"], "n"].iloc[0])
        section.plot(
            f"{c.name}_law",
            law.law_figure(result, middle, n_held),
            "Left: where the fitted law predicts a gain of 0, over labels per task and f, per width, with "
            "each cell's measured mean gain over seeds (blue > 0, red < 0; hollow: held out of the fit). "
            "Right: the same law over width and K at the middle f and the held-out labels per task, with the "
            f"measured cells there (one K in this sweep). {held_equal(c)}",
        )
    section.text = "\n\n".join(text)
    section.summary = point_summary(table, KEYS)
    return section


def fit_law(c: Collection) -> tuple[law.Fit, str] | None:
    """The law fitted on the gated cells, part of them held out (law.held_within); None when
    nothing can be held out."""
    rows, _ = law.gain_rows(c)
    split = law.held_within(rows)
    if split is None:
        return None
    held, rule = split
    return law.fit(rows, held), rule
