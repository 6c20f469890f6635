import os
import subprocess

import pytest
from sweeps import ROOT, cli_command, records


@pytest.fixture(scope="session")
def uninterrupted(tmp_path_factory) -> dict[int, list[dict]]:
    """The reference for sweep tests: the tiny sweep run once, uninterrupted, by the default launcher."""
    base = tmp_path_factory.mktemp("uninterrupted")
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        cli_command(base / "sweep", base / "cache"), cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return records(base / "sweep")
