"""Collect: good jobs become rows, bad ones are listed, never a crash."""

import json

import pytest
from sweeps import flat

from harness.analysis.collect import CollectError, Problem, collect, write_table
from harness.config import RunConfig, to_dict
from harness.runs.results import SCHEMA_VERSION


def config(width: int, tasks: int) -> dict:
    run = RunConfig()
    run.model.width, run.data.tasks, run.train.seeds = width, tasks, 2
    return to_dict(run)


def payload(width: int, status: str = "ok", seeds: int = 2, tasks: int = 2) -> dict:
    records = [
        {"arm": arm, "task": t, "network": 0, "seed": s, "test_bce": 0.5 + 0.01 * t, "test_acc": 0.7,
         "test_auroc": 0.8, "val_bce": 0.5, "best_step": 10}
        for arm in ("mtl", "stl") for s in range(seeds) for t in range(tasks)
    ]  # fmt: skip
    return {
        "schema_version": SCHEMA_VERSION,
        "status": status,
        "error": "boom" if status == "failed" else None,
        "config": config(width, tasks),
        "overrides": ["+experiment=capacity", f"model.width={width}"],
        "task_names": [f"task{t}" for t in range(tasks)],
        "arms": {"mtl": {"networks": 1, "params_per_network": 100, "width": width},
                 "stl": {"networks": tasks, "params_per_network": 60, "width": width}},
        "records": records if status == "ok" else [],
        "diverged": [{"arm": "mtl", "seed": 0}] if status == "diverged" else [],
        "timing": {"train_seconds": 1.0},
    }  # fmt: skip


def job(root, num, content):
    folder = root / str(num)
    (folder / ".hydra").mkdir(parents=True)
    if content is not None:
        text = content if isinstance(content, str) else json.dumps(content)
        (folder / "result.json").write_text(text)


@pytest.fixture
def sweep(tmp_path):
    job(tmp_path, 0, payload(4))
    job(tmp_path, 1, payload(16))
    job(tmp_path, 2, '{"schema_version": 1, "status": "ok", "rec')  # corrupt: cut short
    job(tmp_path, 3, payload(64, status="failed"))
    job(tmp_path, 4, None)  # missing: killed before writing
    job(tmp_path, 5, payload(256, status="diverged"))
    return tmp_path


def test_collect_keeps_good_jobs_and_lists_the_rest(sweep, tmp_path):
    c = collect(sweep)
    assert sorted(c.table["job"].unique()) == ["0", "1"]
    assert c.swept == ["model.width"]
    assert sorted(c.table["model.width"].unique()) == [4, 16]
    # 2 jobs x 2 arms x 2 tasks x 2 seeds x 5 metrics
    assert len(c.table) == 80
    assert {(p.job, p.kind) for p in c.problems} == {
        ("2", "corrupt"),
        ("3", "failed"),
        ("4", "missing"),
        ("5", "diverged"),
    }
    assert c.experiment == "capacity" and c.study is None  # schema 1 results name no study
    row = c.table[(c.table["arm"] == "stl") & (c.table["job"] == "0")].iloc[0]
    assert row["arm_params"] == 120 and row["task_name"] == "task0"
    written = write_table(c, tmp_path / "out")
    assert {p.name for p in written} >= {"results.csv", "problems.csv"}


def test_collect_reports_jobs_that_never_started(sweep):
    (sweep / "multirun.yaml").write_text(
        "hydra:\n  sweep:\n    subdir: ${hydra.job.num}\n  sweeper:\n    params:\n      model.width: 4,16,64,256\n"
        "  overrides:\n    task:\n    - data.tasks=2,3\n"
    )  # 4 widths x 2 task counts (the command line's sweep) = 8 jobs, 6 folders
    kinds = {(p.job, p.kind) for p in collect(sweep).problems}
    assert {("6", "missing"), ("7", "missing")} <= kinds


