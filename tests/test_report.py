"""The report command: arguments checked first, nothing created on failure, any sweep reported."""

import html
import re

import pytest
from fake_results import payload, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sweeps import flat

from harness.analysis import style
from harness.analysis.common import gate
from harness.analysis.report import write_report
from harness.arms import ARMS
from harness.cli.report import main
from harness.config import ConfigError, RunConfig, validate
from harness.runs.resume import config_hash


def one_run(tmp_path, name="sweep", **kwargs):
    run = RunConfig(arms=["mtl", "stl"])
    run.data.tasks, run.train.seeds, run.train.steps, run.train.eval_every = 3, 3, 20, 10
    return write(tmp_path / name, 0, payload(run, **kwargs)).parent.parent


def test_every_bad_argument_is_one_line_and_nothing_is_created(tmp_path, capsys):
    good = one_run(tmp_path)
    afile = tmp_path / "result.json"
    afile.write_text("{}")
    out = tmp_path / "out"
    assert main([str(tmp_path / "nope"), str(afile), str(good), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'nope'}: no such folder", f"error: {afile}: is a file; expected a sweep folder"]
    assert not out.exists()


def test_a_folder_without_usable_results_leaves_no_report_folder(tmp_path, capsys):
    run = RunConfig()
    diverged = payload(run) | {"status": "diverged", "records": [], "diverged": [{"arm": "mtl", "seed": 0}]}
    write(tmp_path / "sweep", 0, diverged)
    assert main([str(tmp_path / "sweep")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "sweep" / "report").exists()
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2 and not (tmp_path / "empty" / "report").exists()


@pytest.mark.parametrize("fmt", ["pdf", "svg"])
def test_figures_in_the_format_asked_for(tmp_path, fmt):
    sweep = one_run(tmp_path)
    assert main([str(sweep), "--format", fmt]) == 0
    assert (sweep / "report" / f"sweep.{fmt}").stat().st_size > 0
    assert f"](sweep.{fmt})" in (sweep / "report" / "REPORT.md").read_text()


def test_several_formats_at_once_png_at_300_dpi_and_the_one_style_sheet(tmp_path, capsys):
    from matplotlib import rcParams
    from PIL import Image

    sweep = one_run(tmp_path)
    assert main([str(sweep), "--format", "pdf,png,svg"]) == 0
    for fmt in ("png", "pdf", "svg"):
        assert (sweep / "report" / f"sweep.{fmt}").stat().st_size > 0
    assert "](sweep.png)" in (sweep / "report" / "REPORT.md").read_text()  # a browser shows png, not pdf
    with Image.open(sweep / "report" / "sweep.png") as png:
        assert png.info["dpi"] == pytest.approx((300, 300), abs=0.5)
    assert rcParams["savefig.dpi"] == 300 and rcParams["axes.spines.top"] is False  # harness.mplstyle
    with pytest.raises(SystemExit):
        main([str(sweep), "--format", "png,jpeg"])
    assert "--format 'png,jpeg': expected one or more of png, pdf, svg" in capsys.readouterr().err


def test_a_single_run_that_is_no_study_gets_arms_per_task_and_the_gain_of_sharing(tmp_path):
    report, _ = write_report([one_run(tmp_path)], tmp_path / "out")
    text = flat(report.read_text())
    assert "| point | task | mtl log loss | mtl AUROC | stl log loss | stl AUROC | gain of sharing |" in text
    assert "| all | task0 | " in text and "| Sharing beats separate networks |" in text
    assert (tmp_path / "out" / "sweep.png").stat().st_size > 0


def test_the_gate_lists_the_points_it_leaves_out(tmp_path):
    from harness.analysis.collect import collect

    for job, (learned, rho) in enumerate(((0.2, 0.1), (0.9, 0.9))):
        run = RunConfig(arms=["mtl", "stl"])
        run.data.relatedness = rho
        write(tmp_path, job, payload(run, job, references=True, learned=learned))
    table = collect(tmp_path).table
    kept, note = gate(table, ["data.relatedness"])
    assert set(kept["job"]) == {"1"} and "Excluded (1 of 2): data.relatedness=0.1 (20%)" in note
    old = table[table["metric"] != "learned_auroc"]
    assert gate(old, ["data.relatedness"])[0] is old


def test_every_arm_has_a_style_and_its_own_colour():
    assert set(ARMS) == set(style.ARMS)
    colours = [style.arm_style(a).color for a in ARMS]
    assert len(set(colours)) == len(colours)
    with pytest.raises(KeyError, match="harness/arms.py"):
        style.arms_in(["mtl", "new_arm"])


def test_the_study_key_is_checked_and_left_out_of_the_config_hash():
    run = RunConfig(study="capacity")
    validate(run)
    assert config_hash(run) == config_hash(RunConfig())
    with pytest.raises(ConfigError, match="study='not a name' is not accepted"):
        validate(RunConfig(study="not a name"))


def test_runs_still_improving_at_their_last_evaluation_are_counted(tmp_path):
    run = RunConfig(arms=["mtl", "stl"])
    run.data.tasks, run.train.seeds = 2, 2
    result = payload(run, references=True)
    for i, rec in enumerate(result["records"]):
        rec["undertrained"] = float(i == 0)
    write(tmp_path / "sweep", 0, result)
    report, _ = write_report([tmp_path / "sweep"], tmp_path / "out")
    assert "1 of 8 (arm, task, seed) runs were still improving" in report.read_text()


@pytest.mark.slow
def test_the_analysis_never_imports_jax_or_the_trainer():
    import subprocess
    import sys

    code = (
        "import sys, harness.report, harness.analysis.registry as r; r.load_studies(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'jax' or m.startswith('harness.train')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr[-500:]


NAMES = st.text(alphabet=st.sampled_from(list("ab |<>&`*_[]#!\\/\n\"'")), min_size=1, max_size=12)


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(NAMES, min_size=3, max_size=3))
def test_task_names_with_markdown_or_html_characters_are_shown_as_written_in_the_report(tmp_path_factory, names):
    """A name never adds a table cell or a line, and never becomes markup or HTML."""
    run = RunConfig(arms=["mtl", "stl"])
    run.data.tasks, run.train.seeds, run.train.steps, run.train.eval_every = 3, 3, 20, 10
    folder = tmp_path_factory.mktemp("names")
    write(folder / "sweep", 0, payload(run) | {"task_names": names})
    text = write_report([folder / "sweep"], folder / "out")[0].read_text()  # names' own spaces kept
    table = re.split(r"\| point +\| task +\| ", text, maxsplit=1)[1].split("\n\n", 1)[0].splitlines()[2:]
    rows = [line for line in table if re.match(r"\| all +\| ", line)]
    assert len(rows) == len(table) == 3
    for row, name in zip(rows, names, strict=True):
        cells = re.split(r"(?<!\\)\|", row)[1:-1]
        assert len(cells) == 7  # point, task, two arms' two metrics, the gain
        shown = re.sub(r"\\(.)", r"\1", html.unescape(cells[1].strip()))
        assert shown == " ".join(name.splitlines()).strip()
    assert "<" not in text.split("## ", 1)[1].replace("&lt;", "")


def test_a_sweep_the_gate_excludes_entirely_says_why_point_by_point(tmp_path):
    for job, rho in enumerate((0.1, 0.9)):
        run = RunConfig(arms=["mtl", "stl"])
        run.data.relatedness = rho
        write(tmp_path / "sweep", job, payload(run, job, references=True, learned=0.3))
    report, _ = write_report([tmp_path / "sweep"], tmp_path / "out")
    text = flat(report.read_text())
    verdicts = text.split("## Verdicts")[1].split("**How to read")[0]
    assert "no criterion could be tested" in verdicts and "**not applicable**" in verdicts
    assert "| data.relatedness | learned fraction (stl) | gate |" in text
    assert "| 0.1 | 30% | excluded |" in text and "| 0.9 | 30% | excluded |" in text
