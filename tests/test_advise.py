"""The advisor: recovers planted groups on a table, writes advice.json, refuses bad input."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sweeps import ROOT

from harness.analysis import advice
from harness.config import RunConfig, validate
from harness.runs.job import run_job

LABELS = ["a1", "a2", "a3", "b1", "b2"]


def planted_table(path, rows=600, seed=0):
    """Tasks a* read one latent feature, tasks b* another, unrelated one; x2 and x5 are noise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, 6))
    latent = {"a": x[:, 0] + x[:, 1], "b": x[:, 3] - x[:, 4]}
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(6)])
    for name in LABELS:
        frame[name] = (latent[name[0]] + 0.3 * rng.standard_normal(rows) > 0).astype(int)
    frame.to_csv(path, index=False)
    return path


def table_run(path, **train):
    run = RunConfig(arms=["mtl", "stl", "groups"])
    d = run.data
    d.suite, d.path, d.labels, d.tasks, d.n_per_task = "table", str(path), LABELS, 0, 0
    run.model.width, run.model.depth = 16, 1
    t = run.train
    t.steps, t.eval_every, t.batch_size, t.seeds, t.lr = 200, 20, 32, 3, 1e-2
    for key, value in train.items():
        setattr(t, key, value)
    run.runtime.progress = False
    validate(run)
    return run


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    path = planted_table(tmp_path_factory.mktemp("table") / "planted.csv")
    return path, run_job(table_run(path))


def test_the_search_recovers_two_planted_groups(planted):
    _, result = planted
    assert result["grouping"]["signal"] == "affinity"
    assert result["arms"]["groups"]["partition"] == [["a1", "a2", "a3"], ["b1", "b2"]]


def test_advice_schema(planted):
    _, result = planted
    out = advice.advise(result)
    assert out["recommendation"] in ("share", "separate", "groups")
    assert set(out["options"]) == {"share", "separate", "groups"}
    assert out["options"]["groups"]["groups"] == [["a1", "a2", "a3"], ["b1", "b2"]]
    assert out["options"]["share"]["groups"] == [LABELS] and out["options"]["separate"]["networks"] == 5
    chosen = out["options"][out["recommendation"]]
    assert out["groups"] == chosen["groups"] and not chosen["beaten_by"]
    assert set(out["tasks"]) == set(LABELS)
    for per in out["tasks"].values():
        for option in out["options"]:
            for metric in ("test_bce", "test_auroc"):
                stat = per[option][metric]
                assert stat["n"] == 3 and stat["low"] <= stat["mean"] <= stat["high"]
    assert set(out["gains"]) == set(out["options"]) - {out["recommendation"]}
    for g in out["gains"].values():
        assert g["test_bce"]["low"] <= g["test_bce"]["mean"] <= g["test_bce"]["high"]
    json.dumps(out)  # serialisable as it is


def test_recommendation_needs_intervals_to_add_structure():
    def result(losses):  # losses[arm]: per seed, the test log loss of every task
        records = [
            {"arm": arm, "task": k, "seed": s, "test_bce": loss, "test_auroc": 0.8}
            for arm, per_seed in losses.items()
            for s, loss in enumerate(per_seed)
            for k in range(2)
        ]
        arms = {
            "mtl": {"networks": 1, "params_per_network": 10, "groups": [[0, 1]]},
            "stl": {"networks": 2, "params_per_network": 9, "groups": [[0], [1]]},
            "groups": {"networks": 2, "params_per_network": 9, "groups": [[0], [1]]},
        }
        return {"task_names": ["p", "q"], "records": records, "arms": arms, "config": {"train": {"seeds": 3}}}

    tie = advice.advise(result({"mtl": [0.50, 0.52, 0.51], "stl": [0.51, 0.50, 0.52], "groups": [0.5] * 3}))
    assert tie["recommendation"] == "share" and "no detectable difference from separate" in tie["verdict"]
    assert set(tie["options"]) == {"share", "separate"}  # the searched grouping is the separate option
    apart = advice.advise(result({"mtl": [0.60, 0.62, 0.61], "stl": [0.50, 0.51, 0.50], "groups": [0.5] * 3}))
    assert apart["recommendation"] == "separate" and apart["groups"] == [["p"], ["q"]]
    assert apart["gains"]["share"]["test_bce"]["low"] > 0


def advise_cli(tmp_path, *overrides):
    return subprocess.run(
        [sys.executable, "-m", "harness.advise", f"runtime.cache_dir={tmp_path / 'cache'}", *overrides],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_the_command_writes_advice_and_its_report(tmp_path, planted):
    path, _ = planted
    out = tmp_path / "run"
    proc = advise_cli(
        tmp_path,
        "data=table",
        f"data.path={path}",
        f"data.labels=[{','.join(LABELS)}]",
        "train.steps=40",
        "train.eval_every=20",
        "train.seeds=2",
        "model.width=8",
        "runtime.progress=false",
        f"hydra.run.dir={out}",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("recommendation: ")
    written = json.loads((out / "advice.json").read_text())
    assert written["recommendation"] in written["options"] and written["seeds"] == 2
    assert {"mtl", "stl", "groups"} <= set(json.loads((out / "result.json").read_text())["arms"])
    assert "![test log loss per task](advice.png)" in (out / "ADVICE.md").read_text()
    assert (out / "advice.png").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.groups=[[task0,nope],[task1]]", "unknown task 'nope'"),
        ("train.groups=[[0,1],[1]]", "each task in one group"),
        ("train.groups=[[0,1],[]]", "non-empty groups"),
        ("train.groups=[[0]]", "every task in a group"),
        ("train.grouping_signal=magic", "train.grouping_signal"),
    ],
)
def test_bad_input_is_one_line_and_leaves_no_folder(tmp_path, override, message):
    out = tmp_path / "run"
    proc = advise_cli(tmp_path, "data.tasks=2", "runtime.progress=false", override, f"hydra.run.dir={out}")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and message in lines[0], proc.stderr
    assert not out.exists()
