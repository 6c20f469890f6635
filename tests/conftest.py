import os
import subprocess

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Tests check behaviour, not speed: a lighter LLVM pipeline compiles the many small test
# programs several times faster (subprocesses inherit it).
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=1").strip()

import pytest  # noqa: E402
from sweeps import ROOT, cli_command, records  # noqa: E402

from harness.config import RunConfig, validate  # noqa: E402


def tiny_run(**sections) -> RunConfig:
    """A run small enough to train in well under a second once compiled."""
    run = RunConfig()
    d, m, t = run.data, run.model, run.train
    d.tasks, d.dim, d.pool, d.n_per_task, d.n_val, d.n_test = 3, 8, 64, 32, 32, 64
    m.width, m.depth = 8, 1
    t.steps, t.eval_every, t.batch_size, t.seeds = 40, 20, 16, 2
    run.runtime.progress = False
    for section, values in sections.items():
        if section == "arms":
            run.arms = list(values)
            continue
        for key, value in values.items():
            setattr(getattr(run, section), key, value)
    validate(run)
    return run


@pytest.fixture
def tiny():
    return tiny_run


@pytest.fixture(scope="session")
def uninterrupted(tmp_path_factory) -> dict[int, list[dict]]:
    """The reference for sweep tests: the tiny sweep run once, uninterrupted, by the default launcher."""
    base = tmp_path_factory.mktemp("uninterrupted")
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        cli_command(base / "sweep", base / "cache"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return records(base / "sweep")


@pytest.fixture(autouse=True)
def _retrace_when_mutmut_maps_tests():
    """While mutmut records which tests call which function (MUTANT_UNDER_TEST=stats), every test
    traces its programs afresh: the trainer's helpers and harness/train/gradients.py run only while a
    program is traced, and a program cached by an earlier test would hide them from later ones."""
    if os.environ.get("MUTANT_UNDER_TEST") == "stats":
        from harness.train.trainer import Compiled

        Compiled._cache.clear()
    yield
