"""`python -m harness.reproduce [--profile quick|full] [--out DIR] [--studies A,B] [OVERRIDE ...]`: the main job.

Runs every study (each experiment file that states `study:`, see
harness/analysis/registry.py) as an ordinary Hydra multirun (`python -m harness.run -m
experiment=NAME`, or `full/NAME` for the full profile) into DIR/runs/NAME, then writes
the report (REPORT.md, figures, tables) into DIR. Default DIR: reports/. OVERRIDEs are
passed to every study (for example runtime.cache_dir=... or train.seeds=5).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from harness.analysis.collect import CollectError
from harness.analysis.registry import main_studies
from harness.analysis.report import write_report
from harness.analysis.samples import IMAGE_SUITES, draw_samples
from harness.analysis.style import parse_formats

PROFILES = {"quick": "", "full": "full/"}  # experiment name prefix per profile
# The quick profile compiles dozens of small programs on a CPU, where compiling, not
# training, dominates: the lighter compile pipeline keeps it inside its time budget.
PROFILE_OVERRIDES = {"quick": ["runtime.fast_compile=true"], "full": []}


def study_command(name: str, profile: str, runs: Path, overrides: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "harness.run",
        "-m",
        f"experiment={PROFILES[profile]}{name}",
        f"hydra.sweep.dir={runs / name}",
        *PROFILE_OVERRIDES[profile],
        *overrides,
    ]


def run_studies(studies: list[str], profile: str, runs: Path, overrides: list[str], jobs: int) -> dict[str, tuple]:
    """Each study as a subprocess multirun into runs/NAME (replaced), up to `jobs` at a time.

    Returns {name: (exit status, seconds)}. With one job at a time the studies print to
    this terminal; with more, each writes runs/NAME.log and a line says when it ended.
    Compiling is single-threaded, so two studies at a time keep both cores of a small
    machine busy. Raises KeyboardInterrupt (after stopping the others) if a study was
    killed or interrupted.
    """
    runs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    if jobs > 1:  # studies sharing a GPU each take memory as they need it, not 75% up front
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    pending, running, done = list(studies), {}, {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                name = pending.pop(0)
                shutil.rmtree(runs / name, ignore_errors=True)
                command = study_command(name, profile, runs, overrides)
                print(f"[{len(done) + len(running) + 1}/{len(studies)}] {' '.join(command[1:])}", file=sys.stderr)
                log = None if jobs == 1 else open(runs / f"{name}.log", "w")  # noqa: SIM115 (closed below)
                process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT if log else None)
                running[name] = (process, log, time.perf_counter())
            time.sleep(0.2)
            for name, (process, log, begin) in list(running.items()):
                if process.poll() is None:
                    continue
                del running[name]
                if log:
                    log.close()
                status = process.returncode
                if status < 0 or status == 130:  # killed or interrupted (Ctrl-C): stop the main job
                    raise KeyboardInterrupt
                done[name] = (status, time.perf_counter() - begin)
                if jobs > 1:
                    outcome = "done" if status == 0 else f"FAILED (exit status {status}; see {runs / name}.log)"
                    print(f"study {name} {outcome} in {done[name][1]:.0f} s", file=sys.stderr, flush=True)
    finally:
        for process, log, _ in running.values():
            process.terminate()
            process.wait()
            if log:
                log.close()
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="results and report folder (reports/)")
    parser.add_argument("--studies", help="comma-separated subset of the profile's studies (default: all of them)")
    parser.add_argument("--jobs", type=int, default=2, help="studies run at the same time, each in its own process (2)")
    parser.add_argument("--format", default="png", help="figure formats, comma-separated: png (300 dpi), pdf, svg")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides passed to every study")
    args = parser.parse_args(argv)
    try:
        formats = parse_formats(args.format)
    except ValueError as error:
        parser.error(str(error))
    every = main_studies(args.profile)
    studies = [s for s in (args.studies or ",".join(every)).split(",") if s]
    unknown = [s for s in studies if s not in every]
    if unknown or not studies:
        accepted = ", ".join(every)
        parser.error(
            f"--studies: unknown {', '.join(unknown) or '(none given)'}; accepted ({args.profile}): {accepted}"
        )
    if args.jobs < 1:
        parser.error(f"--jobs: {args.jobs} is not accepted; expected an integer >= 1")

    started = _dt.datetime.now().astimezone()
    load_before = os.getloadavg()[0]
    begin = time.perf_counter()
    runs = args.out / "runs"
    try:
        done = run_studies(studies, args.profile, runs, args.overrides, args.jobs)
    except KeyboardInterrupt:
        print("interrupted: no report written", file=sys.stderr)
        return 130
    timings = [f"{name} {done[name][1]:.0f} s" for name in studies]
    failed = [f"{name} (exit status {done[name][0]})" for name in studies if done[name][0] != 0]
    study_seconds = time.perf_counter() - begin
    preamble = [
        f"Generated by `python -m harness.reproduce --profile {args.profile}"
        + (f" {' '.join(args.overrides)}" if args.overrides else "")
        + f"` on {started:%Y-%m-%d %H:%M %Z}.",
        "",
        f"- Wall time: {study_seconds / 60:.1f} min for the studies, {args.jobs} at a time ({'; '.join(timings)}); "
        f"1-minute load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.",
    ]
    preamble += [f"- **Failed study**: {text}; its jobs that finished are reported." for text in failed]
    # The image suites this report's studies ran on (their names end in _scenes or _digits).
    suites = tuple(suite for suite in IMAGE_SUITES if any(name.endswith(f"_{suite}") for name in studies))
    if suites:
        preamble += [
            f"- Inputs of the image suites ({', '.join(f'`data={suite}`' for suite in suites)}), training images "
            'with their labels, "?" where the label is missing (30% hidden here):',
            "",
            *(f"  ![{path.name}]({path.name})" for path in draw_samples(args.out, suites=suites)),
        ]
    try:
        report, _ = write_report(
            [runs / name for name in studies],
            args.out,
            f"mtl-harness: {args.profile}-profile report",
            preamble,
            formats,
        )
    except CollectError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{report} (studies {study_seconds:.0f} s, total {time.perf_counter() - begin:.0f} s)")
    return 1 if failed else 0
