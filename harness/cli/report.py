"""`python -m harness.report SWEEP [SWEEP ...] [--out DIR] [--format png,pdf,svg]`: REPORT.md, figures, tables.

The command's arguments are checked first: each problem is one line on stderr, the exit
status is 2, and nothing is created. The work is harness/analysis (collect, studies,
report).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from harness.analysis.collect import CollectError
from harness.analysis.report import write_report
from harness.analysis.style import parse_formats


def problems(sweeps: list[Path], out: Path | None) -> list[str]:
    """One line per argument that cannot work."""
    found = []
    for sweep in sweeps:
        if not sweep.exists():
            found.append(f"{sweep}: no such folder")
        elif not sweep.is_dir():
            found.append(f"{sweep}: is a file; expected a sweep folder")
        elif not os.access(sweep, os.R_OK | os.X_OK):
            found.append(f"{sweep}: not readable")
    if out is not None and out.exists() and not out.is_dir():
        found.append(f"--out {out}: is a file; expected a folder")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.report", description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+", type=Path, help="sweep folders (Hydra multirun output, any launcher)")
    parser.add_argument("--out", type=Path, help="output folder (default: SWEEP/report for one sweep)")
    parser.add_argument("--format", default="png", help="figure formats, comma-separated: png (300 dpi), pdf, svg")
    args = parser.parse_args(argv)
    try:
        formats = parse_formats(args.format)
    except ValueError as error:
        parser.error(str(error))
    if args.out is None and len(args.sweeps) > 1:
        parser.error("--out is required with more than one sweep folder")
    bad = problems(args.sweeps, args.out)
    for line in bad:
        print(f"error: {line}", file=sys.stderr)
    if bad:
        return 2
    out = args.out or args.sweeps[0] / "report"
    try:
        report, collections = write_report(args.sweeps, out, formats=formats)
    except CollectError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for c in collections:
        for p in c.problems:
            print(f"skipped {c.root / p.job}: {p.kind}: {p.detail}", file=sys.stderr)
    log_to_tracking(args.sweeps, out)
    print(report)
    return 0


def log_to_tracking(sweeps: list[Path], out: Path) -> None:
    """The report's files, as artifacts of each tracked sweep's parent run; a store that
    cannot take them is a warning (the report is written)."""
    from harness.runs.tracking import log_report

    for sweep in sweeps:
        try:
            run_id = log_report(sweep, out)
        except Exception as error:  # noqa: BLE001 - any store failure; the report stands
            print(f"warning: {sweep}: the report was not added to its tracking run: {error}", file=sys.stderr)
        else:
            if run_id is not None:
                print(f"{sweep}: report added to tracking run {run_id}", file=sys.stderr)
