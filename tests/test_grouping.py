"""The grouping search: partitions, scores, the one-standard-error choice and the budget."""

import numpy as np

from harness.runs import grouping


def planted(tasks, groups, within=0.3, between=-0.1, seeds=4, noise=0.02, seed=0):
    """A signal [S, K, K] with `groups` planted, plus seed noise."""
    labels = grouping.labels_of(groups, tasks)
    base = np.where(labels[:, None] == labels[None, :], within, between)
    rng = np.random.default_rng(seed)
    return base[None] + noise * rng.standard_normal((seeds, tasks, tasks))


def test_set_partitions_count_bell_numbers_and_respect_the_block_cap():
    assert [sum(1 for _ in grouping.set_partitions(k)) for k in range(1, 7)] == [1, 2, 5, 15, 52, 203]
    capped = list(grouping.set_partitions(4, 2))
    assert len(capped) == 1 + 7  # S(4, 1) + S(4, 2)
    assert len(set(capped)) == len(capped)


def test_score_is_the_mean_help_from_group_partners_summed_over_tasks():
    s = np.arange(16, dtype=float).reshape(1, 4, 4)  # s[i, j]: i helps j
    # {0, 1}: 4 (into 1) + 1 (into 0); {2, 3}: 14 + 11; tasks alone add 0.
    assert grouping.scores(s, ((0, 1), (2, 3)))[0] == 4 + 1 + 14 + 11
    assert grouping.scores(s, ((0,), (1,), (2,), (3,)))[0] == 0
    # {0, 1, 2}: into 0 (4 + 8) / 2, into 1 (1 + 9) / 2, into 2 (2 + 6) / 2.
    assert grouping.scores(s, ((0, 1, 2), (3,)))[0] == (12 + 10 + 8) / 2


def test_exhaustive_search_finds_the_planted_groups():
    truth = ((0, 2, 5), (1, 3), (4,))
    choice = grouping.choose(planted(6, truth, between=-0.05))
    assert choice.partition == truth and choice.method == "exhaustive"
    assert choice.evaluated == 203


def test_within_one_standard_error_the_fewest_networks_win():
    pairs = ((0, 1), (2, 3))

    def signal(extra):  # 0.2 everywhere, plus `extra` [S] within {0, 1} and {2, 3}
        s = np.full((len(extra), 4, 4), 0.2)
        for a, b in pairs:
            s[:, [a, b], [b, a]] += np.asarray(extra)[:, None]
        return s

    noisy = grouping.choose(signal([0.03, -0.01, 0.01]))  # two groups score higher, by less than a standard error
    assert noisy.best == pairs and noisy.partition == ((0, 1, 2, 3),)
    clear = grouping.choose(signal([0.03, 0.02, 0.025]))
    assert clear.best == pairs and clear.partition == pairs


def test_the_budget_caps_the_number_of_networks():
    truth = ((0, 1), (2, 3), (4, 5))
    signal = planted(6, truth)
    assert grouping.choose(signal).partition == truth
    capped = grouping.choose(signal, max_networks=2)
    assert len(capped.partition) == 2 and capped.evaluated == 1 + 31


def test_beyond_exhaustive_size_the_agglomerative_path_recovers_clear_groups():
    truth = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 10))
    choice = grouping.choose(planted(11, truth))
    assert choice.method == "agglomerative" and choice.partition == truth
    assert choice.evaluated == sum(n * (n - 1) // 2 for n in range(2, 12))
    assert len(grouping.choose(planted(11, truth), max_networks=3).partition) <= 3


def test_pair_gains_read_each_head_of_each_pair():
    pairs = ((0, 1), (0, 2), (1, 2))
    single = np.array([[1.0, 2.0, 3.0]])
    pair_val = np.array([[[0.5, 1.0], [0.9, 3.5], [2.0, 2.0]]])
    s = grouping.pair_gains(pairs, pair_val, single)[0]
    np.testing.assert_allclose(s, [[0.0, 1.0, -0.5], [0.5, 0.0, 1.0], [0.1, 0.0, 0.0]])
