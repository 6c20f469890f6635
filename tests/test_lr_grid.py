"""Learning rate chosen per arm, seed and network on validation loss, from train.lr_grid."""

import numpy as np
import pytest

from harness.arms import make_arm
from harness.config import ConfigError, RunConfig, TrainConfig, validate
from harness.runs.job import run_job
from harness.train.program import ArmState
from harness.train.trainer import lr_choice, pick

LR = ("tasks", "target")


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


def test_a_claim_about_one_target_picks_the_shared_networks_learning_rate_by_the_targets_loss():
    # [S=1, L=2, G=1, H=3]: the sum prefers lr 1 (1.2 < 1.3), task 1's loss lr 0 (0.4 < 0.5).
    val = [[[[0.4, 0.4, 0.5]], [[0.5, 0.5, 0.2]]]]
    np.testing.assert_array_equal(lr_choice(make_arm("mtl", 3), state(val, [[True, True]]), target=1), [[0]])
    np.testing.assert_array_equal(lr_choice(make_arm("mtl", 3), state(val, [[True, True]]), target=-1), [[1]])
    # Separate networks are chosen on their own task whatever the target; per job, a target each.
    val = [[[[0.5], [0.2], [0.6]], [[0.3], [0.4], [0.6]], [[0.4], [0.4], [0.1]]]]
    np.testing.assert_array_equal(lr_choice(make_arm("stl", 3), state(val, [[True] * 3]), target=2), [[1, 0, 2]])
    jobs = [[[[[0.4, 0.4, 0.5]], [[0.5, 0.5, 0.2]]]]] * 2  # [J=2, S=1, L=2, G=1, H=3]
    picked = lr_choice(make_arm("mtl", 3), state(jobs, [[[True, True]]] * 2), target=np.array([1, -1]))
    np.testing.assert_array_equal(picked, [[[0]], [[1]]])


def test_lr_objective_target_reaches_the_choice_from_the_config(tiny):
    # A setting where the two objectives pick differently in three of four seeds.
    grid, data, seeds = [3e-2, 1e-1], {"target": 1, "noise_spread": 1.0}, 4

    def mtl(run):
        return {(r["seed"], r["task"]): r for r in run_job(run)["records"] if r["arm"] == "mtl"}

    singles = {lr: mtl(tiny(train={"lr": lr, "seeds": seeds}, data=data)) for lr in grid}
    picks = {}
    for objective in LR:
        chosen = mtl(tiny(train={"lr_grid": grid, "lr_objective": objective, "seeds": seeds}, data=data))
        picks[objective] = [chosen[seed, 0]["lr"] for seed in range(seeds)]
        for seed in range(seeds):
            heads = [1] if objective == "target" else [0, 1, 2]
            loss = {lr: sum(singles[lr][seed, k]["val_bce"] for k in heads) for lr in grid}
            assert chosen[seed, 0]["lr"] == min(grid, key=loss.get), (objective, seed)
    assert picks["target"] != picks["tasks"]


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