def test_collect_without_any_usable_result_is_one_line_error(tmp_path):
    job(tmp_path, 0, None)
    with pytest.raises(CollectError, match="no usable result.json.*0: missing"):
        collect(tmp_path)
    with pytest.raises(CollectError, match="not a folder"):
        collect(tmp_path / "nope")


def test_report_cli_on_a_folder_without_results_is_one_line_and_status_2(tmp_path, capsys):
    from harness.cli.report import main

    job(tmp_path, 0, None)
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


def test_report_on_a_sweep_with_bad_jobs_lists_them(sweep, tmp_path):
    from harness.cli.report import main

    assert main([str(sweep), "--out", str(tmp_path / "rep")]) == 0
    text = flat((tmp_path / "rep" / "REPORT.md").read_text())
    assert "## Jobs left out" in text and "| 2 | corrupt |" in text
    assert (tmp_path / "rep" / "tables" / "capacity" / "results.csv").exists()


def test_read_result_refuses_huge_deep_and_non_object_files(tmp_path, monkeypatch):
    from harness.runs import results

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    big = tmp_path / "big.json"
    big.write_text('{"a": 1}')
    for path, why in ((deep, "nested too deeply"), (listed, "not a JSON object")):
        with pytest.raises(results.UnreadableResult, match=why):
            results.read_result(path)
    assert results.read_result(big) == {"a": 1}
    monkeypatch.setattr(results, "MAX_RESULT_BYTES", 4)
    with pytest.raises(results.UnreadableResult, match="over the 0 MiB cap"):
        results.read_result(big)


def test_each_metric_comes_from_its_own_field(tmp_path):
    result = payload(4)
    result["records"][0] |= {"test_bce": 0.11, "test_acc": 0.22, "test_auroc": 0.33, "val_bce": 0.44, "best_step": 55}
    job(tmp_path, 0, result)
    table = collect(tmp_path).table
    row = table[(table["arm"] == "mtl") & (table["task"] == 0) & (table["seed"] == 0)].set_index("metric")["value"]
    assert row.to_dict() == {"test_bce": 0.11, "test_acc": 0.22, "test_auroc": 0.33, "val_bce": 0.44, "best_step": 55}


def test_schema_2_reference_fields_become_rows_and_null_is_nan(tmp_path):
    result = payload(4) | {"schema_version": 2}
    for rec in result["records"]:
        rec |= {"bayes_bce": 0.3, "learned_auroc": None}
    job(tmp_path, 0, result)
    table = collect(tmp_path).table
    assert set(table["metric"]) >= {"bayes_bce", "learned_auroc"}
    assert table.loc[table["metric"] == "learned_auroc", "value"].isna().all()


def test_every_kind_of_malformed_job_is_listed_and_the_good_one_kept(tmp_path):
    good = payload(4)
    bad = {
        "missing key": [{"arm": "mtl", "task": 0}],  # KeyError
        "bad number": [{"arm": "mtl", "task": "one", "seed": 0}],  # ValueError
        "not an object": [["mtl", 0, 0]],  # TypeError
    }
    job(tmp_path, 0, good)
    for num, records in enumerate(bad.values(), start=1):
        job(tmp_path, num, payload(4) | {"records": records})
    job(tmp_path, 4, payload(4) | {"arms": ["mtl"]})  # AttributeError: arms is not a mapping
    job(tmp_path, 5, payload(4) | {"schema_version": 99})
    job(tmp_path, 6, "[1, 2]")  # a JSON list, not an object
    job(tmp_path, 7, payload(4) | {"config": ["not", "a", "mapping"]})
    c = collect(tmp_path)
    kinds = {p.job: p.kind for p in c.problems}
    assert kinds == {"1": "corrupt", "2": "corrupt", "3": "corrupt", "4": "corrupt", "5": "schema", "6": "corrupt",
                     "7": "empty"}  # fmt: skip
    assert set(c.table["job"]) == {"0"}


