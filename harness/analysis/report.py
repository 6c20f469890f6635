"""Sweep folders -> REPORT.md, figures and tidy tables: collect, analyse each as its study, render.

Each sweep is collected (collect.py) and analysed by its study's `analyse` (registry.py;
a sweep that is not a study gets sweep.py's per-task report). This module only renders
the sections: the verdict table first, then each study's figures, notes and tables.
"""

from __future__ import annotations

import platform
from pathlib import Path

import pandas as pd

from harness.analysis import markdown, style
from harness.analysis.collect import CollectError, Collection, collect, write_table
from harness.analysis.common import ci_row, gate_table
from harness.analysis.markdown import escape
from harness.analysis.registry import Section, declared, load_studies
from harness.analysis.stats import POWER
from harness.analysis.sweep import analyse_sweep
from harness.analysis.verdict import OUTCOMES, Criterion, untested

CONVENTIONS = """\
**How to read this report.** The *gain of sharing* is paired: for each task and seed, the
separate network's test log loss minus the shared network's (both trained on the same data
draw with the same seed), so **positive means sharing helped**. Gains are averaged over
tasks within a seed; the mean over seeds is shown with a 95% t interval over seeds
(`mean [low, high]`). *Delta_m* (LibMTL's convention) is the mean over tasks and over the
metrics test log loss and test AUROC of `(-1)^higher_is_better * (B - N) / B`, in percent,
with B the separate networks and N the shared one, computed per seed: **positive means
sharing helped**. Test metrics are taken at each task's own best validation step.

**Verdicts.** Each criterion has one primary test and one precondition, declared in its
study module before any result: a trend claim is the per-seed slope over every point with
its t interval, a two-point claim a paired difference over seeds; d_z is the mean over the
sd of the per-seed values. The precondition (a control needs the effect it explains to be
there, a comparison needs two different networks, a slope its points past the gate) is
evaluated on the same run. The verdict words, each meaning one thing:

{WORDS}

MDE is the minimal detectable effect of the paired t test at the seeds used (power
{POWER:.0%}). Points where the separate networks did not learn are left
out of the verdicts (the learnability gate; each section lists what it left out).""".format(
    WORDS="\n".join(f"- *{word}*: {meaning}." for word, meaning in OUTCOMES.items()), POWER=POWER
)

VERDICT_HEADER = [
    "criterion",
    "literature predicts",
    "primary test",
    "precondition",
    "this run measured (95% CI)",
    "seeds / minimal detectable effect",
    "verdict",
]
SUMMARY_VALUES = {"gain", "gain_low", "gain_high", "delta_m", "delta_m_low", "delta_m_high", "seeds"}


def analyse(c: Collection) -> Section:
    """The sweep's study analysis (by the `study` in its config, or its experiment file), else the generic one."""
    analyses = load_studies()
    name = c.study or declared("full").get((c.experiment or "").rsplit("/", 1)[-1])
    section = analyses[name](c) if name in analyses else analyse_sweep(c)
    if not section.verdicts and (name in analyses or {"mtl", "stl"} <= set(c.table["arm"])):  # e.g. all gated
        why = Criterion(f"{section.title}: no criterion could be tested", "see the study's section", "none", 0, 0.0, "")
        section.verdicts = [untested(why, "no usable points (see the study's notes: gate, missing arms or points)")]
        points = gate_table(c.table, [k for k in c.swept if k not in ("arms", "study")])
        section.text = "\n\n".join(part for part in (section.text, points) if part)
    undertrained = c.table.loc[c.table["metric"] == "undertrained", "value"]
    if undertrained.sum() > 0:
        section.notes.append(
            f"{int(undertrained.sum())} of {len(undertrained)} (arm, task, seed) runs were still improving at their "
            "last evaluation (undertrained): their gains may change with more steps."
        )
    if section.summary is not None:
        pooled = [k for k in c.swept if k not in section.summary.columns and k not in ("arms", "study")]
        if pooled:
            section.notes.append(f"Also swept, and pooled in the table and the verdicts: {', '.join(pooled)}.")
    return section


def tally(outcomes: list[str]) -> str:
    """`3 holds, 1 contradicted, 0 no effect, ...`: every verdict word, counted."""
    return ", ".join(f"{outcomes.count(word)} {word}" for word in OUTCOMES)


