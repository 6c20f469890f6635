"""The advisor's verdict from one result: share one network, keep them separate, or group the tasks.

Pure functions of a result.json payload with arms mtl (share), stl (separate) and groups.

- Per task and option: test log loss and AUROC, mean over seeds with a 95% t interval.
- Options are compared paired per seed on the test log loss averaged over tasks (the
  seeds share data draws and splits). Option A is beaten when another option's gain over
  it has a 95% interval above zero.
- The recommendation is the option with the fewest parameters that no other option
  beats: more structure (more networks, more parameters) only where the intervals
  support it. Where it beats no alternative, the verdict is "no detectable difference".
- A searched grouping that is one group (or one task per group) is the shared (or the
  separate) option itself, and is not listed twice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis import style, verdict
from harness.analysis.markdown import escape, table
from harness.analysis.stats import mean_ci

ADVICE_SCHEMA_VERSION = 1
OPTIONS = {"share": "mtl", "separate": "stl", "groups": "groups"}
METRICS = ("test_bce", "test_auroc")
SIGN = {"test_bce": -1.0, "test_auroc": 1.0}  # gain = SIGN * (option - alternative): positive = option better


def interval(values) -> dict:
    mean, low, high, n = mean_ci(list(values))
    return {"mean": mean, "low": low, "high": high, "n": n}


def _groups_of(result: dict, option: str) -> list[list[int]]:
    tasks = len(result["task_names"])
    if option == "share":
        return [list(range(tasks))]
    if option == "separate":
        return [[k] for k in range(tasks)]
    return result["arms"]["groups"]["groups"]


def options_of(result: dict) -> list[str]:
    """The options to compare: share and separate, and groups unless it is one of them."""
    groups = sorted(map(sorted, _groups_of(result, "groups")))
    same = [o for o in ("share", "separate") if sorted(map(sorted, _groups_of(result, o))) == groups]
    return ["share", "separate"] if same else ["share", "separate", "groups"]


def gain(per_seed: pd.DataFrame, option: str, other: str, metric: str) -> dict:
    """Interval over seeds of the task-averaged paired gain of `option` over `other` (positive: option better)."""
    wide = per_seed[per_seed["metric"] == metric].pivot(index="seed", columns="option", values="value")
    return interval(SIGN[metric] * (wide[option] - wide[other]))


def advise(result: dict) -> dict:
    """advice.json's content from a result payload (see the module docstring)."""
    names = result["task_names"]
    options = options_of(result)
    arm_of = {OPTIONS[o]: o for o in options}
    rows = pd.DataFrame([r for r in result["records"] if r["arm"] in arm_of])
    rows["option"] = rows["arm"].map(arm_of)
    long = rows.melt(id_vars=["option", "task", "seed"], value_vars=list(METRICS), var_name="metric")
    per_seed = long.groupby(["option", "metric", "seed"], as_index=False)["value"].mean()
    arms = {o: result["arms"][OPTIONS[o]] for o in options}
    params = {o: arms[o]["networks"] * arms[o]["params_per_network"] for o in options}
    beaten = {
        o: [other for other in options if other != o and gain(per_seed, other, o, "test_bce")["low"] > 0]
        for o in options
    }
    unbeaten = [o for o in options if not beaten[o]]  # never empty: the lowest mean loss is beaten by none
    recommendation = min(unbeaten, key=lambda o: (params[o], options.index(o)))
    alternatives = [o for o in options if o != recommendation]
    gains = {other: {m: gain(per_seed, recommendation, other, m) for m in METRICS} for other in alternatives}
    better = [other for other in alternatives if gains[other]["test_bce"]["low"] > 0]
    same = [other for other in alternatives if other not in better]
    verdict = []
    if better:
        verdict.append(f"lower test log loss than {' and '.join(better)}")
    if same:
        verdict.append(f"no detectable difference from {' and '.join(same)}; the option with fewer parameters")
    tasks = {}
    for k, name in enumerate(names):
        per_task = rows[rows["task"] == k]
        tasks[name] = {o: {m: interval(per_task.loc[per_task["option"] == o, m]) for m in METRICS} for o in options}
    return {
        "schema_version": ADVICE_SCHEMA_VERSION,
        "recommendation": recommendation,
        "groups": [[names[k] for k in g] for g in _groups_of(result, recommendation)],
        "verdict": "; ".join(verdict),
        "options": {
            o: {
                "arm": OPTIONS[o],
                "groups": [[names[k] for k in g] for g in _groups_of(result, o)],
                "networks": arms[o]["networks"],
                "params": int(params[o]),
                "beaten_by": beaten[o],
                "mean": {m: option_mean(per_seed, o, m) for m in METRICS},
            }
            for o in options
        },
        "tasks": tasks,
        "gains": gains,
        "search": result.get("grouping"),
        "seeds": int(result["config"]["train"]["seeds"]),
    }


