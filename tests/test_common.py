"""harness.analysis.common, the pieces every study's section uses, on constructed tables.

Each test states the numbers a reader of the report would see: the learning-curve figure's
lines, panels and reference levels, the gate's kept points and sentence, the held-equal
caption, the point summary. No training: the inputs are built here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analysis import common
from harness.analysis.collect import CURVE_COLUMNS, Collection
from harness.analysis.stats import delta_m, summarize
from harness.analysis.verdict import fmt
from harness.arms import ARMS

WIDTHS = (8, 16, 32, 64, 128)
STEPS = (10, 20)


def curve_value(job: int, arm: str, seed: int, task: int, step: int) -> float:
    return (0.6 if arm == "mtl" else 0.65) + 0.02 * task + 0.04 * seed - 0.001 * step + 0.01 * job


def collection(curves: bool = True, target: int = 1) -> Collection:
    """Five jobs (model.width 8 .. 128), arms mtl and stl, two seeds and two tasks; each job's
    reference log losses differ, so a panel drawing another job's references is seen."""
    jobs = pd.DataFrame({"job": range(len(WIDTHS)), "model.width": WIDTHS, "data.target": target})
    rows = [
        {
            "job": j,
            "arm": arm,
            "network": 0,
            "head": t,
            "task": t,
            "seed": s,
            "step": step,
            "val_bce": curve_value(j, arm, s, t, step),
            "train_loss": 0.5,
        }  # fmt: skip
        for j in jobs["job"]
        for arm in ("mtl", "stl")
        for s in (0, 1)
        for t in (0, 1)
        for step in STEPS
    ]
    table = pd.DataFrame(
        [{"job": j, "arm": "stl", "task": 0, "seed": 0, "metric": "constant_bce", "value": 0.69 + 0.001 * j}
         for j in jobs["job"]]
        + [{"job": j, "arm": "stl", "task": 0, "seed": 0, "metric": "bayes_bce", "value": 0.3 + 0.002 * j}
           for j in jobs["job"]]
    )  # fmt: skip
    frame = pd.DataFrame(rows if curves else [], columns=list(CURVE_COLUMNS))
    return Collection(root=Path("."), table=table, jobs=jobs, swept=["model.width"], curves=frame)


def lines_by_label(ax) -> dict[str, np.ndarray]:
    return {line.get_label(): (np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float))
            for line in ax.lines}  # fmt: skip


def test_learning_curves_draw_each_arms_mean_over_tasks_and_seeds_on_spread_panels():
    """Guards: the panels picked from a key's values (first, last and evenly between), each arm's
    line the mean over tasks within a seed then over seeds, its 95% band, the panel's own
    reference levels, the axis labels and the figure's title."""
    fig = common.learning_curves(collection(), "model.width", "Curves", panels=4)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == [f"model.width = {w}" for w in (8, 16, 64, 128)]
    assert fig.get_suptitle() == "Curves"
    assert tuple(fig.get_size_inches()) == pytest.approx((4 * 4.2, 3.4))
    for ax, job in zip(axes, (0, 1, 3, 4), strict=True):
        lines = lines_by_label(ax)
        for arm in ("mtl", "stl"):
            x, y = lines[ARMS[arm].label]
            expected = [np.mean([curve_value(job, arm, s, t, step) for s in (0, 1) for t in (0, 1)]) for step in STEPS]
            assert x.tolist() == list(STEPS)
            assert y == pytest.approx(expected)
        assert lines["constant predictor"][1] == pytest.approx([0.69 + 0.001 * job] * 2)
        assert lines["Bayes optimum"][1] == pytest.approx([0.3 + 0.002 * job] * 2)
        assert len(ax.collections) == 2  # one 95% band per arm: two seeds give an interval
        assert ax.get_xlabel() == "training step"
        assert ax.get_ylabel() == "validation log loss (nats)"
        assert ax.title.get_fontsize() == 9
    assert axes[0].get_legend() is not None
    assert [text.get_text() for text in axes[0].get_legend().get_texts()][:2] == [ARMS["mtl"].label, ARMS["stl"].label]
    assert axes[0].get_legend().get_texts()[0].get_fontsize() == 7
    assert all(ax.get_legend() is None for ax in axes[1:])


def test_learning_curves_with_few_values_draw_every_one_and_target_keeps_the_target_task():
    """Guards: no panel dropped when the values fit; `target` keeps data.target's task alone
    (read from the jobs when the curves lack it)."""
    fig = common.learning_curves(collection(target=1), "model.width", "T", panels=5, target=True)
    assert [ax.get_title() for ax in fig.axes] == [f"model.width = {w}" for w in WIDTHS]
    for job, ax in enumerate(fig.axes):
        y = lines_by_label(ax)[ARMS["stl"].label][1]
        assert y == pytest.approx([np.mean([curve_value(job, "stl", s, 1, step) for s in (0, 1)]) for step in STEPS])


