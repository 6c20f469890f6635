"""Every study composes, runs at a tiny size end to end, and its report draws its figures."""

import subprocess
import sys

import pytest

from harness.reproduce import STUDIES, main

# Every study trains all five arms here, so that one compiled program serves all of them
# (compilation, not training, is what costs time at this size).
TINY = [
    "arms=[mtl,stl,mtl_equal_params,mtl_drop,mtl_zero]",
    "data.pool=64", "data.n_val=32", "data.n_test=64", "data.dim=8", "data.tasks=3", "model.width=4",
    "train.steps=20", "train.eval_every=10", "train.seeds=2", "train.batch_size=16", "runtime.progress=false",
]  # fmt: skip
# Each study's sweep, shrunk to values that keep the shapes (and so the program) the same.
SWEEPS = {
    "capacity": ["data.n_per_task=20", "data.relatedness=0.5,1"],
    "data_symmetry": ["data.n_target=10", "data.n_other=0,10,30"],
    "relatedness": ["data.n_per_task=20", "data.relatedness=0,1"],
    "missing_labels": ["data.n_per_task=30", "data.missing=0,0.5"],
    "help_hurt_map": ["data.n_per_task=10,30", "data.relatedness=0,1"],
}
FIGURES = {
    "capacity": ["capacity.png", "capacity_gain.png"],
    "data_symmetry": ["data_symmetry.png", "data_symmetry_k.png"],
    "relatedness": ["relatedness.png"],
    "missing_labels": ["missing_labels.png"],
    "help_hurt_map": ["help_hurt_map.png", "help_hurt_map_rho.png"],
}


def test_every_study_has_a_tiny_sweep_and_figures():
    assert set(SWEEPS) == set(STUDIES) == set(FIGURES)


@pytest.mark.parametrize("study", STUDIES)
def test_study_composes_at_both_profiles(study):
    for name in (study, f"full/{study}"):
        shown = subprocess.run(
            [sys.executable, "-m", "harness.run", f"+experiment={name}", "--cfg", "hydra", "-p", "hydra.sweeper"],
            capture_output=True,
            text=True,
        )
        assert shown.returncode == 0, shown.stderr
        assert "params:" in shown.stdout


@pytest.mark.slow
def test_main_job_runs_every_study_and_writes_the_report(tmp_path):
    out = tmp_path / "report"
    for study in STUDIES:  # each study alone, as a user would run it, with its tiny sweep
        overrides = [*TINY, f"runtime.cache_dir={tmp_path / 'cache'}", *SWEEPS[study]]
        assert main(["--out", str(out), "--studies", study, *overrides]) == 0
        for figure in FIGURES[study]:
            assert (out / figure).stat().st_size > 0, figure
        assert (out / "runs" / study / "0" / "result.json").exists()
        text = (out / "REPORT.md").read_text()
        assert "| criterion | literature predicts |" in text and "Jobs left out" not in text