def option_mean(per_seed: pd.DataFrame, option: str, metric: str) -> dict:
    """Interval over seeds of an option's task-averaged metric."""
    rows = per_seed[(per_seed["option"] == option) & (per_seed["metric"] == metric)]
    return interval(rows["value"])


def fmt(stat: dict, digits: int = 3, signed: bool = False) -> str:
    return verdict.fmt(stat["mean"], stat["low"], stat["high"], digits, signed)


def summary_lines(advice: dict) -> list[str]:
    """What the advisor prints: the recommendation, its groups and its gains."""
    groups = " | ".join(", ".join(g) for g in advice["groups"])
    lines = [f"recommendation: {advice['recommendation']} ({groups})", f"  {advice['verdict']}"]
    for other, g in advice["gains"].items():
        lines.append(
            f"  gain over {other}: test log loss {fmt(g['test_bce'], signed=True)}, "
            f"AUROC {fmt(g['test_auroc'], signed=True)} (95% intervals over {advice['seeds']} seeds)"
        )
    return lines


def plot(advice: dict, path: Path) -> None:
    """One figure: per task, each option's test log loss with its 95% interval."""
    tasks = list(advice["tasks"])
    options = list(advice["options"])
    fig, axes = style.figure(width=max(5.0, 1.2 * len(tasks) + 2.0))
    ax = axes[0, 0]
    offsets = np.linspace(-0.25, 0.25, len(options))
    for offset, option in zip(offsets, options, strict=True):
        stats = [advice["tasks"][t][option]["test_bce"] for t in tasks]
        mean = np.array([s["mean"] for s in stats])
        low = np.array([s["low"] for s in stats])
        high = np.array([s["high"] for s in stats])
        err = np.nan_to_num(np.stack([mean - low, high - mean]))
        label = f"{option} ({advice['options'][option]['networks']} networks)"
        ax.errorbar(np.arange(len(tasks)) + offset, mean, yerr=err, fmt="o", capsize=3, label=label)
    ax.set_xticks(np.arange(len(tasks)), tasks, rotation=30 if len(tasks) > 4 else 0)
    ax.set_ylabel(style.METRIC_LABEL["test_bce"])
    ax.set_title("test log loss per task (95% intervals over seeds)")
    ax.legend(fontsize=8)
    fig.savefig(path)  # the style sheet's resolution


def markdown(advice: dict, figure: str, seconds: float) -> str:
    """ADVICE.md: the recommendation, the per-task table, the gains and how the grouping was found."""
    options = list(advice["options"])
    lines = ["# Advice: which tasks should share a network", ""]
    lines += [f"**{line.strip()}**" if i == 0 else line.strip() for i, line in enumerate(summary_lines(advice))]
    lines += ["", f"![test log loss per task]({figure})", ""]
    header = ["task", *(f"{o} {metric}" for o in options for metric in ("log loss", "AUROC"))]
    rows = [
        [escape(task), *(fmt(per[o][metric]) for o in options for metric in ("test_bce", "test_auroc"))]
        for task, per in advice["tasks"].items()
    ]
    lines += [table(header, rows), ""]
    rows = [
        [o, " \\| ".join(", ".join(map(escape, g)) for g in info["groups"]), info["networks"], info["params"]]
        + [", ".join(info["beaten_by"]) or "-"]
        for o, info in advice["options"].items()
    ]
    lines.append(table(["option", "groups", "networks", "parameters", "beaten by"], rows))
    search = advice["search"]
    lines.append("")
    if search:
        lines.append(
            f"Grouping search: signal `{search['signal']}` ({', '.join(search['signal_arms'])}, "
            f"{search['signal_net_steps']} network-steps; its program compiled in "
            f"{search['signal_compile_seconds']:.1f} s and trained in {search['signal_train_seconds']:.1f} s), "
            f"{search['method']} over {search['partitions_evaluated']} partitions in {search['search_seconds']:.2f} s."
        )
    else:
        lines.append("Grouping: given in train.groups (no search).")
    lines += [
        "",
        f"Intervals: 95% t intervals over {advice['seeds']} seeds; gains are paired per seed and averaged over tasks.",
        f"The advisor took {seconds:.1f} s.",
        "",
    ]
    return "\n".join(lines)
