"""One sweep per sweep folder: a lock while a sweep runs, and a check of whose results
the folder holds.

A Hydra callback (registered in conf/config.yaml), so it works whichever launcher runs
the jobs. At the start of a multirun, before Hydra writes anything into the folder:

- the sweep takes the folder's lock, `.sweep.lock` (its pid, host and start time); if
  another running sweep holds it, this one is refused in one line with exit status 2;
- if the folder holds another sweep's results (its multirun.yaml records other task
  overrides; `runtime.*` keys aside, as they do not change results), the sweep is
  refused the same way, so nothing of the other sweep is overwritten. The same sweep
  again, e.g. with runtime.resume=true, is accepted.

The lock is released at the end of the multirun. A lock left by a process that no
longer runs on this host (a killed sweep) is taken over.
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


def _me() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _owner(lock: Path) -> dict | None:
    try:
        owner = json.loads(lock.read_text())
        return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else None
    except (OSError, ValueError):
        return None


def _running(owner: dict | None) -> bool:
    """Whether the lock's owner may still run: unknown owners and other hosts count as running."""
    if owner is None or owner.get("host") != socket.gethostname():
        return True
    if owner["pid"] == os.getpid():
        return False  # this process's earlier sweep, ended without its end-of-sweep callback
    try:
        os.kill(owner["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def acquire(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _owner(lock)
            if _running(owner):
                who = f"pid {owner['pid']} on {owner.get('host')}, since {owner.get('started')}" if owner else "unknown"
                raise ConfigError(
                    f"{folder}: another sweep is running in this folder ({who}); wait for it, choose another "
                    f"hydra.sweep.dir, or delete {lock} if no sweep runs there"
                ) from None
            lock.unlink(missing_ok=True)  # its sweep was killed
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump({**_me(), "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}, handle)
        return
    raise ConfigError(
        f"{folder}: another sweep took this folder's lock at the same time; choose another hydra.sweep.dir"
    )


def release(folder: Path) -> None:
    lock = folder / LOCK
    owner = _owner(lock)
    if owner is not None and {k: owner.get(k) for k in ("pid", "host")} == _me():
        lock.unlink(missing_ok=True)


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