def section_markdown(s: Section, fmt: str) -> str:
    lines = [f"## {s.title}", "", f"*{s.question}*", ""]
    for p in s.plots:
        lines += [f"![{p.stem}]({p.stem}.{fmt})", "", f"*{p.caption}*", ""]
    lines += [f"- {note}" for note in s.notes]
    if s.text:
        lines += ["", s.text, ""]
    if s.summary is not None and not s.summary.empty:
        lines += ["", summary_table(s.summary), ""]
    return "\n".join(lines)


def summary_table(summary: pd.DataFrame) -> str:
    """Markdown table: the point's keys, gain and Delta_m with CIs, seeds."""
    keys = [c for c in summary.columns if c not in SUMMARY_VALUES]
    header = [*keys, "gain, test log loss (nats)", "Delta_m (%)", "seeds"]
    rows = [
        [*(f"{r[k]:g}" if isinstance(r[k], int | float) else escape(r[k]) for k in keys)]
        + [ci_row(r, "gain", 4), ci_row(r, "delta_m", 2), str(int(r["seeds"]))]
        for _, r in summary.iterrows()
    ]
    return markdown.table(header, rows)


def machine(collections: list[Collection]) -> str:
    env = collections[0].jobs.iloc[0]
    kind, device = env.get("environment.platform", "?"), env.get("environment.device", "?")
    return (
        f"{platform.node() or 'unknown host'}: {kind if kind == device else f'{kind} ({device})'}, "
        f"{env.get('environment.cpu_count', '?')} CPU cores, jax {env.get('environment.jax', '?')}"
    )


def write_report(
    sweeps: list[Path],
    out: Path,
    title: str = "Report",
    preamble: list[str] | None = None,
    formats: tuple[str, ...] = ("png",),
) -> tuple[Path, list[Collection]]:
    """Collect, analyse and write every sweep into `out`, each figure in every format of
    `formats` (REPORT.md embeds `style.shown(formats)`); returns REPORT.md's path and the
    collections.

    Raises CollectError, before anything is written, when no sweep holds a usable result.
    """
    collections, unusable = [], []
    for sweep in sweeps:
        try:
            collections.append(collect(sweep))
        except CollectError as error:
            unusable.append(str(error))
    if not collections:
        raise CollectError(
            "; ".join(unusable) if len(sweeps) == 1 else "no sweep folder holds a usable result: " + "; ".join(unusable)
        )
    out.mkdir(parents=True, exist_ok=True)
    sections = []
    for c in collections:
        section = analyse(c)
        tables = out / "tables" / section.study
        write_table(c, tables)
        if section.summary is not None:
            section.summary.to_csv(tables / "summary.csv", index=False)
        for p in section.plots:
            style.save(p.figure, out, p.stem, formats)
        sections.append(section)
    job_seconds = sum(
        float(c.jobs[[k for k in ("timing.compile_seconds", "timing.train_seconds") if k in c.jobs]].sum().sum())
        for c in collections
    )
    lines = [f"# {title}", "", *(preamble or [])]
    lines += [f"- **Not reported** (no usable results): {escape(text)}." for text in unusable]
    lines += [
        f"- Machine: {machine(collections)}.",
        f"- Jobs: {sum(len(c.jobs) for c in collections)} usable; "
        f"compile + train time inside jobs {job_seconds:.0f} s.",
        f"- Sweeps: {', '.join(escape(c.root) for c in collections)}; tidy tables in `tables/`.",
        f"- Verdicts: {tally([v.outcome for s in sections for v in s.verdicts])} (words defined below the table).",
        "",
        "## Verdicts",
        "",
        markdown.table(
            VERDICT_HEADER,
            (
                [v.criterion.name, v.criterion.predicted, v.criterion.test, v.precondition, v.measured, v.power]
                + [f"**{v.outcome}**"]
                for s in sections
                for v in s.verdicts
            ),
        ),
    ]
    lines += ["", CONVENTIONS, ""]
    lines += [section_markdown(s, style.shown(formats)) + "\n" for s in sections]
    problems = [(c.root.name, p) for c in collections for p in c.problems]
    if problems:
        rows = [[escape(root), escape(p.job), p.kind, escape(p.detail)] for root, p in problems]
        lines += ["## Jobs left out", "", markdown.table(["sweep", "job", "kind", "detail"], rows)]
    report = out / "REPORT.md"
    report.write_text("\n".join(lines).rstrip() + "\n")
    return report, collections
