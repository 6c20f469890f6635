"""Figures and Markdown summaries of the control studies, each with a verdict row per comparison.

- transfer: target-task test log loss of separate (stl), shared (mtl), shuffle control
  (mtl_shuffled) and transfer (transfer_head, transfer_full) training against the target's
  labels, per source size (experiments/transfer_vs_mtl.yaml);
- weighting: uncertainty weighting and PCGrad against equal weights (experiments/weighting.yaml);
- affinity: the K x K TAG affinity matrix and its rank correlation with the measured gain of
  training each pair of tasks together (experiments/affinity.yaml).

Gains are paired per seed (same data draw and seed for both arms) and positive when the named
arm did better: the baseline's test log loss minus the arm's, or the arm's test AUROC minus the
baseline's. Intervals are two-sided 95% t intervals over seeds.

    python -m harness.plots_controls {transfer,weighting,affinity} SWEEP_DIR [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from harness.stats import mean_ci  # noqa: E402

TRANSFER_ARMS = ("mtl", "mtl_shuffled", "transfer_head", "transfer_full")
METRICS = {"test_bce": "test log loss", "test_auroc": "test AUROC"}
LOWER_IS_BETTER = {"test_bce"}


def load(sweep: str | Path) -> list[dict]:
    """Every finished job's result.json under `sweep` (diverged or failed jobs are left out, and counted)."""
    payloads = [json.loads(p.read_text()) for p in sorted(Path(sweep).rglob("result.json"))]
    return [p for p in payloads if p["status"] == "ok"]


def records(payloads: list[dict], keys: dict[str, str]) -> pd.DataFrame:
    """One row per job, arm, task and seed; `keys` maps column names to dotted config keys."""
    rows = []
    for job, payload in enumerate(payloads):
        values = {}
        for column, dotted in keys.items():
            node = payload["config"]
            for part in dotted.split("."):
                node = node[part]
            values[column] = node
        rows += [{"job": job, **values, **record} for record in payload["records"]]
    return pd.DataFrame(rows)


def fmt(mean: float, low: float, high: float) -> str:
    return f"{mean:+.4f} [{low:+.4f}, {high:+.4f}]"


def gains(table: pd.DataFrame, arm: str, baseline: str, by: list[str], metric: str = "test_bce") -> pd.DataFrame:
    """Per (by, seed): how much better `arm` did than `baseline` on `metric`, averaged over the tasks both report."""
    wide = table.pivot_table(index=[*by, "task", "seed"], columns="arm", values=metric, aggfunc="mean")
    if arm not in wide or baseline not in wide:  # a sweep cut short may lack an arm's jobs
        return pd.DataFrame(columns=[*by, "seed", "gain"])
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    gain = (sign * (wide[arm] - wide[baseline])).dropna().rename("gain").reset_index()
    return gain.groupby([*by, "seed"], as_index=False)["gain"].mean()


