"""The shared-features family (harness/data/features.py): what each key controls, and pairing."""

import numpy as np
import pytest

from harness.config import ConfigError, DataConfig
from harness.data import make_dataset, make_replicates
from harness.data.features import check_keys, family, parts, score
from harness.data.references import references


def test_a_task_is_the_same_task_at_any_task_count(tiny):
    few, many = (tiny(data={"suite": "features", "tasks": k, "noise_spread": 1.0}).data for k in (3, 6))
    a, b = make_replicates(few, 2), make_replicates(many, 2)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    for name in ("y_train", "y_test", "m_train"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name)[..., :3])
    np.testing.assert_array_equal(references(few, a)["bayes_bce"], references(many, b)["bayes_bce"][:, :3])


def test_inputs_noise_and_budget_are_paired_across_shared_fractions_and_with_the_directions_family(tiny):
    draws = [make_dataset(tiny(data={"suite": "features", "shared_fraction": f}).data, 3) for f in (0.0, 0.7)]
    directions = make_dataset(tiny().data, 3)
    for name in ("x_train", "x_val", "x_test", "m_train"):
        np.testing.assert_array_equal(getattr(draws[0], name), getattr(draws[1], name))
        np.testing.assert_array_equal(getattr(draws[0], name), getattr(directions, name))
    assert not np.array_equal(draws[0].y_test, draws[1].y_test)


@pytest.mark.parametrize("fraction", [0.0, 0.3, 1.0])
def test_the_shared_fraction_is_the_shared_features_share_of_each_scores_variance(tiny, fraction):
    cfg = tiny(data={"suite": "features", "tasks": 4, "dim": 16, "shared_fraction": fraction}).data
    t = family(cfg, 0)
    x = np.random.default_rng(9).standard_normal((40000, 16))
    shared, own = parts(t, x)
    s = score(t, x)
    np.testing.assert_allclose(s.var(0), 1.0, atol=0.05)  # the parts are scaled to unit variance
    explained = np.sqrt(fraction) * shared / t.scale[0]
    np.testing.assert_allclose(explained.var(0), fraction, atol=0.05)


def test_at_fraction_one_a_score_depends_on_the_shared_directions_alone_and_at_zero_not_at_all(tiny):
    cfg = tiny(data={"suite": "features", "tasks": 3, "dim": 10, "shared_features": 3}).data
    x = np.random.default_rng(0).standard_normal((200, 10))
    step = np.random.default_rng(1).standard_normal((200, 10))
    for fraction in (1.0, 0.0):
        t = family(cfg.__class__(**{**cfg.__dict__, "shared_fraction": fraction}), 0)
        along = x + (step @ t.a) @ t.a.T  # moves the shared features alone
        away = x + step - (step @ t.a) @ t.a.T  # moves everything but them
        unchanged, changed = (away, along) if fraction == 1.0 else (along, away)
        np.testing.assert_allclose(score(t, unchanged), score(t, x), atol=1e-9)
        assert np.abs(score(t, changed) - score(t, x)).mean() > 0.1
    # Tasks combine the shared features differently: different tasks even at f = 1.
    t = family(cfg.__class__(**{**cfg.__dict__, "shared_fraction": 1.0}), 0)
    assert abs(np.corrcoef(score(t, x).T)[0, 1]) < 0.95


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("shared_features", 0, "data.shared_features=0 is not accepted; expected an integer >= 1"),
        ("own_features", -1, "data.own_features=-1 is not accepted; expected an integer >= 0"),
        ("shared_fraction", 1.5, "data.shared_fraction=1.5 is not accepted; expected a number in [0, 1]"),
        ("shared_fraction", -0.1, "data.shared_fraction=-0.1 is not accepted; expected a number in [0, 1]"),
        ("dim", 4, "data.dim=4 is not accepted; expected an integer > data.shared_features = 4"),
    ],
)
def test_each_bad_key_of_the_family_is_named_with_what_is_accepted(key, value, message):
    cfg = DataConfig(suite="features", dim=16, shared_features=4, own_features=2, shared_fraction=0.5)
    setattr(cfg, key, value)
    with pytest.raises(ConfigError) as raised:
        check_keys(cfg)
    assert str(raised.value) == message


def test_the_familys_boundary_values_are_accepted():
    for shared, own, fraction, dim in ((1, 0, 0.0, 2), (4, 0, 1.0, 5), (1, 3, 0.5, 2)):
        check_keys(
            DataConfig(suite="features", dim=dim, shared_features=shared, own_features=own, shared_fraction=fraction)
        )


def test_a_score_is_the_docstrings_formula_computed_by_hand(tiny):
    """Guards s_k = sqrt(f) v_k . h / sd_k + sqrt(1 - f) c_k . g_k / sd'_k term by term (the sign
    of the own part and the weights c_k multiplying, not dividing, its features)."""
    cfg = tiny(data={"suite": "features", "tasks": 3, "dim": 10, "shared_features": 2, "own_features": 3,
                     "shared_fraction": 0.3}).data  # fmt: skip
    t = family(cfg, 4)
    x = np.random.default_rng(1).standard_normal((50, 10))
    h = np.sin(x @ t.a) + np.cos(x @ t.a)  # [n, r]
    g = (np.sin(x @ t.b) + np.cos(x @ t.b)).reshape(50, 3, 3)  # [n, K, m]
    shared = h @ t.v
    own = np.einsum("nkm,km->nk", g, t.c)
    expected = np.sqrt(0.3) * shared / t.scale[0] + np.sqrt(0.7) * own / t.scale[1]
    np.testing.assert_allclose(score(t, x), expected, rtol=1e-12)
    np.testing.assert_allclose(parts(t, x), np.stack([shared, own]), rtol=1e-12)


def test_scores_of_more_rows_than_one_chunk_are_joined_row_by_row(tiny):
    cfg = tiny(data={"suite": "features", "tasks": 8, "dim": 16, "own_features": 16}).data
    t = family(cfg, 0)
    x = np.random.default_rng(2).standard_normal((8100, 16))  # one chunk holds 8,065 rows here
    np.testing.assert_allclose(parts(t, x), np.concatenate([parts(t, x[:4000]), parts(t, x[4000:])], axis=1))


def test_each_tasks_label_noise_is_spread_by_its_own_draw(tiny):
    cfg = tiny(data={"suite": "features", "tasks": 3, "noise": 0.4, "noise_spread": 0.5}).data
    spread = [np.random.default_rng([5, 8, k]).uniform(-1.0, 1.0) for k in range(3)]  # stream [seed, OWN, k]
    np.testing.assert_allclose(family(cfg, 5).noise, 0.4 * np.exp(0.5 * np.array(spread)))


def test_without_own_features_a_score_is_its_shared_part_alone(tiny):
    cfg = tiny(data={"suite": "features", "tasks": 3, "own_features": 0, "shared_fraction": 0.5}).data
    t = family(cfg, 0)
    x = np.random.default_rng(3).standard_normal((20, cfg.dim))
    shared, own = parts(t, x)
    assert np.all(own == 0) and np.all(t.scale[1] == 1.0)
    np.testing.assert_allclose(score(t, x), np.sqrt(0.5) * shared / t.scale[0])
