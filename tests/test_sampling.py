"""train.sampling: per_task gives every head of a shared network the per-step batch its separate network gets."""

import jax
import jax.numpy as jnp
import numpy as np

from harness.data import make_dataset
from harness.runs.job import problem_of, run_job, static_of
from harness.train.program import ArmStep, arm_parts, init_arm, make_optimizer
from harness.train.trainer import hyperparams


def lopsided(tiny, sampling):
    """A target (task 0) with 4 labels and two others with 200 each, on rows of their own."""
    return tiny(
        arms=["mtl", "stl"],
        data={"labelling": "disjoint", "pool": 404, "n_target": 4, "n_other": 200},
        train={"sampling": sampling, "batch_size": 16},
    )


def rows_per_head(run, arm_name):
    """Labelled rows each head of the arm's networks trains on in one step's batch: [G, H]."""
    static = static_of(run, problem_of(run).input_shape)
    spec = next(spec for spec in static.arms if spec.name == arm_name)
    data = jax.tree.map(jnp.asarray, make_dataset(run.data, run.data.seed))
    hp = jax.tree.map(lambda a: a[0], hyperparams(run.train))
    s = init_arm(static, spec, jax.random.PRNGKey(0), data, hp)
    arm = ArmStep(arm_parts(static, spec), s, data, make_optimizer(static.optimizer, hp), hp, "equal", None)
    u = jax.random.uniform(jax.random.PRNGKey(1), (spec.networks, static.slots(spec), static.batch_size))
    _, _, m = arm.batch(u, 0)
    return np.asarray(m.sum(1))


def test_per_task_gives_the_starved_target_head_as_many_rows_per_step_as_its_separate_network(tiny):
    # Guards the fair protocol of lopsided studies: under union sampling the target's head
    # sees its share of the union (4 of 404 rows), under per_task a full batch, as stl does.
    run = lopsided(tiny, "per_task")
    shared, separate = rows_per_head(run, "mtl"), rows_per_head(run, "stl")
    np.testing.assert_array_equal(separate[:, 0], [16, 16, 16])
    np.testing.assert_array_equal(shared[0], separate[:, 0])
    union = rows_per_head(lopsided(tiny, "union"), "mtl")
    assert union[0, 0] < 4 and union.sum() == 16  # the handicap per_task removes


def test_per_task_loss_is_the_sum_of_each_tasks_mean_over_its_own_batch(tiny):
    run = lopsided(tiny, "per_task")
    static = static_of(run, problem_of(run).input_shape)
    spec = static.arms[0]
    data = jax.tree.map(jnp.asarray, make_dataset(run.data, run.data.seed))
    hp = jax.tree.map(lambda a: a[0], hyperparams(run.train))
    s = init_arm(static, spec, jax.random.PRNGKey(0), data, hp)
    arm = ArmStep(arm_parts(static, spec), s, data, make_optimizer(static.optimizer, hp), hp, "equal", None)
    u = jax.random.uniform(jax.random.PRNGKey(1), (1, 3, 16))
    x, y, m = arm.drop(arm.batch(u, 0))
    params = jax.tree.map(lambda a: a[0], s.params)
    losses = np.asarray(arm.task_losses(params, x, y, m))
    logits = np.asarray(arm.parts.model.apply(params, x))
    for k in range(3):  # head k's own 16 rows, their mean loss
        z, label = logits[16 * k : 16 * (k + 1), k], np.asarray(y)[16 * k : 16 * (k + 1), k]
        want = np.mean(np.maximum(z, 0) - z * label + np.log1p(np.exp(-np.abs(z))))
        np.testing.assert_allclose(losses[k], want, rtol=1e-5)


def test_separate_networks_train_identically_under_either_sampling(tiny):
    # One head per network: per_task draws the same rows as union, bit for bit.
    results = [run_job(lopsided(tiny, sampling)) for sampling in ("union", "per_task")]
    stl = [[r for r in result["records"] if r["arm"] == "stl"] for result in results]
    assert [r["test_bce"] for r in stl[0]] == [r["test_bce"] for r in stl[1]]
    mtl = [[r["test_bce"] for r in result["records"] if r["arm"] == "mtl"] for result in results]
    assert mtl[0] != mtl[1]
    assert all(result["status"] == "ok" for result in results)
