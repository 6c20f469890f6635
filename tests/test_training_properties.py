"""What every report rests on: "?" never reaches training, each head's test metrics come from
its own best validation step, a non-finite loss is flagged, and fine-tuning starts afresh.

Each test compares trained values exactly (or to float tolerance) with what the property
says they must be, so a one-line bug in the trainer's masking, early stopping or
divergence flag changes the outcome.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from controls_helpers import static, tiny_data

from harness.config import DataConfig, TrainConfig
from harness.train.models import make_model
from harness.train.program import make_program
from harness.train.trainer import finish, hyperparams, lr_choice, train

# Every arm whose networks train on the pool's mask (all of them: mtl_zero reads it to zero-fill).
ARMS = ("mtl", "stl", "mtl_drop", "mtl_zero", "mtl_shuffled", "transfer_head", "transfer_full", "pairs")
MISSING = DataConfig(tasks=3, dim=6, pool=96, n_val=32, n_test=32, n_per_task=64, missing=0.3)
EVAL_EVERY, CHUNKS = 5, 2  # transfer arms: pretrain the first chunk, fine-tune the second


def finished(spec, arms: dict, y_test: np.ndarray) -> dict:
    """`finish` on states of one replicate and one learning rate (a grid axis of length 1 added)."""
    arms = {name: jax.tree.map(lambda a: np.asarray(a)[None], state) for name, state in arms.items()}
    choices = {arm.name: lr_choice(arm, arms[arm.name]) for arm in spec.arms}
    return finish(spec, arms, y_test, choices)


def leaves_equal(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


class Runner:
    """One compiled init and chunk for a Static, run on several datasets (one replicate, no replicate axis)."""

    def __init__(self, spec, lr: float = 1e-2, pretrain_steps: int = EVAL_EVERY):
        program = make_program(spec)
        self.init, self.chunk = jax.jit(program.init), jax.jit(program.chunk)
        one_lr = jax.tree.map(lambda a: a[0], hyperparams(TrainConfig(lr=lr)))  # the program runs one learning rate
        self.hp = {**one_lr, "pretrain_steps": jnp.int32(pretrain_steps)}

    def states(self, data, chunks: int) -> tuple[list[dict], list[dict]]:
        """The state after init and after each chunk, and each chunk's curves."""
        data = jax.tree.map(jnp.asarray, data)
        states, curves = [self.init(jax.random.PRNGKey(0), data, self.hp)], []
        for _ in range(chunks):
            state, curve = self.chunk(states[-1], data, self.hp, jnp.int32(EVAL_EVERY), jnp.bool_(False))
            states.append(state)
            curves.append(curve)
        return states, curves


@pytest.fixture(scope="module")
def missing_runs():
    spec = static(ARMS, eval_every=EVAL_EVERY)
    runner = Runner(spec)
    data = tiny_data(MISSING)
    hidden = data.m_train == 0
    partial = (data.m_train.max(axis=1, keepdims=True) > 0) & hidden.any(axis=1, keepdims=True)
    variants = {
        "data": data,
        "hidden flipped": data._replace(y_train=np.where(hidden, 1.0 - data.y_train, data.y_train)),
        "all flipped": data._replace(y_train=1.0 - data.y_train),
        "partial rows flipped": data._replace(y_train=np.where(partial, 1.0 - data.y_train, data.y_train)),
        "nan inputs": data._replace(x_train=np.full_like(data.x_train, np.nan)),
    }
    return spec, data, {name: runner.states(d, CHUNKS)[0] for name, d in variants.items()}


def test_the_pool_has_rows_with_labels_and_question_marks(missing_runs):
    _, data, _ = missing_runs
    labelled = data.m_train.max(axis=1) > 0
    assert np.any(labelled & (data.m_train.min(axis=1) == 0)), "the property needs partially labelled rows"


@pytest.mark.parametrize("arm", ARMS)
def test_labels_behind_a_question_mark_never_reach_training(missing_runs, arm):
    _, _, runs = missing_runs
    trained = {name: states[-1]["arms"][arm] for name, states in runs.items()}
    assert leaves_equal(trained["data"].params, trained["hidden flipped"].params)
    assert leaves_equal(trained["data"].best_logits, trained["hidden flipped"].best_logits)
    # The same flip on the visible labels does change training: the comparison can fail.
    assert not leaves_equal(trained["data"].params, trained["all flipped"].params)


@pytest.mark.parametrize("arm", ARMS)
def test_partially_labelled_rows_train_every_arm_but_mtl_drop(missing_runs, arm):
    """A row with a label and a "?" is a training row of every arm except mtl_drop (complete rows only)."""
    _, _, runs = missing_runs
    data, flipped = (runs[name][-1]["arms"][arm].params for name in ("data", "partial rows flipped"))
    assert leaves_equal(data, flipped) is (arm == "mtl_drop")