def test_learning_curves_become_one_row_per_evaluation_network_head_and_seed(tmp_path):
    result = payload(4)
    result["arms"]["mtl"]["groups"] = [[0, 1]]
    result["arms"]["stl"]["groups"] = [[0], [1]]
    val = [[[[0.7, 0.6]], [[0.5, 0.4]]], [[[0.71, 0.61]], [[0.51, 0.41]]]]  # [S=2, E=2, G=1, H=2]
    result["curves"] = {
        "steps": [0, 10],
        "mtl": {"val_bce": val, "train_loss": [[[0.9], [0.8]], [[0.91], [0.81]]]},
        "stl": {"val_bce": [[[[0.7], [0.6]], [[0.5], [0.4]]]] * 2},
    }
    job(tmp_path, 0, result)
    c = collect(tmp_path)
    assert len(c.curves) == 2 * 2 * 2 * 2
    row = c.curves[(c.curves["arm"] == "mtl") & (c.curves["seed"] == 1) & (c.curves["step"] == 10)]
    assert row.set_index("task")["val_bce"].to_dict() == {0: 0.51, 1: 0.41} and set(row["train_loss"]) == {0.81}
    stl = c.curves[(c.curves["arm"] == "stl") & (c.curves["network"] == 1) & (c.curves["step"] == 0)]
    assert set(stl["task"]) == {1} and set(stl["val_bce"]) == {0.6}
    written = write_table(c, tmp_path / "out")
    assert tmp_path / "out" / "curves.parquet" in written


def test_config_names_the_study(tmp_path):
    result = payload(4)
    result["config"]["study"] = "capacity"
    job(tmp_path, 0, result)
    c = collect(tmp_path)
    assert c.study == "capacity" and c.name == "capacity"


def test_flatten_joins_nested_keys_with_dots_and_lists_with_commas():
    from harness.analysis.collect import flatten

    assert flatten({"data": {"tasks": 8, "names": ["a", 2]}, "arms": ["mtl", "stl"]}) == {
        "data.tasks": 8,
        "data.names": "a,2",
        "arms": "mtl,stl",
    }


def test_a_fixed_override_counts_one_job_per_value_of_the_swept_ones(sweep):
    # 2 widths (swept) x data.tasks=3 (fixed: one value) = 2 jobs, and folders 0 to 5 exist: none
    # never started. Then 5 widths x 2 step counts x 1 = 10 jobs: 6 to 9 never started.
    (sweep / "multirun.yaml").write_text(
        "hydra:\n  sweep:\n    subdir: ${hydra.job.num}\n  sweeper:\n    params:\n      model.width: 4,16\n"
        "  overrides:\n    task:\n    - data.tasks=3\n"
    )
    never = {p.job for p in collect(sweep).problems if p.detail.startswith("job never started")}
    assert never == set()
    (sweep / "multirun.yaml").write_text(
        "hydra:\n  sweep:\n    subdir: ${hydra.job.num}\n  sweeper:\n    params:\n      model.width: 4,16,64,256,1024\n"
        "      train.steps: 10,20\n  overrides:\n    task:\n    - data.tasks=3\n"
    )  # 5 x 2 x 1 = 10 jobs
    never = {p.job for p in collect(sweep).problems if p.detail.startswith("job never started")}
    assert never == {"6", "7", "8", "9"}


