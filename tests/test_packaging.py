"""A non-editable install works outside the checkout: its console scripts run a job and a study and write the report.

The test builds the wheel from a copy of the source tree and installs it into a new
virtual environment. To stay fast and offline for the dependencies, that environment
sees the running interpreter's site-packages through a .pth file (after its own, so the
installed harness, not the checkout, is imported) and the wheel is installed with
--no-deps; pip still fetches the build backend (setuptools, wheel) for the isolated build.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from sweeps import ROOT, TINY

import harness

pytestmark = pytest.mark.slow
SOURCE = ("pyproject.toml", "README.md", "harness", "conf", "experiments", "hydra_plugins")


def sh(*command, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    # Without PYTHONPATH: nothing of the checkout may leak into the installed copy's processes.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"JAX_PLATFORMS": "cpu"}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command[0]}: {done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ folder of a fresh virtual environment with the harness installed from a wheel."""
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    source.mkdir()
    for name in SOURCE:  # a copy, so the build writes nothing into the checkout
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    venv = base / "venv"
    sh(sys.executable, "-m", "venv", str(venv), cwd=base, timeout=120)
    python = venv / "bin" / "python"
    purelib = sh(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=base).stdout
    parents = [*site.getsitepackages(), sysconfig.get_paths()["purelib"]]
    (Path(purelib.strip()) / "parent-site.pth").write_text("\n".join(dict.fromkeys(parents)) + "\n")
    sh(str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(source), cwd=base)
    return venv / "bin"


def test_console_scripts_run_a_job_and_a_study_and_write_the_report(installed, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    cache = f"runtime.cache_dir={tmp_path / 'cache'}"
    run = tmp_path / "run"
    sh(str(installed / "mtl-run"), *TINY, cache, f"hydra.run.dir={run}", cwd=work)
    result = json.loads((run / "result.json").read_text())
    assert result["status"] == "ok"
    assert result["environment"]["harness"] == harness.__version__
    assert result["environment"]["commit"] is None  # an installed copy is no checkout
    where = sh(str(installed / "python"), "-c", "import harness; print(harness.__file__)", cwd=work).stdout
    assert not Path(where.strip()).is_relative_to(ROOT)

    # A study from experiments/, which the wheel carries as package data (the sweep's own
    # grid overridden to two tiny points).
    sweep = tmp_path / "study"
    study = ["-m", "experiment=capacity", *TINY, "data.tasks=2", "model.width=2,8"]
    sh(str(installed / "mtl-run"), *study, cache, f"hydra.sweep.dir={sweep}", cwd=work)
    assert [json.loads((sweep / str(i) / "result.json").read_text())["status"] for i in range(2)] == ["ok", "ok"]

    sh(str(installed / "mtl-report"), str(sweep), "--out", str(tmp_path / "report"), cwd=work)
    assert "Capacity" in (tmp_path / "report" / "REPORT.md").read_text()
    assert "--profile" in sh(str(installed / "mtl-reproduce"), "--help", cwd=work).stdout
    assert "experiment: " in sh(str(installed / "mtl-advise"), "--help", cwd=work).stdout  # the groups, from the wheel
