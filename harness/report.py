"""`python -m harness.report SWEEP [SWEEP ...] [--out DIR]`: tidy tables, figures and REPORT.md.

Each sweep folder is collected (harness/collect.py), analysed as the study it ran
(harness/studies.py) and written into DIR: results.csv / results.parquet per sweep,
the PNG figures, and one REPORT.md that opens with the verdict table.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import pandas as pd

from harness.collect import CollectError, Collection, collect, write_table
from harness.studies import Section, analyse

CONVENTIONS = """\
**How to read this report.** The *gain of sharing* is paired: for each task and seed, the
separate network's test log loss minus the shared network's (both trained on the same data
draw with the same seed), so **positive means sharing helped**. Gains are averaged over
tasks within a seed; the mean over seeds is shown with a 95% t interval over seeds
(`mean [low, high]`). *Delta_m* (LibMTL's convention) is the mean over tasks and over the
metrics test log loss and test AUROC of `(-1)^higher_is_better * (B - N) / B`, in percent,
with B the separate networks and N the shared one, computed per seed: **positive means
sharing helped**. "holds" is *yes* when the intervals support the literature's claim, *no*
when they contradict it, *partly* / *unclear* otherwise; the rules are in harness/studies.py.
Test metrics are taken at each task's own best validation step (per-task early stopping)."""


def section_markdown(s: Section, figure_dir: str) -> str:
    lines = [f"## {s.title}", "", f"*{s.question}*", ""]
    for name, caption in s.figures:
        lines += [f"![{name}]({figure_dir}{name})", "", f"*{caption}*", ""]
    lines += [f"- {note}" for note in s.notes]
    if s.summary is not None and not s.summary.empty:
        lines += ["", summary_table(s.summary), ""]
    return "\n".join(lines)


def summary_table(summary: pd.DataFrame) -> str:
    """Markdown table: the point's keys, gain and Delta_m with CIs, seeds."""
    keys = [c for c in summary.columns if c not in SUMMARY_VALUES]
    header = [*keys, "gain, test log loss (nats)", "Delta_m (%)", "seeds"]
    rows = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for _, r in summary.iterrows():
        cells = [f"{r[k]:g}" if isinstance(r[k], int | float) else str(r[k]) for k in keys]
        cells += [_ci(r, "gain", 4), _ci(r, "delta_m", 2), str(int(r["seeds"]))]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


SUMMARY_VALUES = {"gain", "gain_low", "gain_high", "delta_m", "delta_m_low", "delta_m_high", "seeds"}


def _ci(row, name: str, digits: int) -> str:
    mean, low, high = row[name], row[f"{name}_low"], row[f"{name}_high"]
    if pd.isna(low):
        return f"{mean:+.{digits}f}"
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def machine(collections: list[Collection]) -> str:
    env = collections[0].jobs.iloc[0]
    kind, device = env.get("environment.platform", "?"), env.get("environment.device", "?")
    return (
        f"{platform.node() or 'unknown host'}: {kind if kind == device else f'{kind} ({device})'}, "
        f"{env.get('environment.cpu_count', '?')} CPU cores, jax {env.get('environment.jax', '?')}"
    )


def write_report(
    sweeps: list[Path], out: Path, title: str = "Report", preamble: list[str] | None = None
) -> tuple[Path, list[Collection]]:
    """Collect, analyse and write every sweep into `out`; returns REPORT.md's path and the collections."""
    out.mkdir(parents=True, exist_ok=True)
    collections, sections, unusable = [], [], []
    for sweep in sweeps:
        try:
            c = collect(sweep)
        except CollectError as error:
            if len(sweeps) == 1:
                raise
            unusable.append(str(error))
            continue
        section = analyse(c, out)
        tables = out / "tables" / section.study
        write_table(c, tables)
        if section.summary is not None:
            section.summary.to_csv(tables / "summary.csv", index=False)
        collections.append(c)
        sections.append(section)
    job_seconds = sum(
        float(c.jobs[[k for k in ("timing.compile_seconds", "timing.train_seconds") if k in c.jobs]].sum().sum())
        for c in collections
    )
    if not collections:
        raise CollectError("no sweep folder holds a usable result: " + "; ".join(unusable))
    lines = [f"# {title}", ""]
    lines += preamble or []
    lines += [f"- **Not reported** (no usable results): {text}." for text in unusable]
    lines += [
        f"- Machine: {machine(collections)}.",
        f"- Jobs: {sum(len(c.jobs) for c in collections)} usable; compile + train time inside jobs "
        f"{job_seconds:.0f} s.",
        f"- Sweeps: {', '.join(f'`{c.root}`' for c in collections)}; tidy tables in `tables/`.",
        "",
        "## Verdicts",
        "",
        "| criterion | literature predicts | this run measured (95% CI) | holds? |",
        "| --- | --- | --- | --- |",
    ]
    for s in sections:
        lines += [f"| {v.criterion} | {v.predicted} | {v.measured} | **{v.holds}** |" for v in s.verdicts]
    lines += ["", CONVENTIONS, ""]
    for s in sections:
        lines += [section_markdown(s, ""), ""]
    problems = [(c.root.name, p) for c in collections for p in c.problems]
    if problems:
        lines += ["## Jobs left out", "", "| sweep | job | kind | detail |", "| --- | --- | --- | --- |"]
        lines += [f"| {root} | {p.job} | {p.kind} | {p.detail} |" for root, p in problems]
    report = out / "REPORT.md"
    report.write_text("\n".join(lines).rstrip() + "\n")
    return report, collections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.report", description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+", type=Path, help="sweep folders (Hydra multirun output, any launcher)")
    parser.add_argument("--out", type=Path, help="output folder (default: SWEEP/report for one sweep)")
    args = parser.parse_args(argv)
    if args.out is None and len(args.sweeps) > 1:
        parser.error("--out is required with more than one sweep folder")
    out = args.out or args.sweeps[0] / "report"
    try:
        report, collections = write_report(args.sweeps, out)
    except CollectError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for c in collections:
        for p in c.problems:
            print(f"skipped {c.root / p.job}: {p.kind}: {p.detail}", file=sys.stderr)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
