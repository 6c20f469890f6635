"""One training step of the shared arm under PCGrad and uncertainty weighting, against a hand computation.

The batch is one input repeated, every label 1, and the heads are set so that the trunk
gradients of the three tasks conflict: task 0 with tasks 1 and 2, which agree with each
other. Then PCGrad's result depends on the order in which each task visits the others, the
sum of projected gradients differs from the plain sum, and with SGD (zero momentum at
the first step) the trainer's update is exactly -lr times the combined gradient.
"""

from __future__ import annotations

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from controls_helpers import static

from harness.config import TrainConfig
from harness.data.base import Dataset
from harness.train.gradients import is_head, pcgrad
from harness.train.losses import sigmoid_bce
from harness.train.models import make_model
from harness.train.program import make_program
from harness.train.trainer import hyperparams

TASKS, DIM, WIDTH, LR = 3, 4, 8, 0.1
X0 = np.full(DIM, 0.1, np.float32)
# Head kernel columns over the first hidden units: w0 . w1 < 0, w0 . w2 < 0, w1 . w2 > 0.
HEADS = np.zeros((WIDTH, TASKS), np.float32)
HEADS[:3, 0] = [1.0, 0.0, 0.0]
HEADS[:3, 1] = [-1.0, 1.0, 0.0]
HEADS[:3, 2] = [-1.0, -0.5, 1.0]
LOG_VAR = np.array([0.5, -1.0, 0.25], np.float32)


def one_input_data() -> Dataset:
    ones = np.ones((8, TASKS), np.float32)
    x = np.tile(X0, (8, 1))
    return Dataset(x, ones, ones, x[:4], ones[:4], x[:4], ones[:4])


def prepare(state: dict) -> dict:
    """Every hidden unit active (bias 1), the designed heads, and log variances away from 0."""
    s = state["arms"]["mtl"]
    params = jax.tree.map(lambda a: a, s.params)
    params["params"]["Dense_0"]["bias"] = jnp.ones_like(params["params"]["Dense_0"]["bias"])
    params["params"]["heads"]["kernel"] = jnp.asarray(HEADS)[None]
    params["params"]["heads"]["bias"] = jnp.zeros_like(params["params"]["heads"]["bias"])
    state["arms"]["mtl"] = s._replace(params=params, log_var=jnp.asarray(LOG_VAR)[None])
    return state


def one_step(weighting: str, steps: int = 1) -> tuple[dict, dict]:
    """The arm's state before and after `steps` SGD steps (one replicate, no replicate axis)."""
    spec = static(("mtl",), eval_every=1, tasks=TASKS, weighting=weighting)
    spec = dataclasses.replace(spec, optimizer="sgd", batch_size=4)
    program = make_program(spec)
    hp = jax.tree.map(lambda a: a[0], hyperparams(TrainConfig(lr=LR)))  # one learning rate
    data = jax.tree.map(jnp.asarray, one_input_data())
    before = prepare(jax.jit(program.init)(jax.random.PRNGKey(0), data, hp))
    after = before
    for _ in range(steps):
        after, _ = jax.jit(program.chunk)(after, data, hp, jnp.int32(1), jnp.bool_(False))
    return before["arms"]["mtl"], after["arms"]["mtl"]


def flat(params) -> tuple[np.ndarray, np.ndarray]:
    """(trunk, heads) parameters of the lone network, each flattened in tree order."""
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    trunk = [np.ravel(leaf[0]) for path, leaf in leaves if not is_head(path)]
    heads = [np.ravel(leaf[0]) for path, leaf in leaves if is_head(path)]
    return np.concatenate(trunk).astype(np.float64), np.concatenate(heads).astype(np.float64)