def test_learning_curves_without_a_key_draw_one_untitled_panel_of_every_job():
    fig = common.learning_curves(collection(), None, "All")
    (ax,) = fig.axes
    assert ax.get_title() == ""
    y = lines_by_label(ax)[ARMS["mtl"].label][1]
    per_seed = [
        [np.mean([curve_value(j, "mtl", s, t, step) for j in range(5) for t in (0, 1)]) for s in (0, 1)]
        for step in STEPS
    ]
    assert y == pytest.approx([np.mean(v) for v in per_seed])
    assert lines_by_label(ax)["constant predictor"][1] == pytest.approx([0.69 + 0.002] * 2)  # mean over the 5 jobs


def test_learning_curves_draw_four_panels_unless_told():
    assert len(common.learning_curves(collection(), "model.width", "T").axes) == 4


def test_learning_curves_without_curves_draw_nothing():
    assert common.learning_curves(collection(curves=False), "model.width", "T") is None


def learned_table(shares: dict[int, float], other_arm: float = 0.0) -> pd.DataFrame:
    """Per model.width, arm stl's learned_auroc (two seeds whose mean is the share) and an mtl
    row the gate must ignore."""
    rows = []
    for width, share in shares.items():
        for seed, value in ((0, share - 0.05), (1, share + 0.05)):
            rows.append({"job": width, "model.width": width, "arm": "stl", "seed": seed, "metric": "learned_auroc",
                         "value": value})  # fmt: skip
        rows.append({"job": width, "model.width": width, "arm": "mtl", "seed": 0, "metric": "learned_auroc",
                     "value": other_arm})  # fmt: skip
    return pd.DataFrame(rows)


def test_the_gate_keeps_points_at_or_above_the_threshold_and_names_each_excluded_one():
    """Guards: the threshold inclusive (a point at exactly 50% enters), arm stl's mean alone
    decides, every excluded point listed with its share, counts of excluded and all points."""
    table = learned_table({8: 0.3, 16: 0.5, 32: 0.9})
    kept, note = common.gate(table, ["model.width"])
    assert sorted(kept["model.width"].unique()) == [16, 32]
    assert len(kept) == 6
    assert note == (
        "Learnability gate: a point enters a verdict when the separate networks closed at least 50% of the AUROC gap "
        "between the constant predictor and the Bayes optimum (mean learned_auroc of arm stl). "
        "Excluded (1 of 3): model.width=8 (30%)."
    )
    kept, note = common.gate(table, ["model.width"], threshold=0.95)
    assert kept.empty
    assert note.endswith("Excluded (3 of 3): model.width=8 (30%); model.width=16 (50%); model.width=32 (90%).")
    assert "at least 95%" in note


def test_the_gate_passes_every_point_or_says_why_it_was_skipped():
    table = learned_table({8: 0.6, 16: 0.7}, other_arm=0.0)
    kept, note = common.gate(table, ["model.width"])
    assert kept.equals(table)
    assert note.endswith("(mean learned_auroc of arm stl); every point passed.")
    empty = table.assign(value=np.nan)
    kept, note = common.gate(empty, ["model.width"])
    assert kept is empty
    assert note == "Learnability gate skipped: the results carry no learned_auroc (non-synthetic suite or old results)."
    assert common.gate_table(empty, ["model.width"]) == ""


def test_the_gate_without_keys_judges_each_job_and_names_text_values_as_written():
    table = learned_table({8: 0.2, 16: 0.8}).assign(**{"data.suite": "features"})
    kept, note = common.gate(table, [])
    assert sorted(kept["job"].unique()) == [16]
    assert note.endswith("Excluded (1 of 2): job=8 (20%).")
    table["name"] = table["job"].map({8: "small", 16: "large"})
    kept, note = common.gate(table, ["name"])
    assert note.endswith("Excluded (1 of 2): name=small (20%).")


def test_the_gate_table_lists_every_points_share_and_whether_it_passed():
    text = common.gate_table(learned_table({8: 0.3, 16: 0.5}), ["model.width"])
    lines = text.splitlines()
    assert (
        lines[0]
        == "Learnability gate, point by point (a point enters a verdict at a learned fraction of at least 50%):"
    )
    assert lines[1] == ""
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    assert cells[0] == ["model.width", "learned fraction (stl)", "gate"]
    assert cells[2:] == [["8", "30%", "excluded"], ["16", "50%", "passed"]]
    assert "at least 60%" in common.gate_table(learned_table({8: 0.3}), ["model.width"], threshold=0.6)


