"""The fitted law of the gain (harness/analysis/law.py) on gains generated from known parameters."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score
from sweeps import flat

from harness.analysis import law

TRUE = np.array([2.0, 0.5, 0.01])


def generated(noise: float, seeds: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [
        {"n": n, "f": f, "w": w, "K": 8, "seed": s}
        for n in (100, 300, 1000)
        for f in (0.0, 0.5, 1.0)
        for w in (4, 32)
        for s in range(seeds)
    ]
    frame = pd.DataFrame(rows)
    truth = law.predict(TRUE, frame["n"], frame["f"], frame["w"], frame["K"])
    return frame.assign(gain=truth + noise * rng.standard_normal(len(frame)))


def test_the_fit_recovers_known_parameters_and_predicts_held_out_points():
    rows = generated(noise=0.002)
    result = law.fit(rows, rows["n"] == 300, resamples=50)
    assert result.params == pytest.approx(TRUE, rel=0.1)
    assert np.all((result.low <= TRUE) & (result.high >= TRUE)), (result.low, result.high)
    assert result.points["held_out"].sum() == 6 and result.held_r2 > 0.95 and result.held_rmse < 0.002
    assert "held-out points (labels per task = 300)" in law.law_text(result, "labels per task = 300")


def test_r_squared_is_sklearns_and_nan_without_spread():
    measured, predicted = np.array([0.1, -0.2, 0.05, 0.3]), np.array([0.08, -0.1, 0.0, 0.25])
    assert law.r_squared(measured, predicted) == pytest.approx(r2_score(measured, predicted))
    assert np.isnan(law.r_squared(np.array([0.1, 0.1]), np.array([0.1, 0.2])))


def test_the_law_gains_with_shared_features_and_loses_with_narrow_trunks():
    a, alpha, c = TRUE
    assert law.predict(TRUE, 100, 1.0, 4, 8) == pytest.approx(a * (1 - 1 / 8) * 100**-alpha)  # no own features
    assert law.predict(TRUE, 100, 0.0, 4, 8) == pytest.approx(-c * 8 / 4)  # nothing shared: only the cost
    assert law.predict(TRUE, 100, 0.5, 64, 8) > law.predict(TRUE, 100, 0.5, 4, 8)


def test_the_figure_draws_both_boundaries():
    rows = generated(noise=0.002, seeds=3)
    fig = law.law_figure(law.fit(rows, rows["n"] == 300, resamples=5), 0.5, 300)
    left, right = fig.axes[:2]
    assert left.collections and right.collections  # the contours and the measured points


def law_sweep(folder, grid, seeds: int = 6, suite: str = "features"):
    """A sweep of results whose paired gain (stl - mtl, every task) is the law at TRUE plus noise."""
    from fake_results import write

    from harness.config import RunConfig, to_dict

    rng = np.random.default_rng(len(grid))
    for job, (n, f, w) in enumerate(grid):
        run = RunConfig(study="help_hurt_map", arms=["mtl", "stl"])
        run.data.suite, run.data.n_per_task, run.data.shared_fraction, run.model.width = suite, n, f, w
        gain = law.predict(TRUE, n, f, w, run.data.tasks)
        records = [
            {"arm": arm, "task": t, "network": 0, "seed": s, "test_bce": 0.6 - (arm == "mtl") * (gain + e)}
            for s, e in enumerate(0.002 * rng.standard_normal(seeds))
            for arm in ("mtl", "stl")
            for t in range(run.data.tasks)
        ]
        write(folder, job, {"schema_version": 1, "status": "ok", "config": to_dict(run), "records": records})
    return folder


GRID = [(n, f, w) for n in (100, 300, 1000) for f in (0.0, 0.5, 1.0) for w in (4, 32)]


def test_the_law_command_fits_a_sweep_and_predicts_a_second_one(tmp_path):
    from harness.cli.law import main

    fit = law_sweep(tmp_path / "fit", GRID)
    held = law_sweep(tmp_path / "held", [(200, 0.25, 8), (600, 0.75, 16), (2000, 0.5, 64)])
    assert main([str(fit), "--held-out", str(held), "--out", str(tmp_path / "law"), "--format", "png,pdf"]) == 0
    summary = json.loads((tmp_path / "law" / "law.json").read_text())
    assert [summary["params"][p]["value"] for p in law.PARAMS] == pytest.approx(TRUE, rel=0.1)
    assert summary["held_out"] == "the held-out sweep's points" and summary["held_r2"] > 0.9
    assert sum(p["held_out"] for p in summary["points"]) == 3
    assert {p.name for p in (tmp_path / "law").iterdir()} == {"LAW.md", "law.json", "law.png", "law.pdf"}
    assert "| 2000 | 0.5 | 64 | 8 | yes |" in flat((tmp_path / "law" / "LAW.md").read_text())
    assert main([str(fit)]) == 0  # one sweep: its middle labels per task held out, into SWEEP/law
    assert json.loads((fit / "law" / "law.json").read_text())["held_out"] == "labels per task = 300"


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda p: law_sweep(p, GRID, suite="synthetic"), "the law is of the shared-features family"),
        (lambda p: law_sweep(p, [g for g in GRID if g[0] != 300]), "fewer than 3 values of data.n_per_task"),
        (lambda p: p / "absent", "no such folder"),
    ],
)
def test_the_law_command_refuses_what_it_cannot_fit_in_one_line_and_writes_nothing(make, error, tmp_path, capsys):
    from harness.cli.law import main

    sweep = make(tmp_path / "sweep")
    assert main([str(sweep), "--out", str(tmp_path / "law")]) == 2
    err = capsys.readouterr().err
    assert error in err and err.count("\n") == 1 and not (tmp_path / "law").exists()
