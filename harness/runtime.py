"""Process-wide JAX settings and the description of where a run ran."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

FAST_COMPILE_FLAG = "--xla_backend_optimization_level=1"


def request_fast_compile() -> None:
    """Ask XLA for its lighter LLVM pipeline; effective only before JAX first uses its backend."""
    flags = os.environ.get("XLA_FLAGS", "")
    if FAST_COMPILE_FLAG not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {FAST_COMPILE_FLAG}".strip()


def enable_compilation_cache(cache_dir: str) -> None:
    """Persist every compiled program, so a new process with the same shapes compiles nothing."""
    import jax

    if not cache_dir:
        return
    path = os.path.expanduser(cache_dir)
    os.makedirs(path, exist_ok=True)
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
        **versions,
        "python": sys.version.split()[0],
        "platform": device.platform,
        "device": getattr(device, "device_kind", str(device)),
        "device_count": jax.device_count(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }
