"""Which tasks should share a network: a partition of the tasks chosen from measured signals.

Pure numpy. A signal is a matrix S[seed, i, j]: how much task i helps task j.

- `affinity`: TAG's lookahead affinity Z_{i->j} (Fifty et al. 2021), measured on the
  all-task network during training (train.affinity_every).
- `pairs`: the pair gain of task j from partner i (Standley et al. 2020): the separate
  network's validation log loss on j minus that of head j of the network trained on the
  pair (i, j). Validation, so that the test split stays unseen by the choice.

Score of a partition, per seed: the sum over tasks j of the mean of S[i, j] over the
other tasks i of j's group; a task alone scores 0 (its separate network). This is
Standley et al.'s estimate of a task's gain in a group from its pair gains, and TAG's
group affinity.

Choice: among the candidate partitions into at most `max_networks` groups, the one with
the fewest networks whose mean score over seeds is within one standard error of the
best candidate's (the one-standard-error rule of Breiman et al. 1984): fewer networks
mean fewer parameters, and seeds say what the signal cannot tell apart. Ties in network
count go to the higher mean score.

Candidates: every set partition for up to EXHAUSTIVE_MAX_TASKS tasks (4,140 at K = 8);
beyond, the partitions on an agglomerative path: start from one group per task and merge,
step by step, the two groups whose merge scores best (K - 1 steps, O(K^3) scores).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

EXHAUSTIVE_MAX_TASKS = 8
Partition = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Choice:
    partition: Partition
    score: float  # mean over seeds of the chosen partition's score
    score_se: float  # its standard error over seeds (0 with one seed)
    best: Partition  # the best-scoring candidate before the one-standard-error rule
    method: str  # exhaustive | agglomerative
    evaluated: int  # partitions scored
    seconds: float


def set_partitions(tasks: int, max_blocks: int | None = None) -> Iterator[Partition]:
    """Every partition of range(tasks) into at most `max_blocks` groups, each once (restricted growth strings)."""
    limit = tasks if max_blocks is None else max_blocks

    def grow(k: int, blocks: list[list[int]]) -> Iterator[Partition]:
        if k == tasks:
            yield tuple(tuple(block) for block in blocks)
            return
        for block in blocks:
            block.append(k)
            yield from grow(k + 1, blocks)
            block.pop()
        if len(blocks) < limit:
            blocks.append([k])
            yield from grow(k + 1, blocks)
            blocks.pop()

    yield from grow(0, [])


def scores(signal: np.ndarray, partition: Partition) -> np.ndarray:
    """Per seed, the partition's score under `signal` [S, K, K] (NaN entries count as 0)."""
    s = np.nan_to_num(np.asarray(signal, dtype=float))
    total = np.zeros(s.shape[0])
    for group in partition:
        if len(group) < 2:
            continue
        block = s[:, list(group)][:, :, list(group)]
        off_diagonal = block.sum(axis=1) - np.diagonal(block, axis1=1, axis2=2)  # [S, |g|]: into each j
        total += off_diagonal.sum(axis=1) / (len(group) - 1)
    return total


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    n = len(values)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0


def _agglomerative(signal: np.ndarray, tasks: int) -> tuple[list[Partition], int]:
    partition: Partition = tuple((k,) for k in range(tasks))
    path, evaluated = [partition], 0
    while len(partition) > 1:
        merges = []
        for a in range(len(partition)):
            for b in range(a + 1, len(partition)):
                rest = [g for i, g in enumerate(partition) if i not in (a, b)]
                merges.append(tuple(sorted([*rest, tuple(sorted(partition[a] + partition[b]))])))
        evaluated += len(merges)
        partition = max(merges, key=lambda p: scores(signal, p).mean())
        path.append(partition)
    return path, evaluated


def choose(signal: np.ndarray, max_networks: int = 0) -> Choice:
    """The partition of the K tasks of `signal` [S, K, K] chosen as the module docstring says.

    `max_networks` caps the number of groups (0: no cap beyond K).
    """
    begin = time.perf_counter()
    signal = np.asarray(signal, dtype=float)
    tasks = signal.shape[-1]
    budget = min(max_networks or tasks, tasks)
    if tasks <= EXHAUSTIVE_MAX_TASKS:
        candidates, method = list(set_partitions(tasks, budget)), "exhaustive"
        evaluated = len(candidates)
    else:
        path, evaluated = _agglomerative(signal, tasks)
        candidates, method = [p for p in path if len(p) <= budget], "agglomerative"
    stats = [_mean_se(scores(signal, p)) for p in candidates]
    top = max(range(len(candidates)), key=lambda i: (stats[i][0], -len(candidates[i])))
    floor = stats[top][0] - stats[top][1]
    pick = min(
        (i for i in range(len(candidates)) if stats[i][0] >= floor),
        key=lambda i: (len(candidates[i]), -stats[i][0]),
    )
    return Choice(
        partition=candidates[pick],
        score=stats[pick][0],
        score_se=stats[pick][1],
        best=candidates[top],
        method=method,
        evaluated=evaluated,
        seconds=time.perf_counter() - begin,
    )


def pair_gains(pair_groups: Sequence[Sequence[int]], pair_val: np.ndarray, single_val: np.ndarray) -> np.ndarray:
    """S[seed, i, j] = single_val[seed, j] - pair_val of head j in the network of pair (i, j).

    `pair_val` [S, P, 2] follows `pair_groups` (P pairs); `single_val` is [S, K]. The
    diagonal is 0.
    """
    single_val = np.asarray(single_val, dtype=float)
    pair_val = np.asarray(pair_val, dtype=float)
    out = np.zeros((single_val.shape[0], single_val.shape[1], single_val.shape[1]))
    for p, (a, b) in enumerate(pair_groups):
        out[:, b, a] = single_val[:, a] - pair_val[:, p, 0]  # partner b helps a
        out[:, a, b] = single_val[:, b] - pair_val[:, p, 1]
    return out


def labels_of(partition: Partition, tasks: int) -> np.ndarray:
    """The group index of each task, [K] (for adjusted Rand indices)."""
    out = np.full(tasks, -1)
    for g, group in enumerate(partition):
        out[list(group)] = g
    return out
