"""harness.runs.job's host side: from a TrainOutput to the result.json payload, without training.

The trainer's output here is constructed, so each number the payload must carry (which
head is a result, which rows a diverged run keeps, the undertrained flag, the chosen
learning rate, each arm's description and parameter count, the timing and the grouping
search's record) is known exactly.
"""

from __future__ import annotations

from datetime import datetime

import jax
import numpy as np
import pytest
from conftest import tiny_run

from harness.arms import ARMS
from harness.config import to_dict
from harness.runs import grouping, job, results
from harness.runs.runtime import environment
from harness.train.metrics import DIVERGED_BCE
from harness.train.trainer import TrainOutput

SEEDS, TASKS, TARGET = 2, 3, 1
EVALS = [0, 20, 40]
NAMES = ["a", "b", "c"]


def run_of(arms, **train):
    return tiny_run(arms=arms, data={"target": TARGET}, train={"lr_grid": [0.01, 0.001], **train})


def problem() -> job.Problem:
    refs = {
        "constant_bce": np.full((SEEDS, TASKS), 0.69),
        "bayes_bce": np.full((SEEDS, TASKS), 0.3),
        "bayes_auroc": np.full((SEEDS, TASKS), 0.9),
    }
    return job.Problem(None, NAMES, refs, None, (8,), 0.25)


def output(static, best_step: int = 20, lr_index: int = 1) -> TrainOutput:
    """Head h of network g of an arm: test log loss 0.4 + 0.01 h + 0.001 g + 0.0001 seed (as
    test_bce and val_bce, 1 - that as test_auroc), at `best_step`, with grid value `lr_index`."""
    metrics, curves = {}, {}
    for spec in static.arms:
        shape = (SEEDS, spec.networks, spec.heads)
        s, g, h = np.meshgrid(*map(np.arange, shape), indexing="ij")
        loss = 0.4 + 0.01 * h + 0.001 * g + 0.0001 * s
        metrics[spec.name] = {
            "test_bce": loss, "test_acc": 1 - loss / 2, "test_auroc": 1 - loss, "val_bce": loss,
            "best_step": np.full(shape, best_step), "lr_index": np.full(shape, lr_index),
            "finite": np.ones(SEEDS, bool),
        }  # fmt: skip
        if spec.transfer:
            metrics[spec.name]["pretrain_best_step"] = np.full((SEEDS, spec.networks), 10)
        val = np.broadcast_to(loss[:, None], (SEEDS, len(EVALS), *shape[1:])).copy()
        curves[spec.name] = {"val_bce": val, "train_loss": val[..., 0]}
    return TrainOutput(metrics, curves, EVALS, 3.0, 2.0)


def test_the_payload_reports_each_arms_heads_with_undertrained_lr_and_references():
    """Guards: every head of mtl and stl a record of its own task, the target-only arm's head 0
    alone as the target task, undertrained = stopped at the last evaluation, the lr the grid
    value its index names, and the references and learned fractions per record."""
    run = run_of(["mtl", "stl", "mtl_shuffled"])
    static = job.static_of(run, (8,))
    out = job.payload(run, problem(), static, output(static, best_step=40))
    assert out["status"] == "ok" and out["diverged"] == []
    by_arm = {arm: [r for r in out["records"] if r["arm"] == arm] for arm in run.arms}
    assert [(r["task"], r["network"], r["seed"]) for r in by_arm["mtl"]] == [
        (t, 0, s) for s in (0, 1) for t in (0, 1, 2)
    ]
    assert [(r["task"], r["network"]) for r in by_arm["stl"]] == [(t, t) for _ in (0, 1) for t in (0, 1, 2)]
    assert [(r["task"], r["network"]) for r in by_arm["mtl_shuffled"]] == [(TARGET, 0)] * SEEDS
    shuffled = by_arm["mtl_shuffled"][1]
    assert shuffled["test_bce"] == pytest.approx(0.4001)  # head 0, seed 1: the target's own head
    mtl = by_arm["mtl"][5]  # seed 1, task 2
    assert mtl["test_bce"] == pytest.approx(0.4201) and mtl["test_auroc"] == pytest.approx(0.5799)
    assert all(r["undertrained"] is True and r["best_step"] == 40 for r in out["records"])
    assert all(r["lr"] == 0.001 for r in out["records"])
    assert mtl["constant_bce"] == 0.69 and mtl["bayes_bce"] == 0.3
    assert mtl["learned_bce"] == pytest.approx((0.4201 - 0.69) / (0.3 - 0.69))
    assert out["references"] == {name: value.tolist() for name, value in problem().references.items()}
    assert out["task_names"] == NAMES
    assert out["config_hash"] == job.config_hash(run)
    stopped_early = job.payload(run, problem(), static, output(static, best_step=20, lr_index=0))["records"]
    assert all(r["undertrained"] is False and r["lr"] == 0.01 for r in stopped_early)


