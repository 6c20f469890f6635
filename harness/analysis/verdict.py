"""Verdicts: one type, one rule, one interval formatter.

A criterion names its primary test before any result exists (in its study module):
the per-seed values it is run on, the side the literature predicts and delta, the
smallest effect that matters, in the criterion's unit (nats for log loss gains), and the
precondition its verdict needs (`needs`: a control needs the effect it explains, a
comparison needs two different networks, a slope its points past the learnability
gate). The study evaluates the precondition on the same run (`Held`), and the verdict
is then fixed by the rule in `decide`, with the words of OUTCOMES (each means one thing;
docs/studies.md quotes them).

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

OUTCOMES = {
    "holds": "significant after Holm's correction across the study's applicable criteria (level 0.05) with the "
    "95% interval on the predicted side; for a predicted no effect, the 90% interval lies inside +-delta",
    "contradicted": "significant with the 95% interval on the other side; for a predicted no effect, "
    "significant and not inside +-delta",
    "no effect": "the 90% interval lies inside +-delta (TOST at level 0.05): an effect smaller than delta "
    "if any, shown, not merely not found",
    "underpowered": "none of the above at the seeds used; the minimal detectable effect and the seeds needed "
    "to detect delta are stated",
    "not applicable": "not tested: the precondition the criterion needs failed on this run (the effect a "
    "control explains is absent, the two arms compared are one network, the points it needs were excluded), or "
    "every seed gives the same value (zero variance); the precondition column says which",
}
GATED = "its points passed the learnability gate"
ZERO_SD = 1e-9  # per-seed values this close together come from one network, not from an effect


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
    needs: str = GATED  # the precondition its verdict needs, in words
    difference: bool = True  # values are arm-vs-arm differences: zero variance means one network


@dataclass(frozen=True)
class Held:
    """Whether a criterion's precondition held on this run, and the numbers that decided it."""

    ok: bool
    detail: str = ""


def effect_exists(values: Sequence[float], what: str) -> Held:
    """Held where `what` (per-seed values, e.g. the gain a control explains) is significantly above 0."""
    t = t_test(values)
    ok = bool(t.n >= 2 and t.low > 0)
    return Held(ok, f"{what} {fmt(t.mean, t.low, t.high, 4)} nats" + ("" if ok else ", not above 0"))


@dataclass(frozen=True)
class Verdict:
    criterion: Criterion
    test: TTest
    outcome: str  # one of OUTCOMES
    note: str = ""  # what the values are, where they come from
    held: Held = Held(True)

    @property
    def precondition(self) -> str:
        """What had to hold, whether it did, and the numbers that decided it."""
        word = "held" if self.held.ok else "failed"
        return f"{self.criterion.needs}: {word}" + (f" ({self.held.detail})" if self.held.detail else "")

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


def one_network(criterion: Criterion, test: TTest) -> bool:
    """A difference whose per-seed values are all equal: the two sides are one network."""
    return criterion.difference and test.n >= 2 and not test.sd > ZERO_SD


def decide(criterion: Criterion, test: TTest, significant: bool, confirmed: bool = True, held: bool = True) -> str:
    """The outcome of one criterion; `significant`: its p value survived Holm's correction;
    `confirmed`: its confirming test, if it has one, agrees (a signed criterion holds only then);
    `held`: its precondition held (else, and on zero variance, it is not applicable)."""
    if not held or one_network(criterion, test):
        return "not applicable"
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
    held: Mapping[Criterion, Held] | None = None,
) -> list[Verdict]:
    """Every criterion of one study: t tests on its per-seed values, Holm across the applicable
    ones, then `decide`.

    `confirm`: per criterion, a confirming test's name and p value (module docstring); a
    signed criterion holds only when that p is below ALPHA too. `held`: per criterion, its
    precondition on this run (absent: it held, the study having gated the points); a
    difference with zero variance fails it whatever was given.
    """
    confirm, held = confirm or {}, held or {}
    run = []
    for c, values, note in tests:
        t, pre = t_test(values), held.get(c, Held(True))
        if pre.ok and one_network(c, t):
            pre = Held(False, f"every seed gives {t.mean:+.4g}: zero variance, the two sides are one network")
        run.append((c, t, note, pre))
    applicable = [i for i, (*_, pre) in enumerate(run) if pre.ok]
    reject = dict(zip(applicable, holm([run[i][1].p for i in applicable]), strict=True))
    out = []
    for i, (c, t, note, pre) in enumerate(run):
        confirmed = True
        if c in confirm:
            name, p = confirm[c]
            confirmed = bool(p < ALPHA)
            note = "; ".join(part for part in (note, f"{name} p = {p:.2g}") if part)
        out.append(Verdict(c, t, decide(c, t, reject.get(i, False), confirmed, pre.ok), note, pre))
    return out


def untested(criterion: Criterion, why: str) -> Verdict:
    """A criterion whose points are missing or excluded: not applicable, with the reason."""
    return Verdict(criterion, t_test([]), "not applicable", held=Held(False, why))
