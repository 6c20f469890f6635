"""docs/extending.md's recipes, run as written: a new suite and a new arm are one record each."""

import re
from pathlib import Path

import pytest

from harness import arms
from harness.config import ConfigError, from_omegaconf
from harness.data import SUITES
from harness.runs import preflight

PAGE = Path(__file__).parents[1] / "docs" / "extending.md"


@pytest.fixture
def recipes():
    """The page's Python blocks and a namespace to run them in; the registries are restored after."""
    saved_suites, saved_arms = dict(SUITES), dict(arms.ARMS)
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    assert len(blocks) == 5
    yield blocks, {}
    SUITES.clear()
    SUITES.update(saved_suites)
    arms.ARMS.clear()
    arms.ARMS.update(saved_arms)


def toy_run(**data):
    return from_omegaconf(
        {
            "data": {"suite": "signs", "tasks": 3, "dim": 6, "pool": 64, "n_per_task": 48, "n_val": 16, "n_test": 32}
            | data,
            "model": {"width": 8, "depth": 1},
            "train": {"steps": 40, "eval_every": 10, "batch_size": 16, "seeds": 2},
        }
    )


def test_a_new_suite_is_one_record_the_whole_harness_reads(recipes, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the report block writes under outputs/
    blocks, namespace = recipes
    with pytest.raises(ConfigError, match="data.suite='signs' is not accepted"):
        toy_run()
    exec(blocks[0], namespace)
    with pytest.raises(ConfigError, match=r"^data.dim=2 is not accepted; expected an integer >= data.tasks=3"):
        toy_run(dim=2)
    preflight.check(toy_run())  # its memory estimate comes from its record: no KeyError
    exec(blocks[1], namespace)  # trains both arms on it and checks the result
    result = namespace["result"]
    assert {r["arm"] for r in result["records"]} == {"mtl", "stl"}
    # The record's posterior is the Bayes reference: a step, so the exact loss is ~0.
    assert max(max(seed) for seed in result["references"]["bayes_bce"]) < 1e-6
    assert min(min(seed) for seed in result["references"]["constant_bce"]) > 0.5
    exec(blocks[4], namespace)  # and its tasks are the report's rows
    assert "| sign0 |" in namespace["text"]


def test_a_new_arm_is_one_record_the_whole_harness_reads(recipes, tmp_path, monkeypatch):
    from harness.analysis import style

    monkeypatch.chdir(tmp_path)
    blocks, namespace = recipes
    with pytest.raises(ConfigError, match="mtl_zero_equal_params"):
        exec(blocks[3], namespace)
    exec(blocks[2], namespace)
    exec(blocks[3], namespace)  # trains it and checks it is wider than mtl_zero
    result = namespace["result"]
    assert result["arms"]["mtl_zero_equal_params"]["description"] == arms.ARMS["mtl_zero_equal_params"].description
    assert {r["arm"] for r in result["records"]} == {"mtl", "mtl_zero", "mtl_zero_equal_params", "stl"}
    assert style.arm_style("mtl_zero_equal_params").color == "#aec7e8"
    assert preflight.network_bytes(namespace["run"], 8, 48) > 0
    exec(blocks[4], namespace)  # and it is a column of the report
    assert "mtl_zero_equal_params log loss" in namespace["text"]