def test_the_payload_describes_each_arm_its_width_parameters_weighting_and_groups():
    run = run_of(["mtl", "stl", "mtl_equal_params", "transfer_full"], weighting="uncertainty")
    static = job.static_of(run, (8,))
    arms = job.payload(run, problem(), static, output(static))["arms"]
    wide = job.equal_params_width(run, (8,))
    assert arms["mtl"] == {
        "description": ARMS["mtl"].description, "networks": 1, "heads": 3, "groups": [[0, 1, 2]],
        "width": 8, "params_per_network": job.count_params(run, 3, None, (8,)), "weighting": "uncertainty",
        "lr_grid": [0.01, 0.001],
    }  # fmt: skip
    assert arms["stl"]["groups"] == [[0], [1], [2]] and arms["stl"]["weighting"] == "equal"
    assert arms["stl"]["params_per_network"] == job.count_params(run, 1, None, (8,))
    assert arms["mtl_equal_params"]["width"] == wide != 8
    assert arms["mtl_equal_params"]["params_per_network"] == job.count_params(run, 3, wide, (8,))
    transfer = arms["transfer_full"]
    assert transfer["groups"] == [[TARGET, 0, 2]] and transfer["weighting"] == "equal"
    assert (transfer["pretrain_steps"], transfer["finetune_steps"]) == (20, 20)
    assert transfer["pretrain_best_step"] == [10, 10]
    assert "pretrain_steps" not in arms["mtl"]


def test_a_diverged_seed_fails_the_job_and_keeps_no_records():
    """Guards: an exploded last validation loss (the network training ended with) or a non-finite
    loss marks the seed diverged; a target-only arm is judged on its target head alone."""
    run = run_of(["mtl", "stl", "mtl_shuffled"])
    static = job.static_of(run, (8,))
    out = output(static)
    out.curves["mtl_shuffled"]["val_bce"][:, -1, 0, 1] = 100.0  # a source head: not a result
    assert job.payload(run, problem(), static, out)["status"] == "ok"
    out.curves["stl"]["val_bce"][1, -1, 2, 0] = 100.0
    out.metrics["mtl"]["finite"] = np.array([False, True])
    result = job.payload(run, problem(), static, out)
    assert result["status"] == "diverged" and result["records"] == []
    assert [(d["arm"], d["seed"]) for d in result["diverged"]] == [("mtl", 0), ("stl", 1)]
    assert result["diverged"][0]["reason"] == "non-finite training loss"
    assert result["diverged"][1]["reason"] == f"validation log loss 100 above {DIVERGED_BCE:.3f} (10 ln 2)"
    out.curves["stl"]["val_bce"][1, -1, 2, 0] = 0.5
    out.metrics["mtl_shuffled"]["val_bce"][0, 0, 0] = 100.0  # its target head, at the best step
    out.metrics["mtl"]["finite"] = np.array([True, True])
    assert job.payload(run, problem(), static, out)["diverged"] == [
        {"arm": "mtl_shuffled", "seed": 0, "reason": "validation log loss 100 above 6.931 (10 ln 2)"}
    ]