def test_load_returns_a_usable_payload_or_the_exact_problem(tmp_path):
    from harness.analysis.collect import Problem, _load

    def load(content):
        path = tmp_path / "result.json"
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return _load(path, "3/1")

    ok = {"schema_version": 1, "status": "ok", "records": [{"arm": "mtl"}], "config": {}}
    assert load(ok) == (ok, None)
    assert load(ok | {"schema_version": 2}) == (ok | {"schema_version": 2}, None)
    expected = {
        "[1, 2]": ("corrupt", "result.json is not a JSON object"),
        json.dumps(ok | {"schema_version": 99}): ("schema", "schema_version=99, expected 1 or 2"),
        json.dumps(ok | {"schema_version": "2"}): ("schema", "schema_version='2', expected 1 or 2"),
        json.dumps({"status": "ok"}): ("schema", "schema_version=None, expected 1 or 2"),
        json.dumps(ok | {"status": "diverged", "diverged": [{"arm": "mtl", "seed": 0}, {"arm": "stl", "seed": 1}]}):
            ("diverged", "non-finite training loss (mtl seed 0, stl seed 1)"),
        json.dumps(ok | {"status": "diverged"}): ("diverged", "non-finite training loss (no detail)"),
        json.dumps(ok | {"status": "failed", "error": "boom"}): ("failed", "status='failed': boom"),
        json.dumps(ok | {"status": "failed", "error": ""}): ("failed", "status='failed': no error message"),
        json.dumps({"schema_version": 2}): ("failed", "status=None: no error message"),
        json.dumps(ok | {"records": []}): ("empty", "status ok but no records or config"),
        json.dumps(ok | {"config": ["a"]}): ("empty", "status ok but no records or config"),
        json.dumps({k: v for k, v in ok.items() if k != "config"}): ("empty", "status ok but no records or config"),
    }  # fmt: skip
    for content, (kind, detail) in expected.items():
        assert load(content) == (None, Problem("3/1", kind, detail)), content


def test_write_table_writes_each_file_without_the_index(tmp_path):
    import pandas as pd
    import pyarrow.parquet as pq

    from harness.analysis.collect import Collection, Problem

    table = pd.DataFrame({"job": ["0", "1"], "value": [0.5, 0.25]}, index=[7, 9])
    jobs = pd.DataFrame({"job": ["0"], "model.width": [4]}, index=[3])
    curves = pd.DataFrame({"job": ["0"], "step": [10], "val_bce": [0.75]}, index=[5])
    problems = [Problem("2", "corrupt", "cut short"), Problem("4", "missing", "no result")]
    c = Collection(root=tmp_path, table=table, jobs=jobs, swept=[], problems=problems, curves=curves)
    out = tmp_path / "a" / "b"
    expected = [out / "results.csv", out / "jobs.csv", out / "results.parquet", out / "curves.parquet",
                out / "problems.csv"]  # fmt: skip
    assert write_table(c, str(out)) == expected
    assert write_table(c, out) == expected  # the folder exists already: written over
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in expected)
    assert (out / "results.csv").read_text() == "job,value\n0,0.5\n1,0.25\n"
    assert (out / "jobs.csv").read_text() == "job,model.width\n0,4\n"
    assert (out / "problems.csv").read_text() == "job,kind,detail\n2,corrupt,cut short\n4,missing,no result\n"
    assert pq.read_table(out / "results.parquet").to_pydict() == {"job": ["0", "1"], "value": [0.5, 0.25]}
    assert pq.read_table(out / "curves.parquet").to_pydict() == {"job": ["0"], "step": [10], "val_bce": [0.75]}
    c.problems = []
    clean = tmp_path / "clean"
    assert write_table(c, clean) == [clean / p.name for p in expected[:4]]
    assert not (clean / "problems.csv").exists()


