"""Every study is declared once (its experiment file and its analysis), composes, and reports.

The list of studies comes from the registry (harness/analysis/registry.py), never from
a list here: a new experiment file with `study:` and its analysis are all a study needs.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fake_results import write, write_sweep
from sweeps import ROOT, flat, job_runs

from harness.analysis import registry
from harness.analysis.report import write_report
from harness.analysis.verdict import OUTCOMES
from harness.cli.reproduce import main

STUDIES = registry.main_studies("full")  # every study: the quick profile's and the full profile's own
QUICK = registry.main_studies()
DECLARED = registry.declared("full")
# Tiny sweeps per study, values that keep the shapes (and so the compiled program) the same.
TINY = [
    "data.pool=64", "data.n_val=32", "data.n_test=64", "model.width=4",
    "train.steps=20", "train.eval_every=10", "train.seeds=2", "train.batch_size=16", "runtime.progress=false",
]  # fmt: skip
SUITE = {
    "synthetic": ["data.dim=8", "data.tasks=3"],
    "scenes": ["data.image_size=16", "data.tasks=4", "model.depth=1"],
    "digits": [],
}
TINY_SWEEPS = {
    "capacity": ["data.n_per_task=20", "model.width=1,4"],
    "data_symmetry": [
        "data.pool=256",
        "data.n_target=10",
        "data.n_other=0,10,20",
        "data.target=0",
    ],  # both f
    "relatedness": ["data.n_per_task=20", "data.relatedness=0,1"],
    "shared_features": ["data.n_per_task=20", "data.shared_fraction=0,1", "data.tasks=1,3"],
    "missing_labels": ["data.n_per_task=30", "data.missing=0,0.5"],
    "help_hurt_map": ["data.n_per_task=10,30", "data.shared_fraction=0,1"],
    "grouping": ["data.n_per_task=20", "data.task_groups=1,3", "train.grouping_signal=pairs"],
    "affinity": ["data.n_per_task=20", "data.relatedness=0.5,0.9", "train.affinity_every=5"],
    "transfer": ["data.n_target=10,20", "data.n_other=30"],
    "weighting": ["data.n_per_task=20", "train.weighting=equal,pcgrad", "data.relatedness=0.8"],
    # By experiment where a study's experiments sweep different knobs.
    "soft_sharing": ["data.n_per_task=20", "data.shared_fraction=0,1"],
    "soft_sharing_directions": ["data.n_per_task=20", "data.relatedness=0,1"],
}


def suite_of(experiment: str) -> str:
    return experiment.rsplit("_", 1)[-1] if experiment.endswith(("_scenes", "_digits")) else "synthetic"


def test_every_declared_study_has_an_analysis():
    assert set(DECLARED) == set(STUDIES) and len(STUDIES) >= 13
    assert set(QUICK) < set(STUDIES) and len(QUICK) >= 11
    assert set(DECLARED.values()) <= set(registry.load_studies())


def test_a_study_whose_full_file_alone_declares_it_is_in_the_full_profile_only():
    full_only = set(STUDIES) - set(QUICK)
    assert full_only == {"capacity_scenes", "data_symmetry_scenes"}
    for name in full_only:  # its small file is still a study when run by hand
        assert {r.study for r in job_runs(name)} == {DECLARED[name]}


@pytest.mark.parametrize("study", STUDIES)
def test_every_job_of_both_profiles_composes_and_validates(study):
    for name in (study, f"full/{study}"):
        runs = job_runs(name)
        assert len(runs) > 1 and {r.study for r in runs} == {DECLARED[study]}


def test_full_profile_is_paper_scale_and_every_profile_has_its_seeds():
    full = {s: job_runs(f"full/{s}") for s in STUDIES}
    runs = [run for s in STUDIES if DECLARED[s] in ("capacity", "help_hurt_map") for run in full[s]]
    assert max(r.model.width for r in runs) >= 256 and min(r.model.width for r in runs) == 1
    assert min(r.train.seeds for s in STUDIES for r in full[s]) >= 20
    assert any(r.data.tasks == 100 and r.data.n_other == 1000 == r.data.n_target for r in full["data_symmetry"])
    assert {r.data.tasks for r in full["capacity"]} == {4, 16, 64}
    # Quick profile: 10 seeds in every study; the capacity study's widths straddle the trunk its
    # tasks need (r + K m) at every K, with the claim's regime (f < 1) and its control (f = 1).
    assert all(r.train.seeds >= 10 for s in QUICK for r in job_runs(s))
    capacity = job_runs("capacity")
    needs = {r.data.shared_features + r.data.tasks * r.data.own_features for r in capacity}
    widths = {r.model.width for r in capacity}
    assert {r.data.suite for r in capacity} == {"features"} and min(widths) < min(needs) < max(needs) < max(widths)
    assert {r.data.shared_fraction for r in capacity} == {0.5, 1.0}


@pytest.mark.parametrize("study", STUDIES)
def test_each_study_reports_on_constructed_results_and_lists_a_corrupt_file(study, tmp_path):
    sweep = write_sweep(tmp_path / study, study, references=True)
    write(sweep, 999, '{"schema_version": 2, "status": "ok", "rec')  # cut short
    report, _ = write_report([sweep], tmp_path / "out")
    text = flat(report.read_text())
    assert "| 999 | corrupt |" in text, "a corrupt result file is listed, not a crash"
    figures = re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)
    assert figures and all((tmp_path / "out" / f).stat().st_size > 0 for f in figures)
    assert f"{study}_curves.png" in figures, "every study draws its learning curves"
    verdicts = text.split("## Verdicts")[1].split("**How to read")[0]
    assert re.search(r"\*\*(holds|contradicted|no effect|underpowered)\*\* \|", verdicts)


def test_a_new_study_is_one_experiment_file_and_one_analysis(tmp_path, monkeypatch):
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    for path in registry.EXPERIMENTS.glob("*.yaml"):
        (experiments / path.name).write_text(path.read_text())
    (experiments / "toy.yaml").write_text("# @package _global_\nstudy: toy\narms: [mtl, stl]\n")
    monkeypatch.setattr(registry, "EXPERIMENTS", experiments)
    monkeypatch.setitem(registry.ANALYSES, "toy", None)

    @registry.study("toy")
    def analyse(c):
        return registry.Section(c.name, "The toy study", "Does the registry find it?")

    assert "toy" in registry.main_studies()
    run = job_runs("relatedness")[0]
    run.study = "toy"
    from fake_results import payload

    write(tmp_path / "sweep", 0, payload(run))
    report, _ = write_report([tmp_path / "sweep"], tmp_path / "out")
    assert "## The toy study" in report.read_text()


def run_tiny_study(study: str, tmp_path, cache: Path) -> Path:
    """The main job on `study` alone, as a user would run it, with its tiny sweep; its report folder."""
    kind, profile = DECLARED[study], "quick" if study in QUICK else "full"
    tiny = TINY_SWEEPS.get(study, TINY_SWEEPS[kind])
    overrides = [*TINY, *SUITE[suite_of(study)], f"runtime.cache_dir={cache}", *tiny]
    out = tmp_path / study
    command = [sys.executable, "-m", "harness.reproduce", "--profile", profile, "--out", str(out), "--studies", study]
    done = subprocess.run([*command, *overrides], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{study}: {done.stderr[-2000:]}"
    return out


@pytest.fixture(scope="session")
def compile_cache(tmp_path_factory) -> Path:
    """One compilation cache for every tiny study (programs of equal shapes compile once): the
    run's shared one (tests/conftest.py), else one for this process."""
    shared = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    return Path(shared) if shared else tmp_path_factory.mktemp("compile_cache")


