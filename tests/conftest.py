import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Tests check behaviour, not speed: a lighter LLVM pipeline compiles the many small test
# programs several times faster (subprocesses inherit it).
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=1").strip()

import pytest  # noqa: E402

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
