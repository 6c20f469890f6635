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


@pytest.mark.parametrize(("n", "missing", "hidden"), [(35, 0.1, 4), (30, 0.25, 8), (10, 0.04, 0)])
def test_the_number_of_hidden_labels_is_the_rounded_fraction(n, missing, hidden):
    """Guards round(missing * n_k), not its floor (docs/task-families.md): 3.5 -> 4, 7.5 -> 8, 0.4 -> 0."""
    from harness.config import DataConfig
    from harness.data.base import label_mask

    cfg = DataConfig(tasks=3, pool=3 * n, n_per_task=n, missing=missing)
    mask = label_mask(cfg, np.random.default_rng(0))
    assert mask.sum(axis=0).tolist() == [n - hidden] * 3


@pytest.mark.parametrize("suite", ["synthetic", "features"])
def test_label_noise_is_drawn_afresh_for_each_split(suite):
    """Guards the noise stream's split index: row i of the training pool and row i of the test
    split get independent noise, so their labels' residuals from the Bayes posterior do not
    correlate (with one stream for every split they would: the same eps pushes both)."""
    from harness.config import DataConfig
    from harness.data import make_dataset, suite_of

    cfg = DataConfig(suite=suite, tasks=3, dim=8, pool=3000, n_per_task=1000, n_test=3000, noise=1.0)
    data = make_dataset(cfg, 0)

    def residual(x, y):
        return y - 1 / (1 + np.exp(-suite_of(cfg).posterior(cfg, cfg.seed, x)))

    train, test = residual(data.x_train, data.y_train), residual(data.x_test, data.y_test)
    correlation = [np.corrcoef(train[:, k], test[:, k])[0, 1] for k in range(3)]
    assert np.all(np.abs(correlation) < 0.1), correlation
