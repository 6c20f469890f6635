"""One sweep per sweep folder: a lock while a sweep runs, and a check of whose results
the folder holds.

A Hydra callback (registered in conf/config.yaml), so it works whichever launcher runs
the jobs. At the start of a multirun, before Hydra writes anything into the folder:

- the sweep takes the folder's lock, `.sweep.lock` (an flock held while the sweep's
  process lives; the file names its pid, host and start time); if another running sweep
  holds it, this one is refused in one line with exit status 2;
- if the folder holds another sweep's results (its multirun.yaml records other task
  overrides; `runtime.*` keys aside, as they do not change results), the sweep is
  refused the same way, so nothing of the other sweep is overwritten. The same sweep
  again, e.g. with runtime.resume=true, is accepted.

The lock is released at the end of the multirun, and by the kernel when the process
ends in any other way (a crash, kill -9): a file left by a killed sweep holds no lock,
so the next sweep, a resume, takes it at once.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from harness.config import ConfigError
from harness.config.errors import excerpt

LOCK = ".sweep.lock"
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


# The open lock files of this process's sweeps: the kernel holds each lock while its file
# is open, and drops it when the process ends in any way (kill -9 included).
HELD: dict[Path, int] = {}


def _owner(fd: int) -> dict | None:
    try:
        owner = json.loads(os.pread(fd, 4096, 0))
        return owner if isinstance(owner, dict) else None
    except (OSError, ValueError):
        return None


def acquire(folder: Path) -> None:
    """Hold the folder's lock for this process, or a ConfigError naming the sweep that holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK
    if folder in HELD:
        release(folder)  # this process's earlier sweep, ended without its end-of-sweep callback
    while True:
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _owner(fd)
            os.close(fd)
            who = f"pid {owner.get('pid')} on {owner.get('host')}, since {owner.get('started')}" if owner else "unknown"
            raise ConfigError(
                f"{folder}: another sweep is running in this folder ({who}); wait for it, or choose another "
                "hydra.sweep.dir"
            ) from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the file was replaced or removed by a sweep that just ended: lock the new one
    os.ftruncate(fd, 0)
    started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started}).encode(), 0)
    HELD[folder] = fd


def release(folder: Path) -> None:
    fd = HELD.pop(folder, None)
    if fd is not None:
        (folder / LOCK).unlink(missing_ok=True)  # while still held, so no other sweep holds this file
        os.close(fd)


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
