"""Wall time of one 48-job sweep with the default launcher against the fused one.

The sweep: 4 relatedness values x 4 label sizes x 3 learning rates at one width, both
arms, every job its own output folder. Each launcher runs the whole CLI command
(`python -m harness.run -m ...`) in a fresh process with an empty compilation cache,
back to back in this one run, so both pay their compilations and Hydra's per-job work.
With --warm, each launcher first runs the sweep once untimed to fill its cache, and the
timed run measures a rerun (compilation loaded from the persistent cache).
The fused results are checked against the default ones (largest metric difference).
Runs unchanged on CPU or GPU (JAX picks the device); prints a Markdown table.

    python benchmarks/fused_sweep.py [--steps 500] [--width 64] [--seeds 3] [--warm] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from cli_sweep import timed_sweep

SWEEP = ["data.relatedness=0.2,0.4,0.6,0.8", "data.n_per_task=25,50,100,200", "train.lr=0.0003,0.001,0.003"]
METRICS = ("test_bce", "test_acc", "test_auroc", "val_bce")


def run_sweep(launcher: str, folder: Path, args: argparse.Namespace, name: str) -> float:
    return timed_sweep(
        [
            *SWEEP,
            f"model.width={args.width}",
            f"train.steps={args.steps}",
            f"train.eval_every={args.eval_every}",
            f"train.seeds={args.seeds}",
            f"hydra/launcher={launcher}",
            f"hydra.sweep.dir={folder / name}",
            f"runtime.cache_dir={folder / ('cache-' + launcher)}",
        ],
        f"{launcher} sweep",
    )


def load(sweep: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(sweep.glob("*/result.json"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--warm", action="store_true", help="time a rerun on a filled compilation cache")
    parser.add_argument("--keep", type=Path, help="write the sweeps here instead of a temporary folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        seconds = {}
        for launcher in ("harness", "fused"):
            if args.warm:
                run_sweep(launcher, folder, args, f"{launcher}-warmup")
            seconds[launcher] = run_sweep(launcher, folder, args, launcher)
        basic, fast = load(folder / "harness"), load(folder / "fused")
    assert basic.keys() == fast.keys() and len(basic) == 48, "both sweeps must write all 48 results"
    worst = max(
        abs(a[m] - b[m])
        for job in basic
        for a, b in zip(basic[job]["records"], fast[job]["records"], strict=True)
        for m in METRICS
    )
    env = next(iter(basic.values()))["environment"]
    compile_s = {
        "harness": sum(r["timing"]["compile_seconds"] for r in basic.values()),
        "fused": sum(r["timing"]["compile_seconds"] for r in fast.values()),
    }
    print(
        f"Device: {env['device']} ({env['platform']}, {env['cpu_count']} CPUs), jax {env['jax']}. "
        f"48 jobs: width {args.width}, {args.steps} steps, {args.seeds} seeds, arms mtl+stl, 8 tasks; "
        f"{'warm' if args.warm else 'empty'} compilation cache.\n"
    )
    print("| launcher | wall seconds | compile seconds | jobs per second | speedup |")
    print("| --- | --- | --- | --- | --- |")
    for launcher, name in (("harness", "basic (hydra/launcher=harness)"), ("fused", "fused (hydra/launcher=fused)")):
        print(
            f"| {name} | {seconds[launcher]:.1f} | {compile_s[launcher]:.1f} | {48 / seconds[launcher]:.2f} "
            f"| {seconds['harness'] / seconds[launcher]:.1f}x |"
        )
    print(f"\nLargest difference in any test/validation metric between the two: {worst:.2e}")


if __name__ == "__main__":
    main()
