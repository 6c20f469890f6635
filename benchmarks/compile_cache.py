"""Compile seconds of the same sweep in a first and a second process, sharing one persistent cache.

The first process starts from an empty cache (runtime.cache_dir) and compiles; the
second runs the identical sweep in a new process and should compile nothing: it adds
no entry to the cache and its compile seconds are only tracing and loading. Each
process's compile seconds are the sum of its jobs' timing.compile_seconds.

    python benchmarks/compile_cache.py [--launcher harness|fused] [--width 64] [--steps 100]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from cli_sweep import timed_sweep


def sweep(folder: Path, cache: Path, args: argparse.Namespace) -> tuple[float, float]:
    wall = timed_sweep(
        [
            "data.relatedness=0.2,0.8",
            f"model.width={args.width}",
            f"train.steps={args.steps}",
            f"hydra/launcher={args.launcher}",
            f"hydra.sweep.dir={folder}",
            f"runtime.cache_dir={cache}",
        ]
    )
    compile_s = sum(json.loads(p.read_text())["timing"]["compile_seconds"] for p in folder.glob("*/result.json"))
    return compile_s, wall


def entries(cache: Path) -> int:
    return sum(1 for p in cache.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launcher", default="harness", choices=("harness", "fused"))
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(scratch) / "cache"
        rows = []
        for name in ("first", "second"):
            before = entries(cache) if cache.exists() else 0
            compile_s, wall = sweep(Path(scratch) / name, cache, args)
            rows.append((name, compile_s, wall, entries(cache) - before))
    print(f"2-job sweep, hydra/launcher={args.launcher}, width {args.width}, {args.steps} steps, one shared cache.\n")
    print("| process | compile seconds | wall seconds | cache entries written |")
    print("| --- | --- | --- | --- |")
    for name, compile_s, wall, written in rows:
        print(f"| {name} | {compile_s:.2f} | {wall:.1f} | {written} |")


if __name__ == "__main__":
    main()
