"""One sweep per sweep folder: a lock while a sweep runs, and a check of whose results
the folder holds.

A Hydra callback (registered in conf/config.yaml), so it works whichever launcher runs
the jobs. At the start of a multirun, before Hydra writes anything into the folder:

- the sweep takes the folder's lock, `.sweep.lock` (filelock's flock, held while the
  sweep's process lives; `.sweep.owner` names its pid, host and start time); if another
  running sweep holds it, this one is refused in one line with exit status 2;
- if the folder holds another sweep's results (its multirun.yaml records other task
  overrides; `runtime.*` keys aside, as they do not change results), the sweep is
  refused the same way, so nothing of the other sweep is overwritten. The same sweep
  again, e.g. with runtime.resume=true, is accepted.

The lock is released at the end of the multirun, and by the kernel when the process
ends in any other way (a crash, kill -9): the files left by a killed sweep hold no lock,
so the next sweep, a resume, takes it at once.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock, Timeout
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from harness.config import ConfigError
from harness.config.errors import excerpt

LOCK = ".sweep.lock"
OWNER = ".sweep.owner"
RECORD = "multirun.yaml"  # written by Hydra's sweeper into the sweep folder, after this check


class SweepLock(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(str(config.hydra.sweep.dir))
        try:
            acquire(folder)
            try:
                check_owner(folder, list(config.hydra.overrides.task))
            except ConfigError:
                release(folder)
                raise
        except ConfigError as error:
            # SystemExit: Hydra turns a callback's exceptions into warnings and goes on.
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        release(Path(str(config.hydra.sweep.dir)))


# This process's sweeps' locks (filelock's flock: the kernel drops one when its process ends
# in any way, kill -9 included).
HELD: dict[Path, FileLock] = {}


def _owner(path: Path) -> dict | None:
    try:
        owner = json.loads(path.read_text())
        return owner if isinstance(owner, dict) else None
    except (OSError, ValueError):
        return None


def acquire(folder: Path) -> None:
    """Hold the folder's lock for this process, or a ConfigError naming the sweep that holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    if folder in HELD:
        release(folder)  # this process's earlier sweep, ended without its end-of-sweep callback
    # Not thread-local, and never the soft (file-exists) fallback, which a killed sweep would leave held.
    lock = FileLock(folder / LOCK, timeout=0, thread_local=False, fallback_to_soft=False)
    try:
        lock.acquire()
    except Timeout:
        owner = _owner(folder / OWNER)
        who = f"pid {owner.get('pid')} on {owner.get('host')}, since {owner.get('started')}" if owner else "unknown"
        raise ConfigError(
            f"{folder}: another sweep is running in this folder ({who}); wait for it, or choose another hydra.sweep.dir"
        ) from None
    started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    (folder / OWNER).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started}))
    HELD[folder] = lock


def release(folder: Path) -> None:
    lock = HELD.pop(folder, None)
    if lock is not None:
        (folder / OWNER).unlink(missing_ok=True)  # while still held, so it never names the next sweep
        lock.release()


def result_overrides(overrides: list[str]) -> list[str]:
    """The overrides that decide a sweep's jobs and results: all but `runtime.*`."""
    return [o for o in overrides if not o.lstrip("+~").startswith("runtime.")]


def check_owner(folder: Path, overrides: list[str]) -> None:
    """A ConfigError if the folder holds the results of a sweep with other overrides."""
    try:
        recorded = yaml.safe_load((folder / RECORD).read_text())["hydra"]["overrides"]["task"]
    except (OSError, ValueError, TypeError, KeyError, yaml.YAMLError):
        return  # no sweep recorded here (or not by Hydra's sweeper): nothing to protect
    if result_overrides(list(recorded)) != result_overrides(overrides):
        raise ConfigError(
            f"{folder} holds the results of another sweep ({excerpt(' '.join(recorded), 80)}); "
            "choose another hydra.sweep.dir, or delete that folder to replace them"
        )
