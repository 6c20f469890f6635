"""The fitted law of the gain (harness/analysis/law.py) on gains generated from known parameters."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score

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
