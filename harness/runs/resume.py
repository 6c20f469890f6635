"""Which jobs of a sweep are already done: the config hash and the result.json check.

A job counts as done when its output folder holds a result.json that parses, has this
schema version, a final status ("ok" or "diverged": a rerun would diverge again) and
the hash of the same harness config. Failed jobs, missing or unreadable files and
results of another config are run again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from harness.config import RunConfig, to_dict
from harness.runs.results import RESULT_FILE, SCHEMA_VERSION, UnreadableResult, read_result

FINAL = ("ok", "diverged")


def config_hash(run: RunConfig) -> str:
    """Hash of everything that decides a job's result; `runtime` (cache, progress, resume) and
    `study` (which analysis reads the result) are left out, so a result keeps its hash when
    an experiment file is relabelled."""
    config = to_dict(run)
    del config["runtime"], config["study"]
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def completed(folder: str | Path, run: RunConfig) -> bool:
    try:
        result = read_result(Path(folder) / RESULT_FILE)
    except UnreadableResult:  # missing, corrupt or not ours: run the job again
        return False
    return (
        result.get("schema_version") == SCHEMA_VERSION
        and result.get("status") in FINAL
        and result.get("config_hash") == config_hash(run)
    )


def remove_partial_writes(folder: str | Path) -> list[Path]:
    """Delete temporary files that an atomic write killed before its rename left behind."""
    folder = Path(folder)
    leftovers = sorted(folder.glob(f".{RESULT_FILE}.*.tmp")) if folder.is_dir() else []
    for path in leftovers:
        path.unlink()
    return leftovers
