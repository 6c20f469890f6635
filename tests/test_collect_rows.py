"""Collect's row builders, one result.json at a time: every field of every row by value."""

import json
import math

import numpy as np
import pytest

from harness.analysis import collect as c


def test_records_take_each_field_from_the_record_and_its_arm():
    payload = {
        "task_names": ["a", "b"],
        "arms": {"stl": {"width": 8, "networks": 3, "params_per_network": 50}, "mtl": {"width": 4}},
        "records": [
            {"arm": "stl", "task": 1, "network": 2, "seed": 4, "test_bce": 0.25},
            {"arm": "mtl", "task": 2, "seed": 0, "test_auroc": None},  # no network field, no name, no parameter count
            {"arm": "gone", "task": 0, "seed": 1, "val_bce": 0.5},  # an arm the payload does not describe
        ],
    }
    rows = c._records("j", payload)
    assert rows[0] == {"job": "j", "arm": "stl", "network": 2, "task": 1, "task_name": "b", "seed": 4,
                       "arm_width": 8, "arm_params": 150, "metric": "test_bce", "value": 0.25}  # fmt: skip
    assert {k: rows[1][k] for k in ("network", "task_name", "arm_width", "arm_params", "metric")} == {
        "network": 0, "task_name": "2", "arm_width": 4, "arm_params": None, "metric": "test_auroc"
    }  # fmt: skip
    assert math.isnan(rows[1]["value"])
    assert rows[2]["arm_width"] is None and rows[2]["arm_params"] is None and rows[2]["task_name"] == "a"
    assert len(rows) == 3
    record = {"arm": "stl", "task": 0, "seed": 0, "val_bce": 1}
    one = c._records("j", {"arms": {"stl": {"params_per_network": 50}}, "records": [record]})
    assert one[0]["arm_params"] == 50 and one[0]["task_name"] == "0"  # one network unless the arm says more


def test_a_record_that_is_not_an_object_is_named_by_its_type():
    with pytest.raises(TypeError, match="^a record is list, not an object$"):
        c._records("j", {"records": [["mtl", 0, 0]]})


def test_arms_keep_every_field_and_the_groups_as_a_list():
    rows = c._arms("j", {"arms": {"groups": {"networks": 2, "groups": [[0, 1], [2, -1]]}, "mtl": {"networks": 1}}})
    assert rows == [
        {"job": "j", "arm": "groups", "networks": 2, "groups": [[0, 1], [2, -1]]},
        {"job": "j", "arm": "mtl", "networks": 1, "groups": []},
    ]
    assert c._arms("j", {"arms": {"mtl": {"groups": None}}}) == [{"job": "j", "arm": "mtl", "groups": []}]


def test_search_rows_list_each_seeds_partition_and_the_trained_one_without_padding():
    per_seed = [[[0, 1], [2]], [[0], [1, 2]]]
    result = {"grouping": {"per_seed": per_seed}, "arms": {"groups": {"groups": [[0, 2], [1, -1]]}}}
    rows = {(r["arm"], r["seed"], r["task"]): r["group"] for r in c.search_rows(result, "j")}
    assert rows == {
        ("search", 0, 0): 0, ("search", 0, 1): 0, ("search", 0, 2): 1,
        ("search", 1, 0): 0, ("search", 1, 1): 1, ("search", 1, 2): 1,
        ("groups", -1, 0): 0, ("groups", -1, 2): 0, ("groups", -1, 1): 1,
    }  # fmt: skip
    assert c.search_rows({}, "j") == [] and c.search_rows({"arms": None}, "j") == []


def curves_payload() -> dict:
    return {
        "arms": {"groups": {"groups": [[1, 0]]}},
        "curves": {
            "steps": [0, 10],
            "groups": {"val_bce": [[[[0.7, None]], [[0.5, 0.4]]]]},  # [S=1, E=2, G=1, H=2]; null is a non-finite value
            "stl": {"val_bce": [[[[0.3], [0.2]], [[0.1], [0.05]]]], "train_loss": [[[0.9, 0.8], [0.6, None]]]},
            "notes": ["val_bce"],  # not an arm's curves
            "pending": {"train_loss": [[[1.0]]]},  # an arm without validation curves
        },
    }


def test_curves_map_heads_to_tasks_through_the_arms_groups_and_read_null_as_nan():
    frames = c._curves("j", curves_payload())
    assert [f["arm"].iloc[0] for f in frames] == ["groups", "stl"]
    groups, stl = frames
    assert groups["task"].tolist() == [1, 0, 1, 0] and groups["step"].tolist() == [0, 0, 10, 10]
    assert groups["val_bce"].dtype == np.float64 and np.isnan(groups["val_bce"].iloc[1])
    assert groups["val_bce"].iloc[[0, 2, 3]].tolist() == [0.7, 0.5, 0.4]
    assert groups["train_loss"].isna().all()  # no training curve recorded
    # stl is not in "arms": each network's single head is task = head = 0
    assert stl["task"].tolist() == [0, 0, 0, 0] and stl["network"].tolist() == [0, 1, 0, 1]
    assert stl["train_loss"].dtype == np.float64 and stl["train_loss"].iloc[:3].tolist() == [0.9, 0.8, 0.6]
    assert np.isnan(stl["train_loss"].iloc[3]) and stl["step"].dtype.kind == "i"
    assert all(tuple(frame.columns) == c.CURVE_COLUMNS for frame in frames)


def test_curves_of_the_wrong_shape_are_an_error_naming_the_arm():
    payload = curves_payload()
    payload["curves"]["steps"] = [0]
    with pytest.raises(ValueError, match="^arm groups: val_bce of shape \\(1, 2, 1, 2\\) for 1 evaluation steps$"):
        c._curves("j", payload)


def test_experiment_is_the_experiment_override_with_or_without_a_prefix():
    assert c._experiment({"overrides": ["model.width=4", "+experiment=full/capacity"]}) == "full/capacity"
    assert c._experiment({"overrides": ["~experiment=x", "experiments=y"]}) == "x"
    assert c._experiment({"overrides": ["data.experiment=z"]}) is None and c._experiment({}) is None


def write_job(folder, width: int = 4) -> None:
    (folder / ".hydra").mkdir(parents=True)
    record = {"arm": "mtl", "task": 0, "seed": 0, "test_bce": 0.5}
    payload = {"schema_version": 2, "status": "ok", "config": {"model": {"width": width}}, "records": [record]}
    (folder / "result.json").write_text(json.dumps(payload))


def test_jobs_are_named_by_their_folder_below_the_root_and_a_lone_job_by_its_own_name(tmp_path):
    for sweep in ("a", "b"):
        write_job(tmp_path / sweep / "0")
    (tmp_path / "a" / "1" / ".hydra").mkdir(parents=True)  # a job that wrote nothing
    (tmp_path / ".hydra").mkdir()  # the root of a sweep: a Hydra folder with multirun.yaml, not a job
    (tmp_path / "multirun.yaml").write_text("{}")
    collection = c.collect(tmp_path)
    assert sorted(collection.jobs["job"]) == ["a/0", "b/0"]
    assert [(p.job, p.kind) for p in collection.problems] == [("a/1", "missing")]
    assert c.collect(tmp_path / "b" / "0").jobs["job"].tolist() == ["0"]
