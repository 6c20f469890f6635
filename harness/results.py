"""result.json: what one job writes, and how it is written (atomically).

Schema version 1 is documented in docs/results.md.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 1
RESULT_FILE = "result.json"
METRICS = ("test_bce", "test_acc", "test_auroc", "val_bce", "best_step")
# A result file is kilobytes to a few megabytes; anything far larger is not one of ours.
MAX_RESULT_BYTES = 64 * 2**20


class UnreadableResult(ValueError):
    """A result.json that cannot be used: too large, unparsable, or not a JSON object (one line)."""


def read_result(path: str | Path) -> dict:
    """The payload of a result file, or UnreadableResult saying why not.

    Every reader (collect, resume, the sweep summary) goes through here, so a huge,
    deeply nested or truncated file is one listed problem, never a crash.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_RESULT_BYTES:
            raise UnreadableResult(f"{path.name} is {size / 2**20:.0f} MiB, over the {MAX_RESULT_BYTES >> 20} MiB cap")
        with open(path, "rb") as handle:
            payload = json.loads(handle.read())
    except UnreadableResult:
        raise
    except RecursionError:
        raise UnreadableResult(f"{path.name} is nested too deeply to parse") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        first = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise UnreadableResult(f"{path.name} unreadable: {first}") from None
    if not isinstance(payload, dict):
        raise UnreadableResult(f"{path.name} is not a JSON object")
    return payload


def write_json_atomic(path: str | Path, payload: dict) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide results from collaborators
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=1, allow_nan=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def records(arm: str, groups, metrics: dict[str, np.ndarray]) -> list[dict]:
    """One record per seed, network and head of an arm; metrics arrays are [S, G, H]."""
    out = []
    seeds, networks, heads = np.shape(metrics["test_bce"])
    for s in range(seeds):
        for g in range(networks):
            for h in range(heads):
                row = {"arm": arm, "task": int(groups[g][h]), "network": g, "seed": s}
                for name in METRICS:
                    value = float(metrics[name][s, g, h])
                    row[name] = int(value) if name == "best_step" else value
                out.append(row)
    return out


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


HYDRA_BOOKKEEPING = {".hydra", "run.log", "multirun.yaml"}


def discard_if_bookkeeping_only(folder: str | Path) -> None:
    """Remove an output folder that holds nothing but what Hydra wrote for a job that never ran.

    Used when a job is rejected before it starts, so no half-made result folder is left
    behind; a folder holding anything else is left untouched.
    """
    import shutil

    folder = Path(folder)
    if folder.is_dir() and {p.name for p in folder.iterdir()} <= HYDRA_BOOKKEEPING:
        shutil.rmtree(folder)
