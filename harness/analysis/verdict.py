"""Verdicts: one type, one rule, one interval formatter.

A criterion names its primary test before any result exists (in its study module):
the per-seed values it is run on, the side the literature predicts and delta, the
smallest effect that matters, in the criterion's unit (nats for log loss gains). The
verdict is then fixed by the rule in `decide`:

- holds: the effect is significant after Holm's correction across the study's criteria
  and its 95% interval lies on the predicted side (for a predicted "no effect": the 90%
  interval lies inside +-delta, even if a smaller effect is significant);
- contradicted: significant, and the interval lies on the other side (for a predicted
  "no effect": significant and not inside +-delta);
- no effect: the 90% interval lies inside +-delta (TOST at level 0.05);
- underpowered: anything else; the minimal detectable effect at the seeds used and the
  seeds needed to detect delta are stated.

A criterion may also name a confirming test (`verdicts(..., confirm=...)`: its name and p
value, for example a permutation test where the per-seed values are not the only source
of dependence): a signed criterion then holds only when that p is also below ALPHA; the
p is shown in the measured text. It never turns a result into "holds" or "contradicted".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from harness.analysis.stats import ALPHA, TTest, equivalent, holm, mde, seeds_needed, t_test

OUTCOMES = ("holds", "contradicted", "no effect", "underpowered")


def fmt(mean: float, low: float = math.nan, high: float = math.nan, digits: int = 3, signed: bool = True) -> str:
    """`+0.012 [-0.003, +0.027]` (`0.412 [0.398, 0.426]` unsigned); the mean alone when there is no interval."""
    if not np.isfinite(mean):
        return "n/a"
    spec = f"{'+' if signed else ''}.{digits}f"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{mean:{spec}}"
    return f"{mean:{spec}} [{low:{spec}}, {high:{spec}}]"


@dataclass(frozen=True)
class Criterion:
    """A claim and its primary test, declared before results exist."""

    name: str  # the claim, as the verdict table shows it
    predicted: str  # what the literature predicts, in words
    test: str  # the primary test, in words
    sign: int  # +1: the values should be > 0; -1: < 0; 0: no effect (inside +-delta)
    delta: float  # smallest effect that matters, in `unit`
    unit: str = "nats"


@dataclass(frozen=True)
class Verdict:
    criterion: Criterion
    test: TTest
    outcome: str  # one of OUTCOMES
    note: str = ""  # what the values are, where they come from

    def relabel(self, prefix: str) -> Verdict:
        """The same verdict with `prefix` before the criterion's name (e.g. the suite)."""
        return replace(self, criterion=replace(self.criterion, name=prefix + self.criterion.name))

    @property
    def measured(self) -> str:
        t = self.test
        if t.n == 0:
            return "no usable points"
        text = f"{fmt(t.mean, t.low, t.high, _digits(self.criterion.delta))} {self.criterion.unit}"
        if np.isfinite(t.d_z):
            text += f", d_z {t.d_z:+.2f}"
        return f"{text}; {self.note}" if self.note else text

    @property
    def power(self) -> str:
        """Seeds used, minimal detectable effect, and seeds needed to detect delta (when short)."""
        t, c = self.test, self.criterion
        if t.n < 2:
            return f"{t.n} seed(s): no interval"
        text = f"{t.n} seeds; MDE {mde(t.sd, t.n):.{_digits(c.delta)}f} {c.unit}"
        needed = seeds_needed(t.sd, c.delta)
        if self.outcome == "underpowered" and needed is not None:
            text += f"; ~{needed} seeds to detect {c.delta:g}"
        return text


def _digits(delta: float) -> int:
    return max(3, 2 - math.floor(math.log10(delta))) if delta > 0 else 3


def decide(criterion: Criterion, test: TTest, significant: bool, confirmed: bool = True) -> str:
    """The outcome of one criterion; `significant`: its p value survived Holm's correction;
    `confirmed`: its confirming test, if it has one, agrees (a signed criterion holds only then)."""
    if test.n < 2:
        return "underpowered"
    side = 1 if test.low > 0 else -1 if test.high < 0 else 0  # from the interval, never from the mean
    if criterion.sign == 0:
        if equivalent(test, criterion.delta):
            return "holds"
        return "contradicted" if significant and side != 0 else "underpowered"
    if significant and side != 0 and (confirmed or side != criterion.sign):
        return "holds" if side == criterion.sign else "contradicted"
    return "no effect" if equivalent(test, criterion.delta) else "underpowered"


def verdicts(
    tests: Sequence[tuple[Criterion, Sequence[float], str]],
    confirm: Mapping[Criterion, tuple[str, float]] | None = None,
) -> list[Verdict]:
    """Every criterion of one study: t tests on its per-seed values, Holm across them, then `decide`.

    `confirm`: per criterion, a confirming test's name and p value (module docstring); a
    signed criterion holds only when that p is below ALPHA too.
    """
    confirm = confirm or {}
    out = []
    run = [(c, t_test(values), note) for c, values, note in tests]
    reject = holm([t.p for _, t, _ in run])
    for (c, t, note), r in zip(run, reject, strict=True):
        confirmed = True
        if c in confirm:
            name, p = confirm[c]
            confirmed = bool(p < ALPHA)
            note = "; ".join(part for part in (note, f"{name} p = {p:.2g}") if part)
        out.append(Verdict(c, t, decide(c, t, r, confirmed), note))
    return out


def untested(criterion: Criterion, why: str) -> Verdict:
    """A criterion whose points are missing or excluded: underpowered, with the reason."""
    return replace(Verdict(criterion, t_test([]), "underpowered"), note=why)