def test_the_payload_carries_curves_affinity_and_timing():
    run = run_of(["mtl", "stl"], affinity_every=5)
    static = job.static_of(run, (8,))
    out = output(static)
    z = np.arange(SEEDS * TASKS * TASKS, dtype=float).reshape(SEEDS, 1, TASKS, TASKS)
    out.metrics["mtl"]["affinity"] = z
    result = job.payload(run, problem(), static, out, fused_jobs=4)
    assert result["affinity"] == {"arm": "mtl", "every": 5, "matrix": z[:, 0].tolist()}
    assert "affinity" not in result["records"][0]
    assert result["curves"]["steps"] == EVALS
    assert result["curves"]["stl"]["val_bce"] == out.curves["stl"]["val_bce"].tolist()
    net_steps = (1 + TASKS) * SEEDS * run.train.steps
    assert result["timing"] == {
        "data_seconds": 0.25, "compile_seconds": 3.0, "train_seconds": 2.0, "net_steps": net_steps,
        "net_steps_per_second": net_steps / 2.0, "fused_jobs": 4,
    }  # fmt: skip
    alone = job.payload(run, problem(), static, output(static))
    assert alone["affinity"] is None and alone["timing"]["fused_jobs"] == 1


def test_a_failed_job_writes_its_config_and_error_and_nothing_else():
    run = run_of(["mtl", "stl"])
    failed = job.failed_payload(run, "ValueError: no")
    assert (failed["status"], failed["error"], failed["records"], failed["arms"]) == (
        "failed",
        "ValueError: no",
        [],
        {},
    )
    assert failed["config_hash"] == job.config_hash(run)
    assert failed["task_names"] == job.task_names(run.data)
    assert failed["features"] is None and failed["curves"] == {} and failed["timing"] == {}
    assert failed["diverged"] == [] and failed["schema_version"] == results.SCHEMA_VERSION
    assert failed["config"] == to_dict(run) and failed["environment"] == environment()
    assert datetime.fromisoformat(failed["created"]).tzinfo is not None
    ok = job.payload(run, problem(), job.static_of(run, (8,)), output(job.static_of(run, (8,))))
    assert set(failed) == set(ok) - {"references", "affinity"}  # readers find every field of a job's result
    assert ok["config"] == to_dict(run) and ok["environment"] == environment()
    assert ok["schema_version"] == results.SCHEMA_VERSION and ok["error"] is None


def test_replicate_keys_and_the_learning_rate_target():
    run = run_of(["mtl", "stl"], seed=7)
    keys = job.replicate_keys(run)
    expected = [jax.random.fold_in(jax.random.PRNGKey(7), r) for r in range(SEEDS)]
    np.testing.assert_array_equal(np.asarray(keys), np.asarray(expected))
    assert job.lr_target(run) == -1
    assert job.lr_target(run_of(["mtl", "stl"], lr_objective="target")) == TARGET


def test_the_equal_parameter_width_is_the_closest_to_k_separate_networks():
    """Guards the equal-parameter arm's size: no width's count is closer to K separate networks'."""
    for width, tasks in ((8, 3), (16, 5)):
        run = tiny_run(model={"width": width}, data={"tasks": tasks})
        target = tasks * job.count_params(run, 1, None, (8,))
        wide = job.equal_params_width(run, (8,))
        gaps = {w: abs(job.count_params(run, tasks, w, (8,)) - target) for w in range(1, 8 * width)}
        assert gaps[wide] == min(gaps.values())
        assert wide > width


def test_a_partition_arm_is_searched_only_without_train_groups():
    assert job.searches_partition(run_of(["mtl", "stl", "groups"]))
    assert not job.searches_partition(run_of(["mtl", "stl", "groups"], groups=[[0, 1], [2]]))
    assert not job.searches_partition(run_of(["mtl", "stl"]))
    assert job.partition_arm_names(run_of(["mtl", "groups"])) == ["groups"]


