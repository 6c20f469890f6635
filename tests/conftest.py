import os
import shutil
import subprocess
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Tests check behaviour, not speed: a lighter LLVM pipeline compiles the many small test
# programs several times faster (subprocesses inherit it).
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=1").strip()

import pytest  # noqa: E402
from sweeps import ROOT, cli_command, records  # noqa: E402

CACHE = "JAX_COMPILATION_CACHE_DIR"


def pytest_configure(config):
    """One compilation cache for the whole run, shared by the parallel workers (they inherit the
    environment) and the subprocesses without a runtime.cache_dir of their own: a program that two
    tests compile alike is compiled once. Made by the controlling process, removed when it ends."""
    if hasattr(config, "workerinput") or CACHE in os.environ:
        return
    os.environ[CACHE] = tempfile.mkdtemp(prefix="mtl-harness-tests-")
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    config.add_cleanup(lambda: shutil.rmtree(os.environ.pop(CACHE), ignore_errors=True))


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


def pytest_collection_modifyitems(config, items):
    """Order and group the tests for the parallel workers (pyproject's `-n auto --dist loadgroup`).

    The slow end-to-end tests go first, so that no long test starts last while the other
    worker idles. A module whose tests share one of its module-scoped fixtures runs on one
    worker, which then computes the fixture once; so do all the modules that share a session
    fixture of this file (a session fixture of a test module, such as a cache folder, is
    cheap on each worker and groups nothing).
    """
    by_module: dict[str, str] = {}
    for item in items:
        for defs in item._fixtureinfo.name2fixturedefs.values():
            fixture = defs[-1]
            if not fixture.baseid:  # a plugin's (tmp_path_factory, ...): cheap, not ours
                continue
            module = item.nodeid.split("::")[0]
            if fixture.scope == "session" and fixture.baseid == "tests":
                by_module[module] = f"session:{fixture.argname}"
            elif fixture.scope == "module":
                by_module.setdefault(module, module)
    for item in items:
        group = by_module.get(item.nodeid.split("::")[0])
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
