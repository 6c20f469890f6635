"""Every study composes, runs at a tiny size end to end, and its report draws its figures."""

import itertools

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from harness.config import from_omegaconf, register_schema
from harness.reproduce import MAIN_STUDIES, STUDIES, main
from harness.run import CONF_DIR

# Every study trains all five arms here, so that one compiled program per suite serves all
# of them (compilation, not training, is what costs time at this size).
TINY = [
    "arms=[mtl,stl,mtl_equal_params,mtl_drop,mtl_zero]",
    "data.pool=64", "data.n_val=32", "data.n_test=64", "model.width=4",
    "train.steps=20", "train.eval_every=10", "train.seeds=2", "train.batch_size=16", "runtime.progress=false",
]  # fmt: skip
SUITE = {"synthetic": ["data.dim=8", "data.tasks=3"], "scenes": ["data.image_size=16", "data.tasks=4"], "digits": []}
# Each study's sweep, shrunk to values that keep the shapes (and so the program) the same.
SWEEPS = {
    "capacity": ["data.n_per_task=20", "data.relatedness=0.5,1"],
    "capacity_scenes": ["data.n_per_task=10,20"],
    "capacity_digits": ["data.n_per_task=10,20"],
    "data_symmetry": ["data.n_target=10", "data.n_other=0,10,30"],
    "data_symmetry_scenes": ["data.n_target=10", "data.n_other=0,10,30"],
    "data_symmetry_digits": ["data.n_target=10", "data.n_other=0,10,30"],
    "relatedness": ["data.n_per_task=20", "data.relatedness=0,1"],
    "missing_labels": ["data.n_per_task=30", "data.missing=0,0.5"],
    "help_hurt_map": ["data.n_per_task=10,30", "data.relatedness=0,1"],
}
FIGURES = {
    "capacity": ["capacity.png", "capacity_gain.png"],
    "capacity_scenes": ["capacity_scenes.png", "capacity_scenes_gain.png"],
    "capacity_digits": ["capacity_digits.png", "capacity_digits_gain.png"],
    "data_symmetry": ["data_symmetry.png", "data_symmetry_k.png"],
    "data_symmetry_scenes": ["data_symmetry_scenes.png", "data_symmetry_scenes_k.png"],
    "data_symmetry_digits": ["data_symmetry_digits.png", "data_symmetry_digits_k.png"],
    "relatedness": ["relatedness.png"],
    "missing_labels": ["missing_labels.png"],
    "help_hurt_map": ["help_hurt_map.png", "help_hurt_map_rho.png"],
}


def suite_of(study: str) -> str:
    return study.rsplit("_", 1)[-1] if study.endswith(("_scenes", "_digits")) else "synthetic"


def test_every_study_has_a_tiny_sweep_and_figures():
    assert set(SWEEPS) == set(MAIN_STUDIES) == set(FIGURES)


def sweep(name: str):
    """Experiment NAME composed, and every job's overrides as the basic sweeper expands them."""
    register_schema()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"experiment={name}"], return_hydra_config=True)
    lines = [f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()]
    parsed = OverridesParser.create().parse_overrides(lines)
    axes = [
        [f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()]
        if o.is_sweep_override()
        else [f"{o.get_key_element()}={o.get_value_element_as_str()}"]  # a single value, e.g. data.tasks: 4
        for o in parsed
    ]
    return cfg, [list(job) for job in itertools.product(*axes)]


def job_runs(name: str):
    """Every job of experiment NAME as a validated RunConfig (raises ConfigError on a bad one)."""
    cfg, jobs = sweep(name)
    return [from_omegaconf(OmegaConf.merge(cfg, OmegaConf.from_dotlist(job))) for job in jobs]


@pytest.mark.parametrize("study", STUDIES)
def test_every_job_of_both_profiles_composes_and_validates(study):
    for name in (study, f"full/{study}"):
        assert len(job_runs(name)) > 1


def test_full_profile_is_paper_scale():
    runs = [run for s in MAIN_STUDIES for run in job_runs(f"full/{s}")]
    assert max(r.model.width for r in runs) == 1024 and min(r.train.seeds for r in runs) >= 5
    assert any(r.data.tasks == 100 and r.data.n_other == 1000 == r.data.n_target for r in runs)


@pytest.mark.slow
def test_main_job_runs_every_study_and_writes_the_report(tmp_path):
    out = tmp_path / "report"
    for study in MAIN_STUDIES:  # each study alone, as a user would run it, with its tiny sweep
        overrides = [*TINY, *SUITE[suite_of(study)], f"runtime.cache_dir={tmp_path / 'cache'}", *SWEEPS[study]]
        assert main(["--out", str(out), "--studies", study, *overrides]) == 0
        for figure in FIGURES[study]:
            assert (out / figure).stat().st_size > 0, figure
        assert (out / "runs" / study / "0" / "result.json").exists()
        text = (out / "REPORT.md").read_text()
        assert "| criterion | literature predicts |" in text and "Jobs left out" not in text


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
