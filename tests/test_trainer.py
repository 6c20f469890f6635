import jax
import numpy as np
import pytest

from harness.arms import ArmSpec
from harness.data import make_replicates, task_names
from harness.runs import results
from harness.runs.job import Problem, payload, replicate_keys, run_job, static_of
from harness.train import axes, program
from harness.train.metrics import evaluate
from harness.train.models import make_model
from harness.train.program import Static, make_program
from harness.train.trainer import TrainOutput, hyperparams, train


def _train(run, static=None):
    data = make_replicates(run.data, run.train.seeds)
    static = static or static_of(run, data.x_train.shape[2:])
    hp = hyperparams(run.train)
    return train(static, replicate_keys(run), data, hp, run.train.steps)


@pytest.mark.parametrize("missing", [0.0, 0.5])
def test_vmapped_separate_networks_equal_solo_runs(tiny, missing):
    """With "?" labels each task's labelled rows differ, so this also guards each network
    drawing its minibatches from its own rows (not network 0's)."""
    run = tiny(arms=["stl"], data={"missing": missing})
    together = _train(run)
    for k in range(run.data.tasks):
        solo_static = Static(
            arms=(ArmSpec("stl", ((k,),)),),
            model=run.model,
            optimizer=run.train.optimizer,
            batch_size=run.train.batch_size,
            eval_every=run.train.eval_every,
        )
        solo = _train(run, solo_static)
        for name in ("test_bce", "test_auroc", "val_bce", "best_step"):
            np.testing.assert_allclose(
                solo.metrics["stl"][name][:, 0], together.metrics["stl"][name][:, k], rtol=1e-5, atol=1e-6
            )
        np.testing.assert_allclose(
            solo.curves["stl"]["train_loss"][:, :, 0], together.curves["stl"]["train_loss"][:, :, k], rtol=1e-5
        )


def test_phases_not_a_multiple_of_eval_every_are_all_trained_and_evaluated(tiny):
    """Guards the last partial chunk of a phase: pretraining 15 of 40 steps (0.375) at eval_every=10
    evaluates at 15 (the end of pretraining, then the start of fine-tuning) and ends at 40."""
    run = tiny(arms=["stl", "transfer_full"], train={"steps": 40, "eval_every": 10, "pretrain_fraction": 0.375})
    result = run_job(run, progress=False)
    steps = result["curves"]["steps"]
    assert steps.count(15) == 2 and steps[-1] == 40 and 35 in steps
    assert len(result["curves"]["transfer_full"]["val_bce"][0]) == len(steps)
    assert (
        result["arms"]["transfer_full"]["pretrain_best_step"]
        and max(result["arms"]["transfer_full"]["pretrain_best_step"]) <= 15
    )


def test_training_lowers_the_loss_and_early_stopping_keeps_the_best_step(tiny):
    out = _train(tiny(train={"steps": 200, "eval_every": 20}))
    assert out.eval_steps == [0, 1, 2, 4, 8, 16, *range(20, 201, 20)]
    for arm in ("mtl", "stl"):
        losses = out.curves[arm]["train_loss"]  # [S, evals, G]; no step before the evaluation at step 0
        first_full = out.eval_steps.index(20)  # the mean over steps 16-19, as noisy as one batch, would not do
        assert np.all(np.isnan(losses[:, 0])) and np.all(losses[:, -1] < losses[:, first_full])
        val = out.curves[arm]["val_bce"]  # [S, evals, G, H]
        best = out.metrics[arm]["val_bce"]
        np.testing.assert_allclose(best, val.min(axis=1), rtol=1e-6)
        steps = np.asarray(out.eval_steps)[val.argmin(axis=1)]
        np.testing.assert_array_equal(out.metrics[arm]["best_step"], steps)