def test_the_signal_program_adds_the_signal_arms_and_measures_affinity():
    run = run_of(["stl", "groups"])
    affinity = job.signal_static(run, (8,))
    assert [spec.name for spec in affinity.arms] == ["stl", "mtl"]
    assert affinity.affinity_every == run.train.eval_every
    measured = job.signal_static(run_of(["mtl", "stl", "groups"], affinity_every=5), (8,))
    assert [spec.name for spec in measured.arms] == ["mtl", "stl"] and measured.affinity_every == 5
    pairs = job.signal_static(run_of(["mtl", "groups"], grouping_signal="pairs"), (8,))
    assert [spec.name for spec in pairs.arms] == ["mtl", "stl", "pairs"]
    assert pairs.affinity_every == 0


def test_the_pairs_search_chooses_from_validation_pair_gains_and_records_how():
    run = run_of(["stl", "groups"], grouping_signal="pairs", max_networks=2)
    static = job.signal_static(run, (8,))
    out = output(static)
    pairs = next(spec for spec in static.arms if spec.name == "pairs")
    out.metrics["pairs"]["val_bce"][:] = 0.5
    out.metrics["pairs"]["val_bce"][:, 0] = 0.3  # tasks 0 and 1 help each other
    search = job.search_groups(run, static, out)
    signal = grouping.pair_gains(pairs.groups, out.metrics["pairs"]["val_bce"], out.metrics["stl"]["val_bce"][..., 0])
    choice = grouping.choose(signal, 2)
    assert search["partition"] == choice.partition == ((0, 1), (2,))
    record = search["record"]
    assert record["signal"] == "pairs" and record["signal_arms"] == ["stl", "pairs"]
    assert record["signal_net_steps"] == (TASKS + 3) * SEEDS * run.train.steps
    assert record["max_networks"] == 2 and record["method"] == "exhaustive"
    assert record["score"] == choice.score and record["best"] == [list(g) for g in choice.best]
    assert record["per_seed"] == [[[0, 1], [2]]] * SEEDS
    assert (record["signal_compile_seconds"], record["signal_train_seconds"]) == (3.0, 2.0)


def test_the_affinity_search_reads_mtls_affinity_per_seed_and_the_cap_binds():
    """Guards the affinity signal's source (arm mtl's measured matrix), each seed's own choice
    from its own seed alone, and train.max_networks passed to the search."""
    run = run_of(["mtl", "stl", "groups"])
    static = job.signal_static(run, (8,))
    out = output(static)
    z = np.full((SEEDS, 1, TASKS, TASKS), -1.0)
    z[0, 0, [0, 1], [1, 0]] = 1.0  # seed 0: tasks 0 and 1 help each other
    z[1, 0, [0, 2], [2, 0]] = 3.0  # seed 1: tasks 0 and 2, more strongly
    out.metrics["mtl"]["affinity"] = z
    search = job.search_groups(run, static, out)
    record = search["record"]
    assert record["per_seed"] == [[[0, 1], [2]], [[0, 2], [1]]]
    assert search["partition"] == ((0, 1, 2),)  # seeds disagree: the one-standard-error rule
    assert record["best"] == [[0, 2], [1]]
    assert (record["signal"], record["signal_arms"], record["max_networks"]) == ("affinity", ["mtl"], 0)
    assert record["signal_net_steps"] == SEEDS * run.train.steps  # mtl's one network
    z[1] = z[0]  # both seeds: tasks 0 and 1 together, task 2 alone
    assert job.search_groups(run, static, out)["partition"] == ((0, 1), (2,))
    capped = job.search_groups(run_of(["mtl", "stl", "groups"], max_networks=1), static, out)
    assert capped["partition"] == ((0, 1, 2),)
    assert capped["record"]["per_seed"] == [[[0, 1, 2]]] * SEEDS


class FakeBar:
    """What fit does with its progress bar: the bar's arguments, its descriptions and updates."""

    def __init__(self, show, **kwargs):
        self.show, self.kwargs, self.descriptions, self.updates, self.disable = show, kwargs, [], [], True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def set_description(self, desc):
        self.descriptions.append(desc)

    def update(self, n):
        self.updates.append(n)