def test_mtl_zero_trains_every_question_mark_of_a_labelled_row_as_label_0(missing_runs):
    _, data, runs = missing_runs
    arms = runs["data"][0]["arms"]
    any_label = np.broadcast_to(data.m_train.max(axis=1, keepdims=True), data.m_train.shape)
    np.testing.assert_array_equal(arms["mtl_zero"].m[0], any_label)
    np.testing.assert_array_equal(arms["mtl_zero"].y[0], data.y_train * data.m_train)
    np.testing.assert_array_equal(arms["mtl"].m[0], data.m_train)
    assert np.any(np.asarray(arms["mtl_zero"].m[0]) != data.m_train)


@pytest.mark.parametrize("arm", ARMS)
def test_a_non_finite_loss_clears_the_finite_flag(missing_runs, arm):
    spec, data, runs = missing_runs
    for name, expected in (("data", True), ("nan inputs", False)):
        arms = runs[name][-1]["arms"]
        assert bool(arms[arm].finite) is expected, name
        assert bool(finished(spec, arms, data.y_test)[arm]["finite"]) is expected, name


# --- early stopping per head ------------------------------------------------------------

# Task 0 has 4 labels and overfits within a few steps; tasks 1 and 2 have 96 and improve longer.
LOPSIDED = DataConfig(tasks=3, dim=6, pool=96, n_val=64, n_test=32, n_target=4, n_other=96)


@pytest.fixture(scope="module")
def early_stopping_run():
    spec = static(("mtl", "stl"), eval_every=5)
    data = tiny_data(LOPSIDED)
    states, curves = Runner(spec, lr=5e-2).states(data, 10)
    return spec, data, states, curves


def test_heads_of_one_network_stop_at_different_steps(early_stopping_run):
    _, _, states, _ = early_stopping_run
    best = np.asarray(states[-1]["arms"]["mtl"].best_step)[0]
    assert len(set(best.tolist())) > 1, f"the test needs heads with different best steps, got {best}"
    assert best.min() < 50, "and one that stops before the last evaluation"


@pytest.mark.parametrize("arm", ["mtl", "stl"])
def test_each_head_reports_the_test_logits_of_its_own_best_validation_step(early_stopping_run, arm):
    spec, data, states, curves = early_stopping_run
    arm_spec = next(a for a in spec.arms if a.name == arm)
    model = make_model(spec.model, arm_spec.heads, arm_spec.width)

    def test_logits(state):  # [G, n_test, H], from the parameters after that evaluation's chunk
        return np.asarray(jax.vmap(model.apply, in_axes=(0, None))(state["arms"][arm].params, data.x_test))

    val = np.stack([np.asarray(c[arm]["val_bce"]) for c in curves])  # [evals, G, H]
    best = val.argmin(axis=0)  # the first evaluation with the lowest validation loss, per head
    logits = np.stack([test_logits(s) for s in states[1:]])  # [evals, G, n_test, H]
    g, h = np.indices(best.shape)
    expected = np.moveaxis(logits[best, g, :, h], -1, 1)  # [G, n_test, H]
    final = states[-1]["arms"][arm]
    np.testing.assert_array_equal(final.best_step, (best + 1) * spec.eval_every)
    np.testing.assert_allclose(final.best_logits, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(final.best_val, val.min(axis=0))
    # The reported metrics are those logits' (finish scores best_logits on the host).
    labels = np.moveaxis(data.y_test[:, np.asarray(arm_spec.groups)], 0, 1)  # [G, n_test, H]
    z = expected.astype(np.float64)
    want = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))) - labels * z).mean(1)
    np.testing.assert_allclose(finished(spec, states[-1]["arms"], data.y_test)[arm]["test_bce"], want, rtol=1e-5)


# --- transfer ---------------------------------------------------------------------------


def test_fine_tuning_starts_from_a_fresh_optimiser_state():
    """With no target label, fine-tuning has zero gradients: from a fresh optimiser state nothing
    moves, so every head's validation loss stays what pretraining left; momentum carried over
    from the source tasks would keep moving the trunk."""
    data = tiny_data(MISSING)
    data = data._replace(m_train=data.m_train * np.array([0.0, 1.0, 1.0], np.float32))  # task 0: the target
    stacked = jax.tree.map(lambda a: a[None], data)  # one replicate
    run = TrainConfig(steps=20, eval_every=5, lr=1e-2, pretrain_fraction=0.5)  # pretrain 10 steps, fine-tune 10
    spec = static(("transfer_full",), eval_every=run.eval_every)
    out = train(spec, jax.random.split(jax.random.PRNGKey(0), 1), stacked, hyperparams(run), run.steps)
    val = out.curves["transfer_full"]["val_bce"][0]  # [evals, G, H]
    steps = list(out.eval_steps)
    start = len(steps) - 1 - steps[::-1].index(10)  # fine-tuning's first evaluation: the restored parameters
    assert steps.count(10) == 2 and steps[-1] == 20
    assert not np.array_equal(val[0], val[start]), "pretraining moves the network"
    for later in range(start + 1, len(steps)):  # fine-tuning with no gradient moves nothing
        np.testing.assert_array_equal(val[later], val[start])