def test_a_network_that_training_only_makes_worse_is_stopped_at_step_0(tiny):
    run = tiny(train={"lr": 30.0})  # every Adam step moves each weight by about 30
    out = _train(run)
    data = make_replicates(run.data, run.train.seeds)
    static = static_of(run, data.x_train.shape[2:])
    init = jax.vmap(make_program(static).init, in_axes=(0, 0, None))
    state = init(replicate_keys(run), data, hyperparams(run.train))
    for spec in static.arms:
        assert np.all(out.metrics[spec.name]["best_step"] == 0)
        model = make_model(run.model, spec.heads)
        apply = jax.vmap(jax.vmap(model.apply, in_axes=(0, None)))  # over replicates, then networks
        logits = np.asarray(apply(state["arms"][spec.name].params, data.x_test))  # [S, G, n_test, H]
        labels = np.moveaxis(data.y_test[..., np.asarray(spec.groups)], -3, -2)
        for name, value in evaluate(logits, labels).items():
            np.testing.assert_allclose(out.metrics[spec.name][name], value, rtol=1e-5, err_msg=name)


def test_undertrained_flags_a_best_step_at_the_last_evaluation(tiny):
    run = tiny(arms=["stl"])  # 3 separate networks, 2 seeds
    static = static_of(run, (run.data.dim,))
    best_step = np.array([[40, 20, 0], [16, 40, 40]])[..., None]  # [S, G, H]
    zeros = np.zeros(best_step.shape)
    metrics = {"test_bce": zeros, "test_acc": zeros, "test_auroc": zeros, "val_bce": zeros}
    metrics["lr_index"] = np.zeros(best_step.shape, int)
    metrics["best_step"] = best_step
    curves = {"stl": {"val_bce": np.zeros((2, 8, 3, 1))}}  # [S, evals, G, H]
    out = TrainOutput({"stl": {**metrics, "finite": np.ones(2, bool)}}, curves, [0, 1, 2, 4, 8, 16, 20, 40], 0.0, 1.0)
    refs = {name: np.full((2, run.data.tasks), np.nan) for name in ("constant_bce", "bayes_bce", "bayes_auroc")}
    problem = Problem(None, task_names(run.data), refs, None, (run.data.dim,), 0.0)
    records = payload(run, problem, static, out)["records"]
    flags = {(r["seed"], r["task"]): r["undertrained"] for r in records}
    assert flags == {(0, 0): True, (0, 1): False, (0, 2): False, (1, 0): False, (1, 1): True, (1, 2): True}


def test_same_seed_identical_results_other_seed_different(tiny):
    def metrics(seed):
        result = run_job(tiny(train={"seed": seed}))
        return [(r["arm"], r["task"], r["seed"], r["test_bce"], r["test_auroc"]) for r in result["records"]]

    first, again, other = metrics(0), metrics(0), metrics(1)
    assert first == again
    assert first != other


def test_runs_differing_only_in_values_trace_once(tiny):
    shape = {"width": 7}  # a shape no other test compiles
    before = program.TRACES.copy()
    run_job(tiny(model=shape, data={"relatedness": 0.1, "n_per_task": 10}, train={"lr": 1e-3, "seed": 0}))
    run_job(tiny(model=shape, data={"relatedness": 0.9, "n_per_task": 30, "missing": 0.5}, train={"lr": 0.03}))
    traced = program.TRACES - before
    assert traced["chunk"] == 1
    assert traced["lower:init"] == 1 and traced["lower:chunk"] == 1


def mean_bce(result, arm):
    return np.mean([r["test_bce"] for r in result["records"] if r["arm"] == arm])


def learning_run(tiny, relatedness, width):
    return tiny(
        data={"tasks": 6, "dim": 16, "relatedness": relatedness, "n_per_task": 24, "pool": 64, "n_test": 500},
        model={"width": width, "depth": 1},
        train={"steps": 300, "eval_every": 20, "batch_size": 16, "seeds": 3, "lr": 3e-3},
    )


def test_sharing_helps_related_tasks_with_few_labels(tiny):
    result = run_job(learning_run(tiny, relatedness=0.95, width=32))
    assert mean_bce(result, "mtl") < mean_bce(result, "stl")


def test_sharing_does_not_help_unrelated_tasks_in_a_tiny_network(tiny):
    result = run_job(learning_run(tiny, relatedness=0.0, width=1))
    assert mean_bce(result, "mtl") >= mean_bce(result, "stl")


