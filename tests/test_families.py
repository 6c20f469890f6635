"""Synthetic task families (harness/data/synthetic.py) and the learnability references."""

import itertools

import numpy as np
import pytest

from harness.config import ConfigError, DataConfig
from harness.data import make_dataset, make_replicates, suite_of
from harness.data.base import Dataset, label_mask
from harness.data.references import base_rate, references
from harness.data.synthetic import check_keys, family, posterior_logits, score, shared_basis
from harness.runs import results
from harness.runs.job import run_job
from harness.train.metrics import evaluate


def test_a_task_is_the_same_task_at_any_task_count(tiny):
    few = tiny(data={"tasks": 3, "task_groups": 2, "relatedness_between": 0.3, "specific": 0.5, "noise_spread": 1.0})
    many = tiny(data={"tasks": 7, "task_groups": 2, "relatedness_between": 0.3, "specific": 0.5, "noise_spread": 1.0})
    x = np.random.default_rng(0).standard_normal((50, few.data.dim))
    np.testing.assert_array_equal(score(family(few.data, 4), x), score(family(many.data, 4), x)[:, :3])
    np.testing.assert_array_equal(posterior_logits(few.data, 4, x), posterior_logits(many.data, 4, x)[:, :3])
    a, b = make_replicates(few.data, 2), make_replicates(many.data, 2)
    for name in ("x_train", "x_val", "x_test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    for name in ("y_train", "y_val", "y_test", "m_train"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name)[..., :3])
    ref_a, ref_b = references(few.data, a), references(many.data, b)
    for name in ("bayes_bce", "bayes_auroc", "constant_bce"):
        np.testing.assert_array_equal(ref_a[name], ref_b[name][:, :3])


@pytest.mark.parametrize("key, values", [("relatedness", (0.1, 0.9)), ("specific", (0.0, 2.0))])
def test_inputs_noise_and_budget_are_paired_across_the_family_values(tiny, key, values):
    a, b = (make_dataset(tiny(data={key: v, "missing": 0.25}).data, 3) for v in values)
    for name in ("x_train", "x_val", "x_test", "m_train"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.y_test, b.y_test)


def test_noise_spread_gives_each_task_its_own_noise_within_the_stated_range(tiny):
    flat = family(tiny(data={"tasks": 6, "noise": 0.5}).data, 0)
    spread = family(tiny(data={"tasks": 6, "noise": 0.5, "noise_spread": 1.0}).data, 0)
    np.testing.assert_array_equal(flat.noise, np.full(6, 0.5))
    assert np.all((spread.noise > 0.5 * np.exp(-1)) & (spread.noise < 0.5 * np.exp(1)))
    assert np.ptp(np.log(spread.noise)) > 0.5  # six draws of e_k in [-1, 1] spread out


def test_grouped_cosines_are_as_configured():
    """w_j . w_k = a^2 + b^2 [same group] + c^2 u_j . u_k with E[u_j . u_k] = 0 and sd
    1 / sqrt(dim - G - 1); 5 sd of c^2 u_j . u_k bounds every pair here."""
    dim, groups, within, between = 4000, 2, 0.8, 0.3
    cfg = DataConfig(tasks=6, dim=dim, task_groups=groups, relatedness=within, relatedness_between=between)
    w = family(cfg, 1).w
    np.testing.assert_allclose(np.linalg.norm(w, axis=0), 1.0, atol=1e-12)
    tol = 5 * (1 - within**2) / np.sqrt(dim - groups - 1)
    for j, k in itertools.combinations(range(cfg.tasks), 2):
        expected = within**2 if j % groups == k % groups else between**2
        assert abs(w[:, j] @ w[:, k] - expected) < tol, (j, k)
    one = family(DataConfig(tasks=4, dim=dim, relatedness=0.6, relatedness_between=0.5), 1).w  # G=1: rho^2
    np.testing.assert_array_equal(one, family(DataConfig(tasks=4, dim=dim, relatedness=0.6), 1).w)  # ignored
    for j, k in itertools.combinations(range(4), 2):
        assert abs(one[:, j] @ one[:, k] - 0.36) < 5 * 0.64 / np.sqrt(dim - 2)


def test_specific_parts_are_the_tasks_own():
    """The specific part lives on directions orthogonal to the shared ones and scales with data.specific."""
    cfgs = [DataConfig(tasks=3, dim=16, specific=s, task_groups=2, relatedness_between=0.2) for s in (0.0, 1.0, 2.0)]
    fams = [family(c, 0) for c in cfgs]
    x = np.random.default_rng(1).standard_normal((40, 16))
    s0, s1, s2 = (score(f._replace(threshold=0), x) for f in fams)
    assert np.abs(s1 - s0).max() > 0.1
    np.testing.assert_allclose(s2 - s0, 2 * (s1 - s0), atol=1e-12)
    np.testing.assert_allclose(shared_basis(0, 16, 2).T @ fams[1].own, 0.0, atol=1e-12)


@pytest.mark.parametrize(
    "data",
    [
        {"noise": 0.5},
        {"noise": 0.3, "noise_spread": 1.0, "specific": 1.0, "task_groups": 2, "relatedness_between": 0.4},
        {"suite": "features", "noise": 0.4, "noise_spread": 1.0, "shared_fraction": 0.6},
    ],
)
def test_bayes_reference_matches_the_labels_it_is_scored_on(tiny, data):
    """On 20,000 test rows the generator's labels follow the stated posterior: per task the
    realised Bayes log loss is within 4 standard errors of the posterior's expected loss
    (mean binary entropy of p(x)), its AUROC within 0.01 of the expected AUROC given the
    inputs (standard error about 0.003 here), and in every decile of p the positive rate is
    within 4 standard errors of the mean p."""
    run = tiny(data={"tasks": 3, "dim": 16, "n_test": 20000, "seed": 5, **data})
    d = make_dataset(run.data, 5)
    ref = references(run.data, make_replicates(run.data, 1))  # replicate 0 is data seed 5
    z = suite_of(run.data).posterior(run.data, 5, d.x_test)
    p, log_p, log_q = 1 / (1 + np.exp(-z)), -np.logaddexp(0, -z), -np.logaddexp(0, z)  # q = 1 - p
    for k in range(3):
        pk, yk = p[:, k], d.y_test[:, k]
        entropy = -(pk * log_p[:, k] + (1 - pk) * log_q[:, k])
        loss = -(yk * log_p[:, k] + (1 - yk) * log_q[:, k])
        assert abs(ref["bayes_bce"][0, k] - entropy.mean()) < 4 * loss.std() / np.sqrt(len(loss))
        q = np.sort(pk)
        below = np.cumsum(1 - q) - (1 - q)  # sum over rows with smaller p of (1 - p_j)
        expected_auroc = (q * below).sum() / (q.sum() * (1 - q).sum() - (q * (1 - q)).sum())
        assert abs(ref["bayes_auroc"][0, k] - expected_auroc) < 0.01
        for rows in np.array_split(np.argsort(pk), 10):
            se = np.sqrt(pk[rows].mean() * (1 - pk[rows].mean()) / len(rows)) + 1e-3
            assert abs(yk[rows].mean() - pk[rows].mean()) < 4 * se


def test_noiseless_tasks_have_a_perfect_bayes_reference(tiny):
    run = tiny(data={"noise": 0.0, "specific": 1.0})
    ref = references(run.data, make_replicates(run.data, 2))
    np.testing.assert_allclose(ref["bayes_bce"], 0.0, atol=1e-12)
    np.testing.assert_array_equal(ref["bayes_auroc"], 1.0)


def test_constant_reference_is_the_training_base_rate_scored_on_test_labels(tiny):
    run = tiny(data={"tasks": 2, "n_per_task": 20, "missing": 0.5})
    data = make_replicates(run.data, 2)
    ref = references(run.data, data)
    for s, k in itertools.product(range(2), range(2)):
        m = data.m_train[s, :, k] > 0
        p = data.y_train[s, m, k].mean(dtype=np.float64)
        y = data.y_test[s, :, k].astype(np.float64)
        expected = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
        np.testing.assert_allclose(ref["constant_bce"][s, k], expected, rtol=1e-12)


def test_constant_reference_clips_a_one_class_training_set(tiny):

    np.testing.assert_allclose(base_rate(np.ones((4, 1)), np.ones((4, 1))), [1 - 1 / 8])
    np.testing.assert_allclose(base_rate(np.ones((4, 1)), np.zeros((4, 1))), [0.5])
    run = tiny(data={"tasks": 1})
    ones, x = np.ones((1, 4, 1), np.float32), np.zeros((1, 4, run.data.dim), np.float32)
    ref = references(run.data, Dataset(x, ones, ones, x, ones, x, np.zeros_like(ones)))
    np.testing.assert_allclose(ref["constant_bce"], [[np.log(8)]])


def test_learned_fraction_is_one_for_the_posterior_and_zero_for_the_constant(tiny):
    run = tiny(data={"tasks": 2, "n_test": 500})
    data = make_replicates(run.data, 1)
    ref = references(run.data, data)
    bayes = evaluate(posterior_logits(run.data, run.data.seed, data.x_test[0]), data.y_test[0])
    np.testing.assert_allclose(
        results.learned_fraction(bayes["test_bce"], ref["constant_bce"][0], ref["bayes_bce"][0]), 1
    )
    np.testing.assert_allclose(results.learned_fraction(bayes["test_auroc"], 0.5, ref["bayes_auroc"][0]), 1)
    p = base_rate(data.y_train[0], data.m_train[0])
    constant = evaluate(np.broadcast_to(np.log(p / (1 - p)), data.y_test[0].shape), data.y_test[0])
    np.testing.assert_allclose(
        results.learned_fraction(constant["test_bce"], ref["constant_bce"][0], ref["bayes_bce"][0]), 0
    )
    np.testing.assert_array_equal(results.learned_fraction(constant["test_auroc"], 0.5, ref["bayes_auroc"][0]), 0)
    np.testing.assert_allclose(results.learned_fraction(0.6, 0.6, 0.2), 0)
    np.testing.assert_allclose(results.learned_fraction(0.4, 0.6, 0.2), 0.5)
    assert np.isnan(results.learned_fraction(0.4, 0.6, 0.6))  # no gap to close
    assert np.isnan(results.learned_fraction(0.7, 0.5, np.nan))  # no Bayes reference


def test_records_carry_the_references(tiny):
    run = tiny(arms=["stl"])
    result = run_job(run)
    assert results.SCHEMA_VERSION == 2 and set(results.REFERENCES + results.LEARNED) <= set(results.METRICS)
    ref = result["references"]
    for rec in result["records"]:
        s, k = rec["seed"], rec["task"]
        assert rec["constant_bce"] == ref["constant_bce"][s][k] and rec["bayes_auroc"] == ref["bayes_auroc"][s][k]
        assert 0.5 < rec["bayes_auroc"] <= 1 and rec["bayes_bce"] < rec["constant_bce"]
        gap = rec["constant_bce"] - rec["bayes_bce"]
        np.testing.assert_allclose(rec["learned_bce"], (rec["constant_bce"] - rec["test_bce"]) / gap)
        np.testing.assert_allclose(rec["learned_auroc"], (rec["test_auroc"] - 0.5) / (rec["bayes_auroc"] - 0.5))


def test_records_without_a_bayes_reference_say_nan():
    metrics = {name: np.full((1, 1, 2), 0.7) for name in results.TRAINED}
    refs = {
        "constant_bce": np.full((1, 2), 0.69),
        "bayes_bce": np.full((1, 2), np.nan),
        "bayes_auroc": np.nan * np.ones((1, 2)),
    }
    rows = results.records("mtl", ((0, 1),), metrics, refs)
    assert [r["constant_bce"] for r in rows] == [0.69, 0.69]
    assert all(np.isnan(r[name]) for r in rows for name in ("bayes_bce", "bayes_auroc", "learned_bce", "learned_auroc"))


def test_disjoint_labelling_gives_each_task_rows_of_its_own(tiny):
    run = tiny(data={"tasks": 3, "pool": 64, "n_target": 10, "n_other": 20, "target": 1, "labelling": "disjoint"})
    mask = make_dataset(run.data, 0).m_train
    assert mask.sum(1).max() == 1  # no row labelled for two tasks
    np.testing.assert_array_equal(mask.sum(0), [20, 10, 20])
    run.data.missing = 0.5
    hidden = label_mask(run.data, np.random.default_rng(0))
    assert hidden.sum(1).max() == 1 and (hidden <= mask).all()
    np.testing.assert_array_equal(hidden.sum(0), [10, 5, 10])
    run.data.labelling = "overlap"
    assert make_dataset(run.data, 0).m_train.sum(1).max() == 3  # today's default: shared rows


def test_disjoint_labelling_needs_a_pool_that_holds_every_task(tiny):
    with pytest.raises(ConfigError) as caught:
        tiny(data={"tasks": 3, "pool": 64, "n_per_task": 30, "labelling": "disjoint"})
    message = str(caught.value)
    assert "\n" not in message and "data.pool=64" in message and "3 x 30" in message and "sum to 90" in message
    with pytest.raises(ConfigError, match=r"10\+30\+30 sum to 70"):
        tiny(data={"tasks": 3, "pool": 64, "n_target": 10, "n_other": 30, "labelling": "disjoint"})
    tiny(data={"tasks": 2, "pool": 64, "n_per_task": 32, "labelling": "disjoint"})  # exactly fits


@pytest.mark.parametrize(
    "data, key",
    [
        ({"labelling": "mixed"}, "data.labelling"),
        ({"task_groups": 4}, "data.task_groups"),
        ({"task_groups": 0}, "data.task_groups"),
        ({"task_groups": 2, "relatedness": 0.5, "relatedness_between": 0.6}, "data.relatedness_between"),
        ({"task_groups": 3, "dim": 4}, "data.dim"),
        ({"specific": -1.0}, "data.specific"),
        ({"noise_spread": -0.1}, "data.noise_spread"),
        ({"suite": "features", "shared_fraction": 1.5}, "data.shared_fraction"),
        ({"suite": "features", "shared_features": 0}, "data.shared_features"),
        ({"suite": "features", "own_features": -1}, "data.own_features"),
        ({"suite": "features", "shared_features": 8}, "data.dim"),
        ({"suite": "table", "path": "t.csv", "labels": ["a"], "tasks": 0, "labelling": "disjoint"}, "data.labelling"),
    ],
)
def test_family_keys_are_checked(tiny, data, key):
    with pytest.raises(ConfigError, match=key):
        tiny(data=data)


def test_the_base_rate_is_clipped_half_a_label_from_either_end():
    """Guards the clip on both sides: all-negative labels give 1 / 2n, not 0 (an infinite test
    loss for any positive), and one label gives 1/2 whichever it is."""
    y = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 1.0], [0.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    m = np.array([[1, 1, 1], [1, 1, 0], [1, 1, 0], [1, 1, 0]], dtype=float)
    np.testing.assert_allclose(base_rate(y, m), [1 / 8, 1 - 1 / 8, 0.5])


def test_the_directions_familys_dimension_bound_is_named_and_its_boundary_accepted():
    check_keys(DataConfig(dim=5, task_groups=3))
    with pytest.raises(ConfigError) as raised:
        check_keys(DataConfig(dim=4, task_groups=3))
    assert str(raised.value) == "data.dim=4 is not accepted; expected an integer >= data.task_groups + 2 = 5"


@pytest.mark.parametrize("suite", ["synthetic", "features"])
def test_generated_labels_are_float32_in_every_split(suite):
    data = make_dataset(DataConfig(suite=suite, tasks=3, dim=8, pool=40, n_val=20, n_test=20, n_per_task=20), 0)
    assert data.y_train.dtype == data.y_val.dtype == data.y_test.dtype == np.float32


def test_a_suite_without_a_posterior_has_nan_bayes_references_and_its_constant_one():
    cfg = DataConfig(suite="digits", tasks=10, pool=200, n_val=40, n_test=40, n_per_task=100)
    data = make_replicates(cfg, 2)
    ref = references(cfg, data)
    assert set(ref) == {"constant_bce", "bayes_bce", "bayes_auroc"}
    assert ref["bayes_bce"].dtype == ref["bayes_auroc"].dtype == np.float64
    assert ref["bayes_bce"].shape == ref["constant_bce"].shape == (2, 10)
    assert np.isnan(ref["bayes_bce"]).all() and np.isnan(ref["bayes_auroc"]).all()
    assert np.isfinite(ref["constant_bce"]).all()


def test_each_sinusoid_of_the_link_has_its_own_frequency_and_phase():
    f = family(DataConfig(tasks=3, dim=8, sinusoids=4), 0)
    assert f.alpha.shape == f.beta.shape == (4,)
    assert np.all((f.alpha >= 0.5) & (f.alpha < 2.0)) and np.all((f.beta >= 0) & (f.beta < 2 * np.pi))
    assert len(set(f.alpha.tolist())) == 4