def task_gradients(params) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Per task: the loss on the repeated input and its (trunk, heads) gradient."""
    model = make_model(static(("mtl",)).model, TASKS)
    single = jax.tree.map(lambda a: a[0], params)

    def loss(p, k):
        return sigmoid_bce(model.apply(p, jnp.asarray(X0)[None])[0, k], 1.0)

    losses = np.array([float(loss(single, k)) for k in range(TASKS)])
    grads = [flat(jax.tree.map(lambda a: a[None], jax.grad(loss)(single, k))) for k in range(TASKS)]
    return losses, grads


def pcgrad_by_hand(g: np.ndarray, orders: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """Yu et al. (2020), Algorithm 1, task i visiting the other tasks in orders[i]."""
    total = np.zeros(g.shape[1])
    for i, order in enumerate(orders):
        gi = g[i].copy()
        for j in order:
            dot = gi @ g[j]
            if dot < 0:
                gi = gi - dot / (g[j] @ g[j]) * g[j]
        total += gi
    return total


def every_order() -> list[tuple[tuple[int, ...], ...]]:
    others = [list(itertools.permutations([j for j in range(TASKS) if j != i])) for i in range(TASKS)]
    return list(itertools.product(*others))


@pytest.fixture(scope="module")
def trunk_gradients() -> np.ndarray:
    before, _ = one_step("equal", steps=0)
    _, grads = task_gradients(before.params)
    return np.stack([trunk for trunk, _ in grads])


def test_the_tasks_conflict_and_pcgrad_depends_on_the_visiting_order(trunk_gradients):
    g = trunk_gradients
    dots = g @ g.T
    assert dots[0, 1] < 0 and dots[0, 2] < 0 and dots[1, 2] > 0
    results = {tuple(np.round(pcgrad_by_hand(g, orders), 6)) for orders in every_order()}
    assert len(results) > 1


def test_pcgrad_visits_the_other_tasks_in_random_order(trunk_gradients):
    g = trunk_gradients
    candidates = [pcgrad_by_hand(g, orders) for orders in every_order()]
    hit, combine = set(), jax.jit(pcgrad)
    for seed in range(12):
        got = np.asarray(combine(jnp.asarray(g, jnp.float32), jax.random.PRNGKey(seed)), np.float64)
        matches = [c for c, want in enumerate(candidates) if np.allclose(got, want, rtol=1e-4, atol=1e-6)]
        assert matches, "every result is PCGrad's for some visiting order"
        hit.add(tuple(np.round(candidates[matches[0]], 6)))
    assert len(hit) > 1, "more than one visiting order occurs"


def test_one_pcgrad_step_of_the_trainer_is_sgd_on_the_projected_gradients():
    before, after = one_step("pcgrad")
    _, grads = task_gradients(before.params)
    g = np.stack([trunk for trunk, _ in grads])
    (trunk0, heads0), (trunk1, heads1) = flat(before.params), flat(after.params)
    # Each head's gradient comes from its own task alone: plain sums there.
    np.testing.assert_allclose(heads0 - heads1, LR * sum(h for _, h in grads), rtol=1e-4, atol=1e-7)
    moved = trunk0 - trunk1
    candidates = [LR * pcgrad_by_hand(g, orders) for orders in every_order()]
    assert any(np.allclose(moved, c, rtol=1e-3, atol=1e-7) for c in candidates), "a PCGrad step"
    assert not np.allclose(moved, LR * g.sum(0), rtol=1e-3, atol=1e-7), "not the plain sum"
    np.testing.assert_array_equal(after.log_var, before.log_var)


def test_one_uncertainty_weighted_step_of_the_trainer_matches_kendall_by_hand():
    before, after = one_step("uncertainty")
    losses, grads = task_gradients(before.params)
    weights = np.exp(-LOG_VAR.astype(np.float64))
    (trunk0, heads0), (trunk1, heads1) = flat(before.params), flat(after.params)
    want_trunk = LR * sum(w * t for w, (t, _) in zip(weights, grads, strict=True))
    want_heads = LR * sum(w * h for w, (_, h) in zip(weights, grads, strict=True))
    np.testing.assert_allclose(trunk0 - trunk1, want_trunk, rtol=1e-3, atol=1e-7)
    np.testing.assert_allclose(heads0 - heads1, want_heads, rtol=1e-3, atol=1e-7)
    # d/ds_k [exp(-s_k) L_k + s_k / 2] = -exp(-s_k) L_k + 1/2
    np.testing.assert_allclose(
        np.asarray(before.log_var - after.log_var)[0], LR * (-weights * losses + 0.5), rtol=1e-4, atol=1e-7
    )
