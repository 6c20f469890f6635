"""Run `python -m harness.run -m ...` as a user would, in a fresh process, and time it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed_sweep(overrides: list[str], what: str = "sweep") -> float:
    """Wall seconds of one multirun; exits with the sweep's last error line if it fails."""
    command = [sys.executable, "-m", "harness.run", "-m", *overrides, "runtime.progress=false"]
    begin = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - begin
    if done.returncode != 0:
        sys.exit(f"error: the {what} failed: {done.stderr.strip().splitlines()[-1]}")
    return seconds
