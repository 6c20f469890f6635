"""The grouping search: partitions, scores, the one-standard-error choice and the budget."""

import numpy as np
import pytest

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


def test_when_every_partition_ties_the_fewest_networks_are_both_best_and_chosen():
    """Guards the tie rules: equal scores go to fewer networks (best's key), and a partition
    exactly at the one-standard-error floor is within it (>=, not >)."""
    choice = grouping.choose(np.zeros((3, 4, 4)))  # every partition scores 0, with no spread
    assert choice.best == ((0, 1, 2, 3),) and choice.partition == ((0, 1, 2, 3),)


def test_among_equally_many_networks_within_the_floor_the_higher_score_is_chosen():
    """Guards the tie-break of the one-standard-error rule: among the partitions within the
    floor with the fewest networks, the higher mean wins."""
    s = np.full((3, 4, 4), -1.0)
    for a, b in ((0, 1), (2, 3)):  # scores 4.0, standard error 0.69: floor 3.31
        s[:, [a, b], [b, a]] = 1.0 + np.array([0.3, -0.3, 0.0])[:, None]
    for a, b in ((0, 2), (1, 3)):  # scores 3.6: within the floor, also two networks
        s[:, [a, b], [b, a]] = 0.9
    assert [grouping.scores(s, p).mean() for p in (((0, 2), (1, 3)), ((0, 1, 2, 3),))] == pytest.approx([3.6, 1.2])
    assert grouping.choose(s).partition == ((0, 1), (2, 3))


def test_the_pairs_signal_is_read_from_validation_losses_never_test_losses():
    """Guards against leakage: search_groups reads val_bce of stl and pairs; the test losses,
    planted with the opposite groups, never decide the partition."""
    from types import SimpleNamespace

    from harness.arms import make_arm
    from harness.config import RunConfig
    from harness.runs.job import search_groups
    from harness.train.trainer import TrainOutput

    pairs = make_arm("pairs", 4)
    static = SimpleNamespace(arms=[make_arm("stl", 4), pairs])

    def losses(groups):  # stl 0.6 per task; a pair 0.4 on both heads within a group, 0.8 across
        together = {frozenset(g) for g in groups}
        pair = [[0.4, 0.4] if frozenset(p) in together else [0.8, 0.8] for p in pairs.groups]
        return np.full((3, 4, 1), 0.6), np.array([pair] * 3)

    (stl_val, pair_val), (stl_test, pair_test) = losses(((0, 1), (2, 3))), losses(((0, 2), (1, 3)))
    metrics = {
        "stl": {"val_bce": stl_val, "test_bce": stl_test},
        "pairs": {"val_bce": pair_val, "test_bce": pair_test},
    }
    run = RunConfig(arms=["stl", "groups"])
    run.train.grouping_signal, run.data.tasks, run.train.seeds = "pairs", 4, 3
    out = TrainOutput(metrics, {}, [0], 0.0, 0.0)
    assert search_groups(run, static, out)["partition"] == ((0, 1), (2, 3))


def test_among_equally_many_networks_the_higher_score_wins_whatever_the_candidates_order_or_spread():
    """Guards the pick's key: among the candidates within the floor with the fewest networks,
    the higher mean, not the first listed and not the wider spread. (0, 1)(2) is listed
    before (0, 2)(1) and has the wider spread; (0, 2)(1) scores higher."""
    s = np.zeros((2, 3, 3))
    for (a, b), values in (((0, 1), [0.2, 0.8]), ((0, 2), [0.45, 0.75]), ((1, 2), [-2.0, -2.0])):
        s[:, [a, b], [b, a]] = np.array(values)[:, None]
    choice = grouping.choose(s)
    assert choice.partition == choice.best == ((0, 2), (1,))
    first = grouping.scores(s, ((0, 1), (2,)))
    assert first.mean() >= choice.score - choice.score_se  # (0, 1)(2) is within the floor
    assert choice.score == pytest.approx(1.2)
    assert choice.score_se == pytest.approx(np.std([0.9, 1.5], ddof=1) / np.sqrt(2))
    assert 0 <= choice.seconds < 60


def test_the_standard_error_is_over_seeds_and_zero_for_one_seed():
    s = np.zeros((3, 2, 2))
    s[:, 0, 1] = s[:, 1, 0] = [0.1, 0.4, 1.0]
    choice = grouping.choose(s)
    assert choice.partition == ((0, 1),)
    assert choice.score == pytest.approx(1.0) and choice.score_se == pytest.approx(
        np.std([0.2, 0.8, 2.0], ddof=1) / 3**0.5
    )
    two = grouping.choose(s[:2])
    assert two.score_se == pytest.approx(np.std([0.2, 0.8], ddof=1) / 2**0.5)
    assert grouping.choose(s[:1]).score_se == 0.0


def test_a_singleton_group_does_not_end_the_partitions_score():
    """Guards the sum over groups: a task alone adds 0, and the groups after it still count."""
    s = np.zeros((1, 3, 3))
    s[0, 1, 2], s[0, 2, 1] = 0.3, 0.5
    assert grouping.scores(s, ((0,), (1, 2))).tolist() == pytest.approx([0.8])


def test_eight_tasks_are_searched_exhaustively_and_nine_along_the_merge_path():
    """Guards the switch at EXHAUSTIVE_MAX_TASKS and that the merge path keeps the separate
    networks (K groups) as a candidate: where every pair hurts, each task is left alone."""
    eight = grouping.choose(np.zeros((1, 8, 8)))
    assert (eight.method, eight.evaluated) == ("exhaustive", 4140)
    nine = grouping.choose(np.full((2, 9, 9), -1.0))
    assert nine.method == "agglomerative"
    assert nine.partition == tuple((k,) for k in range(9))


def test_labels_of_gives_each_task_its_group_as_integers():
    labels = grouping.labels_of(((0, 2), (1,)), 3)
    assert labels.tolist() == [0, 1, 0] and labels.dtype.kind == "i"