@pytest.mark.slow
@pytest.mark.parametrize("study", STUDIES)
def test_main_job_runs_the_study_and_writes_its_report(study, tmp_path, compile_cache):
    out = run_tiny_study(study, tmp_path, compile_cache)
    assert (out / "runs" / study / "0" / "result.json").exists()
    text = flat((out / "REPORT.md").read_text())
    figures = re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)
    assert f"{study}.png" in figures, study
    for suite in ("scenes", "digits"):  # the input samples of the image suites the study ran on, only those
        assert (f"{suite}_samples.png" in figures) == study.endswith(f"_{suite}"), study
    for figure in figures:
        assert (out / figure).stat().st_size > 0, figure
    verdicts = text.split("## Verdicts")[1].split("**How to read")[0]
    assert "| criterion | literature predicts | primary test |" in verdicts and "Jobs left out" not in text
    assert re.search(rf"\*\*({'|'.join(OUTCOMES)})\*\* \|", verdicts), study


def test_main_job_runs_studies_in_parallel_and_reports_their_failures(tmp_path, capsys):
    # An invalid value fails every study at validation, before any training: each of the two
    # parallel studies logs its one-line error, and with no result at all no report is written.
    out = tmp_path / "report"
    assert main(["--out", str(out), "--studies", "relatedness,missing_labels", "--jobs", "2", "model.width=-1"]) == 2
    for study in ("relatedness", "missing_labels"):
        assert "model.width=-1 is not accepted" in (out / "runs" / f"{study}.log").read_text()
    err = capsys.readouterr().err
    assert "study relatedness FAILED (exit status 2" in err and "study missing_labels FAILED (exit status 2" in err
    assert not (out / "REPORT.md").exists()


@pytest.mark.parametrize(
    "study, rows",
    [
        ("data_symmetry", ["negative control: tasks that share no features", "Sanity (protocol): at ratio 0"]),
        ("shared_features", ["negative control: tasks that share no features", "Sanity (protocol): with one task"]),
    ],
)
def test_studies_on_the_features_family_report_their_negative_control_and_sanity_row(study, rows, tmp_path):
    report, _ = write_report([write_sweep(tmp_path / study, study, references=True)], tmp_path / "out")
    verdicts = report.read_text().split("## Verdicts")[1].split("**How to read")[0]
    assert all(row in verdicts for row in rows)