def test_learned_share_is_arm_stls_mean_per_point_or_none():
    share = common.learned_share(learned_table({8: 0.3, 16: 0.7}, other_arm=1.0), ["model.width"])
    assert share.columns.tolist() == ["model.width", "learned"]
    assert share["learned"].tolist() == pytest.approx([0.3, 0.7])
    assert common.learned_share(learned_table({8: 0.3}).query("arm == 'mtl'"), ["model.width"]) is None


def test_references_are_the_mean_constant_and_bayes_losses_or_nan():
    table = pd.DataFrame(
        {
            "metric": ["constant_bce", "constant_bce", "bayes_bce", "bayes_bce", "test_bce"],
            "value": [0.6, 0.7, np.nan, np.nan, 5.0],
        }  # fmt: skip
    )
    refs = common.references(table)
    assert refs["constant_bce"] == pytest.approx(0.65)
    assert math.isnan(refs["bayes_bce"])
    assert common.references(table.assign(value=[0.6, 0.7, 0.2, np.nan, 5.0]))["bayes_bce"] == pytest.approx(0.2)


def job_row(**overrides) -> pd.Series:
    row = {"train.batch_size": 64, "train.steps": 500, "train.optimizer": "adam", "train.lr": 0.003,
           "train.eval_every": 50, "train.seeds": 10}  # fmt: skip
    return pd.Series(row | overrides)


def jobs_collection(**overrides) -> Collection:
    jobs = pd.DataFrame([job_row(**overrides)])
    return Collection(root=Path("."), table=pd.DataFrame(), jobs=jobs, swept=[])


def test_the_held_equal_caption_names_steps_optimiser_batch_stopping_and_seeds():
    """Guards every number of the sentence each figure's caption carries, for both samplings."""
    assert common.held_equal(jobs_collection()) == (
        "Held equal: the same data draw per seed for every arm, 500 steps per network, adam (lr 0.003), "
        "batch 64 per network from the union of its tasks' labelled rows (sampling union), per-task early stopping on "
        "validation loss (checked every 50 steps), paired seeds (n = 10); bands and brackets are 95% t intervals over "
        "seeds."
    )
    assert (
        "batch 64 per task and network, each from the task's own labelled rows (sampling per_task)"
        in common.held_equal(jobs_collection(**{"train.sampling": "per_task"}))
    )
    assert "(sampling union)" in common.held_equal(jobs_collection(**{"train.sampling": "union"}))


def test_the_learning_rate_text_names_the_grid_and_its_objective():
    assert common.learning_rate_text(job_row()) == "lr 0.003"
    assert common.learning_rate_text(job_row(**{"train.lr_grid": ""})) == "lr 0.003"
    grid = job_row(**{"train.lr_grid": "0.01,0.001"})
    assert common.learning_rate_text(grid) == (
        "lr chosen per arm, seed and network from [0.01, 0.001] on the sum of its tasks' validation loss"
    )
    target = job_row(**{"train.lr_grid": "0.01,0.001", "train.lr_objective": "target"})
    assert common.learning_rate_text(target).endswith("on the target's validation loss")
    tasks = job_row(**{"train.lr_grid": "0.01", "train.lr_objective": "tasks"})
    assert common.learning_rate_text(tasks).endswith("[0.01] on the sum of its tasks' validation loss")


def test_on_suite_names_a_real_suite_and_its_trunk_and_nothing_for_the_generated_families():
    for suite in ("synthetic", "features"):
        assert common.on_suite(jobs_collection(**{"data.suite": suite, "model.kind": "mlp"})) == ("", "")
    assert common.on_suite(jobs_collection(**{"model.kind": "mlp"})) == ("", "")  # no suite column: synthetic
    assert common.on_suite(jobs_collection(**{"data.suite": "digits", "model.kind": "cnn"})) == (
        " (handwritten digits, CNN trunk)",
        "[handwritten digits, CNN trunk] ",
    )
    assert common.on_suite(jobs_collection(**{"data.suite": "mine", "model.kind": "mlp"}))[1] == "[mine, MLP trunk] "