def test_fit_trains_the_static_on_the_data_and_reports_each_evaluation_to_its_bar(monkeypatch):
    """Guards the progress bar's total (one update per evaluation), its text ("compiling" until
    the programs are compiled), and what reaches the trainer: keys, steps, lr target, live curves."""
    run = run_of(["mtl", "stl"], lr_objective="target")
    static = job.static_of(run, (8,))
    bars, seen = [], {}
    monkeypatch.setattr(job, "progress_bar", lambda show, **kw: bars.append(FakeBar(show, **kw)) or bars[-1])

    def train(static_, keys, data, hp, steps, on_chunk, lr_target, on_compiled, on_curves):
        seen.update(static=static_, keys=keys, data=data, steps=steps, lr_target=lr_target, on_curves=on_curves)
        on_compiled()
        for chunk in range(len(job.evaluation_steps(static_, steps))):
            on_chunk(chunk)
        return "trained"

    monkeypatch.setattr(job, "train", train)
    assert job.fit(run, static, "DATA", "job 1", True) == "trained"
    (bar,) = bars
    chunks = len(job.evaluation_steps(static, run.train.steps, run.train.pretrain_steps))
    assert bar.show is True
    assert bar.kwargs == {"total": chunks, "desc": "job 1: compiling", "unit": "eval", "leave": False}
    assert bar.descriptions == ["job 1"] and bar.updates == [1] * chunks
    assert seen["static"] is static and seen["data"] == "DATA" and seen["steps"] == run.train.steps
    assert seen["lr_target"] == TARGET and seen["on_curves"] is None
    np.testing.assert_array_equal(np.asarray(seen["keys"]), np.asarray(job.replicate_keys(run)))
    monkeypatch.setattr(job.live, "attached", lambda: True)
    job.fit(run, static, "DATA", "job 1", False)
    assert seen["on_curves"] is job.live.publish and bars[-1].show is False


def test_run_job_searches_the_groups_then_trains_them_on_the_same_data(monkeypatch):
    """Guards the search path: the signal program (the other arms and mtl, with affinity), the
    partition chosen from its output, a second program of the partition arm on the same data,
    and one payload of both programs with the search's record."""
    calls = []

    def fit(run_, static, data, desc, show):
        assert run_ is run
        calls.append((static, data, desc, show))
        out = output(static)
        if "mtl" in out.metrics:
            z = np.full((SEEDS, 1, TASKS, TASKS), -1.0)
            z[:, 0, [0, 1], [1, 0]] = 1.0
            out.metrics["mtl"]["affinity"] = z
        return out

    run = run_of(["stl", "mtl_equal_params", "groups"])
    monkeypatch.setattr(job, "fit", fit)
    result = job.run_job(run, progress=True, label="job 3")
    (first, data, desc, show), (second, data2, desc2, show2) = calls
    assert [spec.name for spec in first.arms] == ["stl", "mtl_equal_params", "mtl"]
    assert first.arms[1].width == job.equal_params_width(run, (run.data.dim,))
    assert first.affinity_every == run.train.eval_every
    assert (desc, desc2, show, show2) == ("job 3: grouping signal", "job 3: groups", True, True)
    assert data2 is data and data.x_train.shape[:2] == (SEEDS, run.data.pool)
    assert second.arms == (job.make_arm("groups", TASKS, partition=((0, 1), (2,))),)
    assert result["grouping"]["per_seed"] == [[[0, 1], [2]]] * SEEDS
    assert result["arms"]["groups"]["groups"] == [[0, 1], [2]]
    assert result["arms"]["groups"]["partition"] == [[f"task{k}" for k in g] for g in ((0, 1), (2,))]
    assert {r["arm"] for r in result["records"]} == {"stl", "mtl_equal_params", "mtl", "groups"}
    assert (result["timing"]["compile_seconds"], result["timing"]["train_seconds"]) == (6.0, 4.0)
    assert set(result["curves"]) == {"steps", "stl", "mtl_equal_params", "mtl", "groups"}
    assert set(result["grouping"]) == {
        "signal", "signal_arms", "signal_net_steps", "signal_compile_seconds", "signal_train_seconds", "method",
        "max_networks", "score", "score_se", "best", "partitions_evaluated", "search_seconds", "per_seed",
    }  # fmt: skip
    job.run_job(run)  # progress from runtime.progress (off in tests), label "train"
    assert calls[-1][2:] == ("train: groups", False)