def test_collect_builds_every_frame_and_words_every_problem(tmp_path):
    first = payload(4) | {"environment": {"host": "h0"}, "created": "c0"}
    first["affinity"] = {"matrix": [[[0.0, 0.5], [0.25, 0.0]]]}
    second = payload(16)
    cfg = second["config"]
    cfg["arms"], cfg["data"]["noise"], cfg["train"]["steps"], cfg["runtime"]["progress"] = ["mtl"], 0.25, 20, False
    job(tmp_path, 0, first)
    job(tmp_path, 1, second)
    job(tmp_path, 2, None)
    job(tmp_path, 3, payload(4) | {"records": [{"arm": "mtl", "task": 0}]})
    job(tmp_path, 4, payload(4) | {"curves": {"steps": [], "mtl": {"val_bce": [0.5]}}})
    c = collect(tmp_path)
    assert c.problems == [
        Problem("2", "missing", "no result.json (job killed, failed or still running)"),
        Problem("3", "corrupt", "malformed records: KeyError: 'seed'"),
        Problem("4", "curves", "job kept, its learning curves left out: ValueError: arm mtl: val_bce of shape (1,) "
                "for 0 evaluation steps"),
    ]  # fmt: skip
    assert c.swept == ["arms", "data.noise", "model.width", "train.steps"]
    assert list(c.table.columns) == ["job", *c.swept, "arm", "network", "task", "task_name", "seed", "arm_width",
                                     "arm_params", "metric", "value"]  # fmt: skip
    assert len(c.table) == 3 * 8 * 5 and sorted(set(c.table["job"])) == ["0", "1", "4"]
    assert c.table[c.table["job"] == "1"]["train.steps"].unique().tolist() == [20]
    jobs = c.jobs.set_index("job")
    assert list(jobs.index) == ["0", "1", "4"]
    assert list(jobs.columns[-3:]) == ["timing.train_seconds", "environment.host", "created"]
    assert jobs.loc["0", "environment.host"] == "h0" and jobs.loc["0", "created"] == "c0"
    assert jobs.loc["1", "timing.train_seconds"] == 1.0 and jobs.loc["1", "runtime.progress"] == False  # noqa: E712
    pairs = ((0, 0, 0.0), (0, 1, 0.5), (1, 0, 0.25), (1, 1, 0.0))
    assert c.affinity.to_dict("records") == [{"job": "0", "seed": 0, "i": i, "j": j, "z": z} for i, j, z in pairs]
    assert c.arms[["job", "arm", "networks"]].values.tolist() == [
        ["0", "mtl", 1], ["0", "stl", 2], ["1", "mtl", 1], ["1", "stl", 2], ["4", "mtl", 1], ["4", "stl", 2]
    ]  # fmt: skip
    assert c.curves.empty and list(c.curves.columns) == ["job", "arm", "network", "head", "task", "seed", "step",
                                                         "val_bce", "train_loss"]  # fmt: skip
    assert c.partitions.empty and list(c.partitions.columns) == ["job", "arm", "task", "seed", "group"]
    assert (c.study, c.experiment) == (None, "capacity")


def test_collect_names_up_to_five_unusable_jobs_in_its_error(tmp_path):
    for num in range(6):
        job(tmp_path, num, None)
    with pytest.raises(CollectError) as error:
        collect(tmp_path)
    listed = "; ".join(f"{n}: missing" for n in range(5))
    assert str(error.value) == f"{tmp_path}: no usable result.json found (6 unusable: {listed})"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CollectError) as error:
        collect(empty)
    assert str(error.value) == f"{empty}: no usable result.json found"


def test_collect_joins_the_jobs_curves_and_partitions_and_names_no_study_when_they_differ(tmp_path):
    for num, study, groups in ((0, "a", [[0, 1]]), (1, "b", [[1], [0]])):
        result = payload(4) | {"overrides": [f"+experiment={study}"], "grouping": {"per_seed": [groups]}}
        result["config"]["study"] = study
        result["arms"]["mtl"]["groups"] = [[0, 1]]
        result["curves"] = {"steps": [5], "mtl": {"val_bce": [[[[0.3, 0.4]]]]}}  # [S=1, E=1, G=1, H=2]
        job(tmp_path, num, result)
    c = collect(tmp_path)
    assert (c.study, c.experiment, c.name) == (None, None, "sweep")
    assert list(c.curves.index) == [0, 1, 2, 3]
    assert c.curves[["job", "task", "step", "val_bce"]].values.tolist() == [
        ["0", 0, 5, 0.3], ["0", 1, 5, 0.4], ["1", 0, 5, 0.3], ["1", 1, 5, 0.4]
    ]  # fmt: skip
    assert c.partitions.values.tolist() == [
        ["0", "search", 0, 0, 0], ["0", "search", 1, 0, 0], ["1", "search", 1, 0, 0], ["1", "search", 0, 0, 1]
    ]  # fmt: skip
    assert list(c.partitions.columns) == ["job", "arm", "task", "seed", "group"]
    assert c.affinity.empty and list(c.affinity.columns) == ["job", "seed", "i", "j", "z"]
