import numpy as np
import pytest

from harness.data import make_dataset, make_replicates
from harness.data.base import task_sizes


def test_symmetric_sizes_and_missing_fraction_are_the_mask(tiny):
    run = tiny(data={"tasks": 4, "pool": 200, "n_per_task": 50, "missing": 0.2})
    data = make_dataset(run.data, seed=3)
    assert data.x_train.shape == (200, 8) and data.y_train.shape == (200, 4) and data.m_train.shape == (200, 4)
    np.testing.assert_array_equal(data.m_train.sum(0), [40, 40, 40, 40])  # 50 labels, 20% hidden
    assert data.m_train[50:].sum() == 0  # only the first n_per_task rows were ever labelled
    assert data.x_val.shape == (32, 8) and data.y_test.shape == (64, 4)


def test_lopsided_sizes(tiny):
    run = tiny(data={"tasks": 3, "pool": 100, "n_target": 5, "n_other": 80, "target": 1})
    np.testing.assert_array_equal(task_sizes(run.data), [80, 5, 80])
    np.testing.assert_array_equal(make_dataset(run.data, 0).m_train.sum(0), [80, 5, 80])


def test_labels_are_balanced_and_relatedness_controls_agreement(tiny):
    def agreement(rho):
        run = tiny(data={"tasks": 2, "dim": 16, "n_test": 4000, "relatedness": rho, "noise": 0.1})
        y = make_dataset(run.data, 0).y_test
        return np.mean(y[:, 0] == y[:, 1]), y.mean()

    same, rate = agreement(1.0)
    unrelated, _ = agreement(0.0)
    assert 0.4 < rate < 0.6
    assert same > 0.9
    assert 0.35 < unrelated < 0.65


def test_sweep_points_are_paired_only_relatedness_changes_labels(tiny):
    a = make_dataset(tiny(data={"relatedness": 0.2}).data, 7)
    b = make_dataset(tiny(data={"relatedness": 0.9}).data, 7)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.m_train, b.m_train)
    assert not np.array_equal(a.y_train, b.y_train)


def test_replicates_are_different_draws(tiny):
    data = make_replicates(tiny().data, 3)
    assert data.x_train.shape[0] == 3
    assert not np.allclose(data.x_train[0], data.x_train[1])


@pytest.mark.parametrize("seed", [0, 1])
def test_same_seed_same_data(tiny, seed):
    a, b = make_dataset(tiny().data, seed), make_dataset(tiny().data, seed)
    for left, right in zip(a, b, strict=True):
        np.testing.assert_array_equal(left, right)