def test_run_job_without_a_search_trains_one_program_of_the_configured_arms(monkeypatch):
    calls = []
    run = run_of(["mtl", "stl", "mtl_equal_params"])

    def fit(run_, static, data, desc, show):
        assert run_ is run
        calls.append((static, desc, show))
        return output(static)

    monkeypatch.setattr(job, "fit", fit)
    result = job.run_job(run, label="job 0")
    ((static, desc, show),) = calls
    assert [spec.name for spec in static.arms] == ["mtl", "stl", "mtl_equal_params"] and (desc, show) == (
        "job 0",
        False,
    )
    assert static.arms[2].width == job.equal_params_width(run, (run.data.dim,))
    job.run_job(run)
    assert calls[-1][1] == "train"
    assert result["status"] == "ok" and "grouping" not in result


def test_the_problem_is_the_jobs_replicated_data_names_references_and_input_shape():
    run = run_of(["mtl", "stl"])
    p = job.problem_of(run)
    assert p.data.x_train.shape == (SEEDS, run.data.pool, run.data.dim)
    assert p.input_shape == (run.data.dim,) and p.task_names == job.task_names(run.data)
    assert p.features == job.features_used(run.data)
    assert 0 <= p.seconds < 60
    assert p.references["constant_bce"].shape == (SEEDS, TASKS)


def test_the_equal_parameter_width_counts_the_arms_own_kind_of_sharing():
    run = tiny_run(model={"width": 8})
    for sharing in ("mmoe", "cross_stitch"):
        target = run.data.tasks * job.count_params(run, 1, None, (8,))
        wide = job.equal_params_width(run, (8,), sharing)
        gaps = {w: abs(job.count_params(run, run.data.tasks, w, (8,), sharing) - target) for w in range(1, 64)}
        assert gaps[wide] == min(gaps.values()), sharing
    assert job.equal_params_width(run, (8,), "mmoe") != job.equal_params_width(run, (8,))


def test_the_static_carries_every_training_choice_and_the_named_groups():
    run = run_of(["mtl", "mmoe", "mmoe_equal_params", "groups"], groups=[["task0", "task2"], ["task1"]],
                 eval_schedule="linear", weighting="uncertainty", sampling="per_task")  # fmt: skip
    static = job.static_of(run, (8,))
    assert (static.eval_schedule, static.weighting, static.sampling) == ("linear", "uncertainty", "per_task")
    assert static.affinity_until == run.train.affinity_steps
    assert static.arms[3].groups == ((0, 2), (1, -1))
    assert [spec.width for spec in static.arms[:2]] == [None, None]
    assert static.arms[2].width == job.equal_params_width(run, (8,), "mmoe") != job.equal_params_width(run, (8,))
    arms = job.payload(run, problem(), static, output(static))["arms"]
    assert arms["mmoe"]["params_per_network"] == job.count_params(run, TASKS, None, (8,), "mmoe")


def test_divergence_is_judged_per_seed_and_per_head_where_training_ended():
    """Guards the join of best-step and last losses per seed (not across seeds) and that every
    head of a network that reports them all is judged."""
    run = run_of(["mtl", "stl"])
    static = job.static_of(run, (8,))
    out = output(static)
    out.curves["stl"]["val_bce"][0, -1, 1, 0] = 100.0
    out.curves["mtl"]["val_bce"][1, -1, 0, 2] = 100.0
    assert [(d["arm"], d["seed"]) for d in job.payload(run, problem(), static, out)["diverged"]] == [
        ("mtl", 1),
        ("stl", 0),
    ]
