"""result.json: what one job writes, and how it is written (atomically).

Schema version 1 is documented in README.md ("The result file").
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