def summarize(per_seed: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    rows = []
    for key, group in per_seed.groupby(by):
        key = key if isinstance(key, tuple) else (key,)
        mean, low, high, _ = mean_ci(group["gain"])
        rows.append({**dict(zip(by, key, strict=True)), "mean": mean, "low": low, "high": high, "n": len(group)})
    return pd.DataFrame(rows, columns=[*by, "mean", "low", "high", "n"])


class Finding(NamedTuple):
    """One verdict row: a comparison, its claim, the measured gain and whether the claim holds."""

    comparison: str
    claim: str
    measured: str
    outcome: str
    holds: str  # yes | no | unclear, by the rule in `finding`


def finding(name: str, row: pd.Series | dict, claim: str, expect: str = "gain") -> Finding:
    """`expect` gain: holds if the CI is above 0, fails if below; none (a negative control): holds
    unless the CI is above 0."""
    if not np.isfinite(row["low"]):
        outcome, side = "not tested (fewer than 2 seeds)", None
    elif row["low"] > 0:
        outcome, side = "gain (CI above 0)", 1
    elif row["high"] < 0:
        outcome, side = "loss (CI below 0)", -1
    else:
        outcome, side = "no detectable difference (CI contains 0)", 0
    if side is None:
        holds = "unclear"
    elif expect == "gain":
        holds = {1: "yes", -1: "no", 0: "unclear"}[side]
    else:
        holds = "no" if side == 1 else "yes"
    return Finding(name, claim, fmt(row["mean"], row["low"], row["high"]), outcome, holds)


def finding_rows(findings: list[Finding]) -> list[str]:
    rows = ["| comparison | what it tests | gain, mean [95% CI] | outcome | holds |", "| --- | --- | --- | --- | --- |"]
    return rows + [f"| {f.comparison} | {f.claim} | {f.measured} | {f.outcome} | {f.holds} |" for f in findings]


class Summary(NamedTuple):
    text: str  # Markdown: figures, tables, verdict rows
    figures: list[tuple[str, str]]  # (file name, caption)
    findings: list[Finding]  # every row of the text's verdict tables
    verdicts: list[Finding]  # the few rows for the report's summary table


def transfer_figure(summary: pd.DataFrame, path: Path) -> Path:
    """Gain over separate training of the target task against its labels: a row per metric, a column per source size."""
    sources = sorted(summary["n_other"].unique())
    fig, axes = plt.subplots(len(METRICS), len(sources), figsize=(5 * len(sources), 3.6 * len(METRICS)), squeeze=False)
    for row, (metric, label) in enumerate(METRICS.items()):
        for ax, n_other in zip(axes[row], sources, strict=True):
            for arm in TRANSFER_ARMS:
                part = summary[
                    (summary["n_other"] == n_other) & (summary["arm"] == arm) & (summary["metric"] == metric)
                ]
                part = part.sort_values("n_target")
                ax.plot(part["n_target"], part["mean"], marker="o", label=arm)
                ax.fill_between(part["n_target"], part["low"], part["high"], alpha=0.2)
            ax.axhline(0.0, color="black", linewidth=0.8)
            ax.set_xscale("log")
            ax.set_xlabel("target task's training labels")
            ax.set_title(f"{n_other} labels per source task", fontsize=10)
        axes[row][0].set_ylabel(f"gain over stl ({label})")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle("Target task: shared, shuffle control and transfer vs separate (same steps per network)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def analyse_transfer(payloads: list[dict], out: Path) -> Summary:
    table = records(payloads, {"n_target": "data.n_target", "n_other": "data.n_other", "target": "data.target"})
    table = table[table["task"] == table["target"]]
    by = ["n_other", "n_target"]
    summary = pd.concat(
        [
            summarize(gains(table, arm, "stl", by, m), by).assign(arm=arm, metric=m)
            for m in METRICS
            for arm in TRANSFER_ARMS
        ],
        ignore_index=True,
    )
    figure = transfer_figure(summary, out / "transfer_vs_mtl.png")
    lines = [f"![transfer]({figure.name})"]
    for metric, label in METRICS.items():
        lines += [
            "",
            f"Gain over stl, {label}:",
            "",
            "| source labels/task | target labels | " + " | ".join(TRANSFER_ARMS) + " |",
        ]
        lines.append("| --- | --- |" + " --- |" * len(TRANSFER_ARMS))
        for (n_other, n_target), part in summary[summary["metric"] == metric].groupby(by):
            cells = [fmt(*part[part["arm"] == arm][["mean", "low", "high"]].iloc[0]) for arm in TRANSFER_ARMS]
            lines.append(f"| {n_other} | {n_target} | " + " | ".join(cells) + " |")
    few = summary["n_target"].min()  # the fewest target labels, with the most source labels run there
    most = summary.loc[summary["n_target"] == few, "n_other"].max()
    vs_mtl = table.assign(arm=table["arm"].replace({"mtl": "base"}))
    headline, controls = [], []
    for metric, label in METRICS.items():
        at = summary[(summary["n_target"] == few) & (summary["n_other"] == most) & (summary["metric"] == metric)]
        at = at.set_index("arm")
        full_vs_mtl = summarize(gains(vs_mtl, "transfer_full", "base", by, metric), by).set_index(by).loc[(most, few)]
        headline += [
            finding(f"mtl vs stl ({label})", at.loc["mtl"], "sharing helps the few-label target"),
            finding(f"mtl_shuffled vs stl ({label})", at.loc["mtl_shuffled"], "negative control: no gain", "none"),
            finding(f"transfer_head vs stl ({label})", at.loc["transfer_head"], "pretrain + new head helps"),
            finding(f"transfer_full vs stl ({label})", at.loc["transfer_full"], "pretrain + fine-tune all helps"),
            finding(f"transfer_full vs mtl ({label})", full_vs_mtl, "fine-tuning beats sharing, same steps"),
        ]
    # Caruana's check, wherever sharing helped: does the gain vanish when the sources are shuffled?
    for (metric, n_other, n_target), part in summary.groupby(["metric", *by]):
        part = part.set_index("arm")
        if part.loc["mtl", "low"] > 0:
            name = f"mtl_shuffled vs stl, {n_target} target / {n_other} per source ({METRICS[metric]})"
            claim = f"gain vanishes (mtl: {fmt(*part.loc['mtl', ['mean', 'low', 'high']])})"
            controls.append(finding(name, part.loc["mtl_shuffled"], claim, "none"))
            real = summarize(gains(table, "mtl", "mtl_shuffled", by, metric), by).set_index(by).loc[(n_other, n_target)]
            controls.append(finding("mtl vs mtl_shuffled, same point", real, "the gain needs the real source labels"))
    lines += ["", f"At {few} target labels and {most} labels per source task:", "", *finding_rows(headline)]
    lines += [
        "",
        "Shuffle control at every point where mtl's gain over stl has its CI above 0:",
        "",
        *finding_rows(controls),
    ]
    caption = (
        "Target task's paired gain over its separate network (95% CI over seeds); every network trains the same steps."
    )
    primary = [f for f in headline if "(test log loss)" in f.comparison and "shuffled" not in f.comparison]
    return Summary(
        "\n".join(lines), [(figure.name, caption)], headline + controls, [*primary, shuffle_verdict(controls)]
    )


def shuffle_verdict(controls: list[Finding]) -> Finding:
    """One row for Caruana's control over every point where sharing helped."""
    points = len(controls) // 2
    vanished = sum(f.holds == "yes" for f in controls[0::2])
    needed = sum(f.holds == "yes" for f in controls[1::2])
    holds = "unclear" if not points else "yes" if vanished == points else "partly" if vanished else "no"
    return Finding(
        "shuffle control (mtl_shuffled)",
        "where sharing helped, shuffling the other tasks' labels removes the gain",
        f"gain gone at {vanished}/{points} such points; real beat shuffled labels (CI above 0) at {needed}/{points}",
        "see the shuffle-control table",
        holds,
    )


def analyse_weighting(payloads: list[dict], out: Path) -> Summary:
    table = records(payloads, {"weighting": "train.weighting", "rho": "data.relatedness"})
    shared = table[table["arm"] == "mtl"].assign(arm=lambda t: t["weighting"])
    by = ["rho"]
    weightings = ("equal", "uncertainty", "pcgrad")
    vs_equal = pd.concat(
        [
            summarize(gains(shared, w, "equal", by, m), by).assign(weighting=w, metric=m)
            for m in METRICS
            for w in weightings[1:]
        ],
        ignore_index=True,
    )
    sharing = pd.concat(
        [
            summarize(gains(table[table["weighting"] == w], "mtl", "stl", by, m), by).assign(weighting=w, metric=m)
            for m in METRICS
            for w in weightings
        ],
        ignore_index=True,
    )
    fig, axes = plt.subplots(1, len(METRICS), figsize=(6 * len(METRICS), 3.8), squeeze=False)
    rhos = sorted(sharing["rho"].unique())
    for ax, (metric, label) in zip(axes[0], METRICS.items(), strict=True):
        for i, w in enumerate(weightings):
            part = sharing[(sharing["weighting"] == w) & (sharing["metric"] == metric)].set_index("rho").reindex(rhos)
            x = np.arange(len(rhos)) + (i - 1) * 0.25
            ax.bar(x, part["mean"], width=0.25, label=w, yerr=[part["mean"] - part["low"], part["high"] - part["mean"]])
        ax.set_xticks(np.arange(len(rhos)), [f"rho={r}" for r in rhos])
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_ylabel(f"gain of mtl over stl ({label})")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Shared network under each loss weighting, mean over tasks")
    fig.tight_layout()
    fig.savefig(out / "weighting.png", dpi=120)
    plt.close(fig)
    lines = [
        "![weighting](weighting.png)",
        "",
        "| metric | rho | weighting | gain of mtl over stl | gain over equal weights |",
    ]
    lines.append("| --- | --- | --- | --- | --- |")
    for row in sharing.itertuples():
        other = vs_equal[
            (vs_equal["rho"] == row.rho) & (vs_equal["weighting"] == row.weighting) & (vs_equal["metric"] == row.metric)
        ]
        over = fmt(*other[["mean", "low", "high"]].iloc[0]) if len(other) else "(reference)"
        lines.append(
            f"| {METRICS[row.metric]} | {row.rho} | {row.weighting} | {fmt(row.mean, row.low, row.high)} | {over} |"
        )
    findings = [
        finding(
            f"{row.weighting} vs equal, rho={row.rho} ({METRICS[row.metric]})", row._asdict(), "beats equal weights"
        )
        for row in vs_equal.itertuples()
    ]
    lines += ["", *finding_rows(findings)]
    caption = "Gain of the shared network over the separate ones under each weighting, mean over tasks (95% CI)."
    primary = [f for f in findings if "(test log loss)" in f.comparison]
    return Summary("\n".join(lines), [("weighting.png", caption)], findings, primary)


def pair_points(payload: dict) -> pd.DataFrame:
    """Per directed pair (i -> j): affinity Z_{i->j} and the gain of task j from sharing with i, seed means."""
    z = np.nanmean(np.asarray(payload["affinity"]["matrix"], dtype=float), axis=0)  # [K, K]
    recs = pd.DataFrame(payload["records"])
    alone = recs[recs["arm"] == "stl"].groupby("task")["test_bce"].mean()
    groups = payload["arms"]["pairs"]["groups"]
    pairs = recs[recs["arm"] == "pairs"].groupby(["network", "task"])["test_bce"].mean()
    rows = []
    for (network, j), loss in pairs.items():
        i = next(t for t in groups[network] if t != j)
        rows.append({"i": i, "j": j, "affinity": z[i, j], "gain": alone[j] - loss})
    return pd.DataFrame(rows)


def analyse_affinity(payloads: list[dict], out: Path) -> Summary:
    payloads = sorted(payloads, key=lambda p: p["config"]["data"]["relatedness"])
    fig, axes = plt.subplots(1, len(payloads) + 1, figsize=(3.6 * (len(payloads) + 1), 3.4), squeeze=False)
    points = []
    for ax, payload in zip(axes[0], payloads, strict=False):
        rho = payload["config"]["data"]["relatedness"]
        z = np.nanmean(np.asarray(payload["affinity"]["matrix"], dtype=float), axis=0)
        # The colour scale is set by the pairs: self-affinity (the diagonal) is far larger and is clipped.
        limit = float(np.nanmax(np.abs(z[~np.eye(len(z), dtype=bool)])))
        image = ax.imshow(z, cmap="RdBu", vmin=-limit, vmax=limit)
        for (i, j), value in np.ndenumerate(z):
            ax.text(j, i, f"{value / limit:+.2f}", ha="center", va="center", fontsize=7)
        ax.set_title(f"Z(i->j) / {limit:.1e}, rho={rho}", fontsize=9)
        ax.set_xticks(range(len(z)))
        ax.set_yticks(range(len(z)))
        ax.set_xlabel("j (task helped)")
        ax.set_ylabel("i (task stepped)")
        fig.colorbar(image, ax=ax, fraction=0.046)
        points.append(pair_points(payload).assign(rho=rho))
    every = pd.concat(points, ignore_index=True)
    ax = axes[0][-1]
    for rho, part in every.groupby("rho"):
        ax.scatter(part["affinity"], part["gain"], label=f"rho={rho}", s=18)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("affinity Z(i->j)")
    ax.set_ylabel("gain of j paired with i")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "affinity.png", dpi=120)
    plt.close(fig)
    overall = stats.spearmanr(every["affinity"], every["gain"])
    within = [stats.spearmanr(p["affinity"], p["gain"]).statistic for _, p in every.groupby("rho")]
    lines = [
        "![affinity](affinity.png)",
        "",
        f"Spearman rank correlation, affinity vs pair gain, all {len(every)} directed pairs: "
        f"{overall.statistic:+.3f} (p = {overall.pvalue:.3g}).",
        "Within each relatedness: "
        + ", ".join(f"rho={r}: {c:+.3f}" for r, c in zip(sorted(every["rho"].unique()), within, strict=True)),
        "",
        "| rho | mean off-diagonal affinity | mean pair gain (test log loss) |",
        "| --- | --- | --- |",
    ]
    for rho, part in every.groupby("rho"):
        lines.append(f"| {rho} | {part['affinity'].mean():+.2e} | {part['gain'].mean():+.4f} |")
    significant = overall.pvalue < 0.05
    holds = ("yes" if overall.statistic > 0 else "no") if significant else "unclear"
    result = Finding(
        "affinity vs pair gain",
        "higher Z(i->j) predicts a larger gain of j when paired with i (Spearman > 0)",
        f"Spearman {overall.statistic:+.3f}, p = {overall.pvalue:.3g}, {len(every)} directed pairs",
        "significant" if significant else "not significant at 0.05",
        holds,
    )
    lines += ["", *finding_rows([result])]
    caption = "Mean TAG affinity per relatedness (cells scaled by the largest pair), and affinity against pair gain."
    return Summary("\n".join(lines), [("affinity.png", caption)], [result], [result])


ANALYSES = {"transfer": analyse_transfer, "weighting": analyse_weighting, "affinity": analyse_affinity}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=sorted(ANALYSES))
    parser.add_argument("sweep")
    parser.add_argument("--out", default=None, help="folder for figures and summary.md (default: the sweep folder)")
    args = parser.parse_args(argv)
    out = Path(args.out or args.sweep)
    out.mkdir(parents=True, exist_ok=True)
    text = ANALYSES[args.study](load(args.sweep), out).text
    (out / f"{args.study}.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
