"""Process-wide JAX settings and the description of where a run ran."""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path

import harness
from harness.config import ConfigError
from harness.config.errors import excerpt

FAST_COMPILE_FLAG = "--xla_backend_optimization_level=1"


def request_fast_compile() -> None:
    """Ask XLA for its lighter LLVM pipeline; effective only before JAX first uses its backend."""
    flags = os.environ.get("XLA_FLAGS", "")
    if FAST_COMPILE_FLAG not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {FAST_COMPILE_FLAG}".strip()


def progress_bar(show: bool, **kwargs):
    """A tqdm bar on stderr, drawn only when `show` (runtime.progress) and stderr is a terminal."""
    from tqdm.auto import tqdm

    return tqdm(disable=None if show else True, **kwargs)  # None: tqdm turns itself off off a terminal


@contextlib.contextmanager
def ticking(bar, every: float = 0.5):
    """Redraw `bar` every `every` seconds while the block runs (its elapsed time moves while a
    program compiles and nothing updates it); nothing for a disabled bar."""
    stop = threading.Event()

    def tick():
        while not stop.wait(every):
            bar.refresh()

    thread = None if bar.disable else threading.Thread(target=tick, daemon=True)
    if thread:
        thread.start()
    try:
        yield bar
    finally:
        stop.set()
        if thread:
            thread.join()


def cache_folder(cache_dir: str) -> str | None:
    """runtime.cache_dir as a writable folder (made if missing), None for no cache, or a one-line ConfigError."""
    if not cache_dir:
        return None
    path = os.path.expanduser(cache_dir)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        reason = error.strerror or type(error).__name__
    else:
        if os.access(path, os.W_OK | os.X_OK):
            return path
        reason = "not writable"
    raise ConfigError(
        f"runtime.cache_dir={excerpt(cache_dir)} cannot be used as the compilation cache: {reason}; "
        "give a writable folder, or runtime.cache_dir='' for none"
    )


def enable_compilation_cache(cache_dir: str) -> None:
    """Persist every compiled program, so a new process with the same shapes compiles nothing."""
    import jax

    path = cache_folder(cache_dir)
    if path is None:
        return
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def environment() -> dict:
    import jax

    device = jax.devices()[0]
    versions = {}
    for package in ("jax", "jaxlib", "flax", "optax", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "harness": harness.__version__,
        "commit": source_commit(),
        **versions,
        "python": sys.version.split()[0],
        "platform": device.platform,
        "device": getattr(device, "device_kind", str(device)),
        "device_count": jax.device_count(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }


@functools.cache
def source_commit() -> str | None:
    """The git commit of the harness source that is running ("+dirty" if edited), or None.

    None for an installed copy: only a package that lives in the checkout's work tree
    reports the checkout's commit, not one installed into a virtual environment inside it.
    """
    package = Path(harness.__file__).resolve().parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=package, capture_output=True, text=True, timeout=10)
        if done.returncode != 0:
            raise OSError(done.stderr.strip())
        return done.stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() / "harness" != package:
            return None
        commit = git("rev-parse", "HEAD")
        return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):  # no git, not a checkout, or git too slow
        return None
