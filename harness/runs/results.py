"""result.json: what one job writes, and how it is written (atomically).

The schema (version 2) is documented in docs/results.md; version 2 added the
learnability references (docs/task-families.md).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 2
RESULT_FILE = "result.json"
TRAINED = ("test_bce", "test_acc", "test_auroc", "val_bce", "best_step", "undertrained", "lr")
# Record fields that are not floats: how each is written.
EXACT = {"best_step": int, "undertrained": bool}
# Per seed and task, from harness.data.references; NaN where a suite has no Bayes reference.
REFERENCES = ("constant_bce", "bayes_bce", "bayes_auroc")
LEARNED = ("learned_bce", "learned_auroc")
METRICS = TRAINED + REFERENCES + LEARNED
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
    except BaseException as error:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(error, OSError) and not error.filename:  # a failed write names no file
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def learned_fraction(value, floor, best):
    """The share of the gap from `floor` (the constant predictor) to `best` (Bayes) that
    `value` closed: 0 at the floor, 1 at the best; NaN where there is no gap."""
    value, floor, best = (np.asarray(v, np.float64) for v in (value, floor, best))
    gap = best - floor
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gap != 0, (value - floor) / gap, np.nan)


def records(arm: str, groups, metrics: dict[str, np.ndarray], references: dict[str, np.ndarray]) -> list[dict]:
    """One record per seed, network and head of an arm; metrics arrays are [S, G, H],
    references [S, K] (see harness.data.references)."""
    out = []
    seeds, networks, heads = np.shape(metrics["test_bce"])
    for s in range(seeds):
        for g in range(networks):
            for h in range(heads):
                if groups[g][h] < 0:  # a padding head (arms.PAD) is no task's result
                    continue
                task = int(groups[g][h])
                row = {"arm": arm, "task": task, "network": g, "seed": s}
                for name in TRAINED:
                    row[name] = EXACT.get(name, float)(metrics[name][s, g, h])
                row |= {name: float(references[name][s, task]) for name in REFERENCES}
                row["learned_bce"] = float(learned_fraction(row["test_bce"], row["constant_bce"], row["bayes_bce"]))
                row["learned_auroc"] = float(learned_fraction(row["test_auroc"], 0.5, row["bayes_auroc"]))
                out.append(row)
    return out


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


# .sweep.lock and .sweep.owner: sweep_lock.py; tracking.json: harness/runs/tracking.
HYDRA_BOOKKEEPING = {".hydra", "run.log", "advise.log", "multirun.yaml", ".sweep.lock", ".sweep.owner", "tracking.json"}


def discard_if_bookkeeping_only(folder: str | Path) -> None:
    """Remove an output folder that holds nothing but what Hydra wrote for a job that never ran.

    Used when a job is rejected before it starts, so no half-made result folder is left
    behind; a folder holding anything else is left untouched.
    """
    import shutil

    folder = Path(folder)
    if folder.is_dir() and {p.name for p in folder.iterdir()} <= HYDRA_BOOKKEEPING:
        shutil.rmtree(folder)