def test_result_payload_shape(tiny):
    result = run_job(tiny())
    assert result["status"] == "ok" and result["schema_version"] == results.SCHEMA_VERSION
    run = tiny()
    assert len(result["records"]) == run.train.seeds * run.data.tasks * 2
    assert result["arms"]["stl"]["networks"] == run.data.tasks
    assert result["timing"]["net_steps"] == (1 + run.data.tasks) * run.train.seeds * run.train.steps
    assert result["environment"]["platform"] == jax.devices()[0].platform
    assert result["curves"]["steps"] == [0, 1, 2, 4, 8, 16, 20, 40]
    assert {type(r["undertrained"]) for r in result["records"]} == {bool}
    assert np.array(result["curves"]["mtl"]["val_bce"]).shape == (2, 8, 1, 3)


def test_vmap_treats_a_unit_axis_like_jax_vmap():
    def f(w, x, scale):
        return {"y": (x @ w) * scale, "n": w.sum()}

    rng = np.random.default_rng(0)
    for size in (1, 3):
        w, x = rng.normal(size=(size, 4, 2)), rng.normal(size=(size, 5, 4))
        got = axes.vmap(f, in_axes=(0, 0, None))(w, x, 2.0)
        want = jax.vmap(f, in_axes=(0, 0, None))(w, x, 2.0)
        assert jax.tree.map(np.shape, got) == jax.tree.map(np.shape, want)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), got, want)


def test_an_unknown_optimizer_is_named():
    with pytest.raises(ValueError, match="^unknown optimizer 'rmsprop'$"):
        program.make_optimizer("rmsprop", {"lr": 0.1})


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("adam", lambda: program.optax.adam(0.1)),
        ("adamw", lambda: program.optax.adamw(0.1, weight_decay=0.5)),
        ("sgd", lambda: program.optax.sgd(0.1, momentum=0.9)),
    ],
)
def test_each_optimizer_takes_the_step_of_its_optax_namesake(name, reference):
    params, grads = {"w": np.array([1.0, -2.0])}, {"w": np.array([0.3, 0.4])}
    optimizer, expected = program.make_optimizer(name, {"lr": 0.1, "weight_decay": 0.5}), reference()
    ours, _ = optimizer.update(grads, optimizer.init(params), params)
    theirs, _ = expected.update(grads, expected.init(params), params)
    np.testing.assert_allclose(ours["w"], theirs["w"], rtol=1e-6)


def test_training_says_when_compiling_ends_before_its_first_evaluation(tiny):
    run = tiny(train={"steps": 40, "eval_every": 20})
    data = make_replicates(run.data, run.train.seeds)
    static, calls = static_of(run, data.x_train.shape[2:]), []
    train(static, replicate_keys(run), data, hyperparams(run.train), run.train.steps, calls.append,
          on_compiled=lambda: calls.append("compiled"))  # fmt: skip
    assert calls[0] == "compiled" and calls.count("compiled") == 1 and calls[1:] == list(range(1, len(calls)))


def test_a_bar_ticks_while_nothing_updates_it_and_stays_quiet_when_disabled():
    import time

    from harness.runs.runtime import ticking

    class Bar:
        def __init__(self, disable):
            self.disable, self.refreshed = disable, 0

        def refresh(self):
            self.refreshed += 1

    shown, quiet = Bar(False), Bar(True)
    for bar in (shown, quiet):
        with ticking(bar, every=0.01):
            time.sleep(0.2)
    assert shown.refreshed >= 3 and quiet.refreshed == 0


def test_the_equal_parameter_arm_matches_all_k_separate_networks_together(tiny):
    """Guards mtl_equal_params: wider than mtl, with the width whose parameter count is the
    closest to K separate networks' together (not to one network's), and trained at it."""
    from harness.runs.job import count_params, equal_params_width

    run = tiny(arms=["mtl", "mtl_equal_params", "stl"])
    shape, k = (run.data.dim,), run.data.tasks
    target = k * count_params(run, 1, None, shape)
    width = equal_params_width(run, shape)
    gap = abs(count_params(run, k, width, shape) - target)
    assert width > run.model.width
    assert all(gap <= abs(count_params(run, k, w, shape) - target) for w in range(1, 4 * width))
    arms = run_job(run, progress=False)["arms"]
    assert arms["mtl_equal_params"]["width"] == width and arms["mtl"]["width"] == run.model.width
    assert arms["mtl_equal_params"]["params_per_network"] == count_params(run, k, width, shape)
    assert abs(arms["mtl_equal_params"]["params_per_network"] - k * arms["stl"]["params_per_network"]) == gap