def test_the_point_summary_is_the_mean_gain_and_delta_m_per_point_with_intervals():
    rows = []
    for width, gain in ((8, 0.01), (16, -0.02)):
        for seed in range(3):
            stl = 0.5 + 0.01 * seed
            for arm, loss in (("stl", stl), ("mtl", stl - gain - 0.001 * seed)):
                for metric, value in (("test_bce", loss), ("test_auroc", 1 - loss), ("test_acc", 1 - loss)):
                    rows.append({"job": width, "model.width": width, "arm": arm, "task": 0, "seed": seed,
                                 "metric": metric, "value": value})  # fmt: skip
    table = pd.DataFrame(rows)
    out = common.point_summary(table, ["model.width"])
    assert out.columns.tolist() == [
        "model.width", "gain", "gain_low", "gain_high", "delta_m", "delta_m_low", "delta_m_high", "seeds"
    ]  # fmt: skip
    assert out["model.width"].tolist() == [8, 16]
    assert out["gain"].tolist() == pytest.approx([0.011, -0.019])
    assert (out["gain_low"] < out["gain"]).all() and (out["gain"] < out["gain_high"]).all()
    assert out["seeds"].tolist() == [3, 3]
    expected = summarize(delta_m(table, ["model.width"]), ["model.width"], value="delta")
    assert out["delta_m"].tolist() == pytest.approx(expected["mean"].tolist())
    assert out["delta_m_low"].tolist() == pytest.approx(expected["low"].tolist())
    assert out["delta_m_high"].tolist() == pytest.approx(expected["high"].tolist())
    swapped = common.point_summary(table, ["model.width"], shared="stl", separate="mtl")
    assert swapped["gain"].tolist() == pytest.approx([-0.011, 0.019])


def test_ci_row_formats_the_named_column_and_its_interval():
    row = {"gain": 0.0123456, "gain_low": -0.001, "gain_high": 0.02, "delta_m": 1.5, "delta_m_low": 1.0,
           "delta_m_high": 2.0}  # fmt: skip
    assert common.ci_row(row) == "+0.0123 [-0.0010, +0.0200]"
    assert common.ci_row(row, "delta_m", 2) == fmt(1.5, 1.0, 2.0, 2) == "+1.50 [+1.00, +2.00]"


def test_with_config_attaches_the_missing_keys_from_the_jobs():
    c = collection()
    merged = common.with_config(c, ["model.width"])
    assert merged["model.width"].tolist() == [WIDTHS[j] for j in c.table["job"]]
    assert common.with_config(c, []) is c.table
    assert common.suite_of_jobs(c) == "synthetic"
    c.jobs["data.suite"] = "digits"
    assert common.suite_of_jobs(c) == "digits"


def test_the_gate_table_names_jobs_without_keys_and_text_values_as_written():
    by_job = common.gate_table(learned_table({8: 0.3, 16: 0.7}), []).splitlines()
    assert [c.strip() for c in by_job[2].strip("|").split("|")][0] == "job"
    assert [c.strip() for c in by_job[4].strip("|").split("|")] == ["8", "30%", "excluded"]
    table = learned_table({8: 0.3})
    table["name"] = "a|b"
    named = common.gate_table(table, ["name"]).splitlines()
    assert [c.strip() for c in named[4].strip("|").split(" | ")][0] == "a\\|b"


def test_learned_share_keeps_a_point_whose_key_is_missing():
    """Guards dropna=False: a job without a swept key (NaN) is still a point of the gate."""
    table = learned_table({8: 0.3, 16: 0.7})
    table.loc[table["model.width"] == 16, "model.width"] = np.nan
    share = common.learned_share(table, ["model.width"])
    assert len(share) == 2 and share["model.width"].isna().sum() == 1


def test_the_gate_names_an_excluded_point_by_every_key():
    table = learned_table({8: 0.3, 16: 0.7}).assign(**{"data.tasks": 4})
    _, note = common.gate(table, ["model.width", "data.tasks"])
    assert note.endswith("Excluded (1 of 2): model.width=8, data.tasks=4 (30%).")


def test_learning_curve_panels_name_float_and_text_values_and_draw_lines_without_markers():
    c = collection()
    c.jobs["model.width"] = [2.0, 0.5, 1e6, 3.0, 4.0]
    titles = [ax.get_title() for ax in common.learning_curves(c, "model.width", "T", panels=3).axes]
    assert titles == ["model.width = 0.5", "model.width = 3", "model.width = 1e+06"]
    c.jobs["name"] = ["a", "b", "c", "d", "e"]
    fig = common.learning_curves(c, "name", "T", panels=2)
    assert [ax.get_title() for ax in fig.axes] == ["name = a", "name = e"]
    assert all(line.get_marker() in ("None", None, "") for ax in fig.axes for line in ax.lines)
