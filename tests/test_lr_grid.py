"""Learning rate chosen per arm, seed and network on validation loss, from train.lr_grid."""

import numpy as np
import pytest

from harness.arms import make_arm
from harness.config import ConfigError, RunConfig, TrainConfig, validate
from harness.runs.job import run_job
from harness.train.program import ArmState
from harness.train.trainer import lr_choice, pick


def state(best_val, finite):
    """An ArmState holding only what lr_choice reads."""
    return ArmState(*([None] * len(ArmState._fields)))._replace(
        best_val=np.asarray(best_val, float), finite=np.asarray(finite)
    )


def test_each_separate_network_gets_the_learning_rate_of_its_lowest_validation_loss():
    # [S=1, L=3, G=3, H=1]: network 0 is best at lr 1, network 1 at lr 0, network 2 at lr 2.
    val = [[[[0.5], [0.2], [0.6]], [[0.3], [0.4], [0.6]], [[0.4], [0.4], [0.1]]]]
    np.testing.assert_array_equal(lr_choice(make_arm("stl", 3), state(val, [[True] * 3])), [[1, 0, 2]])


def test_the_shared_network_gets_one_learning_rate_by_the_sum_over_its_heads():
    # [S=1, L=2, G=1, H=3]: lr 0 wins two heads, lr 1 the sum (1.2 < 1.3).
    val = [[[[0.4, 0.4, 0.5]], [[0.5, 0.5, 0.2]]]]
    np.testing.assert_array_equal(lr_choice(make_arm("mtl", 3), state(val, [[True, True]])), [[1]])
    # An arm about one target chooses by the target's head alone.
    np.testing.assert_array_equal(lr_choice(make_arm("transfer_full", 3), state(val, [[True, True]])), [[0]])


def test_a_learning_rate_whose_training_diverged_is_not_chosen():
    val = [[[[0.4]], [[0.1]]], [[[0.4]], [[0.1]]]]  # [S=2, L=2, G=1, H=1]
    np.testing.assert_array_equal(lr_choice(make_arm("mtl", 1), state(val, [[True, False], [True, True]])), [[0], [1]])


def test_pick_takes_each_network_at_its_learning_rate_across_the_evaluations():
    curve = np.arange(2 * 4 * 3 * 2).reshape(2, 4, 3, 2)  # [S, evals, L, G]
    choice = np.array([[2, 0], [1, 1]])  # [S, G]
    want = np.stack([curve[0, :, [2, 0], [0, 1]].T, curve[1, :, [1, 1], [0, 1]].T])
    np.testing.assert_array_equal(pick(curve, choice, -2), want)


def test_a_grid_run_reports_each_network_at_the_single_learning_rate_run_that_validates_best(tiny):
    grid = [1e-4, 1e-2, 10.0]
    runs = {lr: run_job(tiny(train={"lr": lr})) for lr in grid}
    by_lr = {lr: run["records"] for lr, run in runs.items() if run["status"] == "ok"}  # 10 diverges alone
    result = run_job(tiny(train={"lr_grid": grid}))
    assert result["status"] == "ok"
    assert result["arms"]["mtl"]["lr_grid"] == grid
    chosen: dict[tuple, set] = {(r["arm"], r["network"]): set() for r in result["records"]}
    for i, record in enumerate(result["records"]):
        singles = {lr: records[i] for lr, records in by_lr.items()}
        assert all(s["arm"] == record["arm"] and s["task"] == record["task"] for s in singles.values())
        same = singles[record["lr"]]
        for name in ("test_bce", "test_auroc", "val_bce", "best_step"):
            assert record[name] == pytest.approx(same[name], rel=1e-4, abs=1e-6), name
        chosen[record["arm"], record["network"]].add(record["lr"])
        if record["arm"] == "stl":  # one head per network: the chosen one validates best
            assert record["val_bce"] <= min(s["val_bce"] for s in singles.values()) + 1e-6
    # 1e-4 barely moves the networks in 40 steps and 10 wrecks them: 1e-2 clearly wins everywhere.
    assert set(map(frozenset, chosen.values())) == {frozenset({1e-2})}


def test_lr_grid_needs_two_distinct_positive_values():
    for grid in ([1e-3], [1e-3, 1e-3], [1e-3, -1.0]):
        with pytest.raises(ConfigError, match="train.lr_grid=.* is not accepted; expected a list of at least 2"):
            validate(RunConfig(train=TrainConfig(lr_grid=grid)))
    validate(RunConfig(train=TrainConfig(lr_grid=[1e-3, 1e-2])))
