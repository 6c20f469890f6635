"""Per-study analysis: the numbers, figures and verdicts each study contributes to the report.

Each `analyse_<study>(collection, out)` writes its PNGs into `out` and returns a Section.
Verdict rules are fixed here, before any run is looked at: a claim "holds" when the
measured 95% confidence intervals support it, "no" when they contradict it, and
"unclear" when they include both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness import plots
from harness.collect import Collection
from harness.stats import crossover, delta_m, gain_per_seed, gain_summary, paired, summarize


@dataclass
class Verdict:
    criterion: str
    predicted: str
    measured: str
    holds: str  # yes | no | unclear | partly


@dataclass
class Section:
    study: str
    title: str
    question: str
    figures: list[tuple[str, str]] = field(default_factory=list)  # (file name, caption)
    verdicts: list[Verdict] = field(default_factory=list)
    summary: pd.DataFrame | None = None  # one row per sweep point: gain and Delta_m with CIs
    notes: list[str] = field(default_factory=list)
    text: str = ""  # Markdown shown after the notes (the control studies' tables)


def fmt(mean: float, low: float, high: float, digits: int = 3) -> str:
    if np.isnan(low):
        return f"{mean:+.{digits}f}"
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def fmt_row(row) -> str:
    return fmt(row["mean"], row["low"], row["high"])


def sign_of(row) -> int:
    """+1 / -1 if the CI excludes 0 above / below, 0 otherwise (or with a single seed)."""
    if row["low"] > 0:
        return 1
    if row["high"] < 0:
        return -1
    return 0


def all_positive(signs: list[int]) -> str:
    """Verdict for a claim that every point's gain is > 0."""
    if signs and min(signs) > 0:
        return "yes"
    if signs.count(-1) > len(signs) / 2:
        return "no"
    return "partly" if 1 in signs else "unclear"


def with_config(c: Collection, keys: list[str]) -> pd.DataFrame:
    """The long table with config columns `keys` (swept or not) attached."""
    missing = [k for k in keys if k not in c.table.columns]
    if not missing:
        return c.table
    return c.table.merge(c.jobs[["job", *missing]], on="job", how="left")


SUITES = {"scenes": "driving scenes", "digits": "handwritten digits", "table": "your table"}


def study_of(c: Collection) -> str:
    """The study's name (+experiment=NAME, without its profile folder); it names the figures."""
    return (c.study or "sweep").rsplit("/", 1)[-1]


def on_suite(c: Collection) -> tuple[str, str, str]:
    """Naming a non-synthetic suite and its trunk: (section title suffix, figure title suffix,
    verdict criterion prefix); empty strings for the synthetic suite."""
    j = c.jobs.iloc[0]
    suite = j.get("data.suite", "synthetic")
    if suite == "synthetic":
        return "", "", ""
    name = f"{SUITES.get(suite, suite)}, {str(j['model.kind']).upper()} trunk"
    return f" ({name})", f"\n({name})", f"[{name}] "


def held_equal(c: Collection) -> str:
    j = c.jobs.iloc[0]
    return (
        f"Held equal: the same data draw per seed for every arm, {int(j['train.steps'])} steps per network, "
        f"{j['train.optimizer']} (lr {j['train.lr']:g}), batch {int(j['train.batch_size'])} per network, "
        f"per-task early stopping on validation loss (checked every {int(j['train.eval_every'])} steps), "
        f"paired seeds (n = {int(j['train.seeds'])}); bands and brackets are 95% t intervals over seeds."
    )


def point_summary(table: pd.DataFrame, keys: list[str], shared: str = "mtl", separate: str = "stl") -> pd.DataFrame:
    """Per sweep point: gain in test log loss and Delta_m (%), each with its 95% CI."""
    gain = gain_summary(table, "test_bce", keys, shared, separate)
    dm = summarize(delta_m(table, keys, shared, separate), keys, value="delta")
    out = gain.merge(dm, on=keys, suffixes=("", "_dm"))
    return out.rename(columns={"mean": "gain", "low": "gain_low", "high": "gain_high", "n": "seeds"}).rename(
        columns={"mean_dm": "delta_m", "low_dm": "delta_m_low", "high_dm": "delta_m_high"}
    )[[*keys, "gain", "gain_low", "gain_high", "delta_m", "delta_m_low", "delta_m_high", "seeds"]]


def arm_curves(table: pd.DataFrame, keys: list[str], metric: str) -> pd.DataFrame:
    """Mean over tasks per (keys, arm, seed), then mean and CI over seeds."""
    rows = table[table["metric"] == metric]
    per_seed = rows.groupby([*keys, "arm", "seed"], as_index=False)["value"].mean()
    return summarize(per_seed, [*keys, "arm"])


def width_ends(gain: pd.DataFrame, label: str) -> str:
    """The gain at the smallest and the largest width a task count has results for (a
    sweep cut short may lack some widths at some K)."""
    ends = gain.sort_values("model.width").iloc[[0, -1]]
    return f"{label}: " + ", ".join(f"width {int(r['model.width'])} {fmt_row(r)}" for _, r in ends.iterrows())


def analyse_capacity(c: Collection, out: Path) -> Section:
    keys = ["data.tasks", "model.width"]
    table = with_config(c, keys)
    arms = [a for a in plots.ARM_STYLE if a in set(table["arm"])]
    study, (suite, figure_suite, tag) = study_of(c), on_suite(c)
    section = Section(
        study,
        f"Capacity: Caruana's size criterion{suite}",
        "Does sharing hurt only when the shared network is too small, and does the width it needs grow with K?",
    )
    ks = sorted(table["data.tasks"].unique())
    widths = sorted(table["model.width"].unique())
    cnn = c.jobs.iloc[0].get("model.kind") == "cnn"
    width_label = "channels per layer per network" if cnn else "hidden width per network (units)"
    fig, axes = plots.figure(len(ks), 2)
    for row, metric in enumerate(("test_bce", "test_auroc")):
        curves = arm_curves(table, keys, metric)
        for col, k in enumerate(ks):
            ax = axes[row][col]
            for arm in arms:
                label, color, style = plots.ARM_STYLE[arm]
                plots.band(
                    ax, curves[(curves["data.tasks"] == k) & (curves["arm"] == arm)], "model.width", label, color, style
                )
            plots.log2_axis(ax, widths)
            ax.set_xlabel(width_label)
            ax.set_ylabel(f"mean per-task {plots.METRIC_LABEL[metric]}")
            ax.set_title(f"K = {k} tasks")
    axes[0][0].legend(fontsize=8)
    section.figures.append(
        (
            plots.save(fig, out / f"{study}.png", f"Shared vs separate networks against width{figure_suite}").name,
            "Mean per-task test log loss (top) and AUROC (bottom) against the hidden width of each network, "
            "one column per task count K. The equal-parameter shared network (dashed) is widened so that its "
            f"parameter count matches all K separate networks together. {held_equal(c)}",
        )
    )

    gain = gain_summary(table, "test_bce", keys)
    equal = gain_summary(table, "test_bce", keys, shared="mtl_equal_params") if "mtl_equal_params" in arms else None
    fig, axes = plots.figure(2 if equal is not None else 1)
    crossings = {}
    for i, k in enumerate(ks):
        g = gain[gain["data.tasks"] == k]
        plots.band(axes[0][0], g, "model.width", f"K = {k}", f"C{i}")
        crossings[k] = crossover(g["model.width"], g["mean"])
        if crossings[k] is not None:
            axes[0][0].axvline(crossings[k], color=f"C{i}", ls=":", lw=1)
        if equal is not None:
            plots.band(axes[0][1], equal[equal["data.tasks"] == k], "model.width", f"K = {k}", f"C{i}")
    titles = ("shared network at the same width", "shared network with equal total parameters")
    for ax, title in zip(axes[0], titles, strict=False):
        plots.zero_line(ax)
        plots.log2_axis(ax, widths)
        ax.set_xlabel(width_label.replace("per network", "of each separate network"))
        ax.set_ylabel("gain of sharing: test log loss stl - shared (nats)")
        ax.set_title(title)
        ax.legend(fontsize=8)
    section.figures.append(
        (
            plots.save(
                fig,
                out / f"{study}_gain.png",
                f"Gain of sharing against width (positive = sharing helped){figure_suite}",
            ).name,
            "Paired gain of sharing per task and seed, averaged over tasks, against width; dotted verticals mark "
            "the crossover width where the gain turns positive (log-interpolated). Right: the shared network "
            f"widened to the separate networks' total parameter count. {held_equal(c)}",
        )
    )

    large = gain[gain["model.width"] == widths[-1]]
    measured = "; ".join(width_ends(gain[gain["data.tasks"] == k], f"K={k}") for k in ks)
    hurts_small = any(sign_of(r) < 0 for _, r in gain[gain["model.width"] < widths[-1]].iterrows())
    signs_large = [sign_of(r) for _, r in large.iterrows()]
    helps_large = min(signs_large) >= 0 and max(signs_large) > 0
    if min(signs_large) < 0:
        holds = "no"
    else:
        holds = {(True, True): "yes", (False, False): "unclear"}.get((hurts_small, helps_large), "partly")
    section.verdicts.append(
        Verdict(
            f"{tag}Capacity (Caruana 1997): sharing hurts only when the shared network is too small",
            "gain < 0 at small widths, >= 0 at large widths",
            f"gain (nats) {measured}",
            holds,
        )
    )
    found = {k: x for k, x in crossings.items() if x is not None}
    cross_text = ", ".join(f"K={k}: {f'{x:.1f}' if x is not None else 'none'}" for k, x in crossings.items())
    if len(found) >= 2:
        ordered = [found[k] for k in sorted(found)]
        grows = "yes" if all(b >= a for a, b in zip(ordered, ordered[1:], strict=False)) else "no"
    else:
        grows = "unclear"
    if len(ks) >= 2:
        section.verdicts.append(
            Verdict(
                f"{tag}Capacity: the width the shared network needs grows with K",
                "crossover width increases with K",
                f"crossover width (units): {cross_text}",
                grows,
            )
        )
    if equal is not None:
        signs = [sign_of(r) for _, r in equal.iterrows()]
        worst = equal.loc[equal["mean"].idxmin()]
        best = equal.loc[equal["mean"].idxmax()]
        section.verdicts.append(
            Verdict(
                f"{tag}Capacity: a shared network as large as all separate ones together still wins",
                "gain > 0 at equal total parameter count, at every width",
                f"gain (nats) from {fmt_row(worst)} (K={worst['data.tasks']:g}, width {worst['model.width']:g}) "
                f"to {fmt_row(best)} (K={best['data.tasks']:g}, width {best['model.width']:g}); "
                f"{signs.count(1)}/{len(signs)} points significantly > 0, {signs.count(-1)} < 0",
                all_positive(signs),
            )
        )
    section.summary = point_summary(table, keys)
    top = section.summary[section.summary["model.width"] == widths[-1]]
    section.notes.append(
        "Compare Caruana 1997, Table 1 (1D-ALVINN): one shared net was 16% below the best separate net's error "
        "and 28% below their mean; Table 2 (1D-DOORS): 23.5% and 31.4% lower. Here, Delta_m at the largest "
        "width: "
        + "; ".join(
            f"K={r['data.tasks']:g}: {fmt(r['delta_m'], r['delta_m_low'], r['delta_m_high'], 1)}%"
            for _, r in top.iterrows()
        )
        + " (log loss and AUROC, not RMSE). Standley et al. 2020 found one shared network best only at the "
        "smallest budget; compare the sign of the gain at the smallest widths above."
    )
    return section


def analyse_data_symmetry(c: Collection, out: Path) -> Section:
    keys = ["data.tasks", "data.n_other", "data.n_target", "data.target"]
    table = with_config(c, keys)
    study, (suite, figure_suite, tag) = study_of(c), on_suite(c)
    section = Section(
        study,
        f"Data symmetry: the lecture's A100 case{suite}",
        "Does a task with few labels gain most when the other tasks together have far more labels?",
    )
    pairs = paired(table, "test_bce", keys=keys)
    target = gain_per_seed(pairs[pairs["task"] == pairs["data.target"]], keys)
    target["ratio"] = (target["data.tasks"] - 1) * target["data.n_other"] / target["data.n_target"]
    target_sum = summarize(target, ["data.tasks", "ratio"], value="gain")
    ks = sorted(target_sum["data.tasks"].unique())
    fig, axes = plots.figure()
    ax = axes[0][0]
    for i, k in enumerate(ks):
        plots.band(ax, target_sum[target_sum["data.tasks"] == k], "ratio", f"K = {k}", f"C{i}")
    plots.zero_line(ax)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=-0.2)
    ax.set_xlabel("other tasks' labels / target task's labels (ratio, symlog)")
    ax.set_ylabel("target task's gain: test log loss stl - mtl (nats)")
    ax.legend(fontsize=8)
    n_target = int(table["data.n_target"].iloc[0])
    section.figures.append(
        (
            plots.save(fig, out / f"{study}.png", f"Target task's gain against the others' labels{figure_suite}").name,
            f"The target task has {n_target} labels; each of the other K - 1 tasks has n_other, so the ratio is "
            f"(K - 1) n_other / {n_target}. {held_equal(c)}",
        )
    )

    symmetric = pairs[pairs["data.n_other"] == pairs["data.n_target"]]
    sym = summarize(gain_per_seed(symmetric, ["data.tasks"]), ["data.tasks"], value="gain")
    if not sym.empty:
        fig, axes = plots.figure()
        ax = axes[0][0]
        plots.band(ax, sym, "data.tasks", "mean over tasks", "C0")
        plots.zero_line(ax)
        plots.log2_axis(ax, sym["data.tasks"])
        ax.set_xlabel("number of tasks K (equal labels per task)")
        ax.set_ylabel("mean per-task gain: test log loss stl - mtl (nats)")
        section.figures.append(
            (
                plots.save(
                    fig, out / f"{study}_k.png", f"Symmetric case: every task has the same labels{figure_suite}"
                ).name,
                f"Every task has {n_target} labels; mean over tasks of the paired gain, against K. {held_equal(c)}",
            )
        )

    k_max = ks[-1]
    at_k = target_sum[target_sum["data.tasks"] == k_max].sort_values("ratio")
    low, high = at_k.iloc[0], at_k.iloc[-1]
    holds = "yes" if sign_of(high) > 0 and high["mean"] > low["mean"] else "no" if sign_of(high) < 0 else "unclear"
    section.verdicts.append(
        Verdict(
            f"{tag}Data symmetry (lecture): a task with few labels gains most when the others have far more",
            "target's gain rises with the others' / target's labels, > 0 at large ratios",
            f"K={k_max}: gain (nats) at ratio {low['ratio']:g}: {fmt_row(low)}; at ratio {high['ratio']:g}: "
            f"{fmt_row(high)}",
            holds,
        )
    )
    if not sym.empty:
        signs = [sign_of(r) for _, r in sym.iterrows()]
        text = "; ".join(f"K={int(r['data.tasks'])}: {fmt_row(r)}" for _, r in sym.iterrows())
        section.verdicts.append(
            Verdict(
                f"{tag}Data symmetry: with equal labels per task, sharing helps each task",
                "mean per-task gain > 0 for every K >= 2",
                f"mean per-task gain (nats) {text}",
                all_positive(signs),
            )
        )
    summary = point_summary(table[table["task"] == table["data.target"]], keys)
    summary.insert(len(keys), "ratio", (summary["data.tasks"] - 1) * summary["data.n_other"] / summary["data.n_target"])
    section.summary = summary.drop(columns=["data.target"])
    section.notes.append("Gain and Delta_m in the table are the target task's.")
    alone = target_sum[target_sum["ratio"] == 0]
    if not alone.empty:
        section.notes.append(
            "At ratio 0 the other tasks have no labels: both arms train the same architecture on the same rows "
            "and differ only in initialisation and minibatch draws, so the target's gain there is zero in "
            "expectation and shows the noise between seeds alone: "
            + "; ".join(f"K={int(r['data.tasks'])}: {fmt_row(r)}" for _, r in alone.iterrows())
            + ". An interval that excludes 0 there is a false positive, a reminder to read single points with care."
        )
    return section


def analyse_relatedness(c: Collection, out: Path) -> Section:
    keys = ["data.relatedness", "data.tasks"]
    table = with_config(c, keys)
    section = Section(
        "relatedness",
        "Relatedness: shared features and negative transfer",
        "As the tasks become less related, where does sharing turn into negative transfer?",
    )
    gain = gain_summary(table, "test_bce", keys)
    auroc = gain_summary(table, "test_auroc", keys)
    fig, axes = plots.figure(2)
    for ax, g, unit in ((axes[0][0], gain, "test log loss stl - mtl (nats)"), (axes[0][1], auroc, "AUROC mtl - stl")):
        for i, k in enumerate(sorted(g["data.tasks"].unique())):
            part = g[g["data.tasks"] == k]
            plots.band(ax, part, "data.relatedness", f"K = {k}", f"C{i}")
            x = crossover(part["data.relatedness"], part["mean"], log=False)
            if x is not None:
                ax.axvline(x, color=f"C{i}", ls=":", lw=1)
        plots.zero_line(ax)
        ax.set_xlabel("task relatedness rho (pairwise cosine of task directions = rho^2)")
        ax.set_ylabel(f"gain of sharing: {unit}")
        ax.legend(fontsize=8)
    section.figures.append(
        (
            plots.save(fig, out / "relatedness.png", "Gain of sharing against task relatedness").name,
            "Paired gain of sharing averaged over tasks, against rho; dotted verticals mark where it turns "
            f"positive (below it, negative transfer). Every rho uses the same inputs and noise. {held_equal(c)}",
        )
    )
    for k in sorted(gain["data.tasks"].unique()):
        g = gain[gain["data.tasks"] == k].sort_values("data.relatedness")
        low, high = g.iloc[0], g.iloc[-1]
        x = crossover(g["data.relatedness"], g["mean"], log=False)
        if sign_of(high) < 0 or sign_of(low) > 0:
            holds = "no"
        else:
            holds = {(1, -1): "yes", (1, 0): "partly", (0, -1): "partly"}.get((sign_of(high), sign_of(low)), "unclear")
        section.verdicts.append(
            Verdict(
                f"Relatedness (Ma et al. 2018), K={k}: related tasks help, unrelated ones hurt",
                "gain > 0 at high rho, < 0 (negative transfer) at rho = 0",
                f"gain (nats) at rho={low['data.relatedness']:g}: {fmt_row(low)}; at rho={high['data.relatedness']:g}:"
                f" {fmt_row(high)}; turns positive at rho = {f'{x:.2f}' if x is not None else 'n/a'}",
                holds,
            )
        )
    section.summary = point_summary(table, keys)
    slopes = []
    for k in sorted(gain["data.tasks"].unique()):
        g = gain[gain["data.tasks"] == k]
        slope = np.polyfit(g["data.relatedness"], g["mean"], 1)[0] if len(g) > 1 else float("nan")
        slopes.append(f"K={k}: {slope:+.3f} nats per unit rho")
    section.notes.append(
        "Compare Ma et al. 2018 (MMoE, synthetic data with task correlation rho): a shared-bottom model degrades "
        f"as rho falls. Least-squares slope of the gain against rho here: {'; '.join(slopes)} (positive = the "
        "gain falls as rho falls). Their generator differs (regression targets, cos = rho); this one binarises "
        "the score and its task directions have cosine rho^2."
    )
    return section


def analyse_missing_labels(c: Collection, out: Path) -> Section:
    keys = ["data.missing"]
    table = with_config(c, keys)
    section = Section(
        "missing_labels",
        "Missing labels: masked loss against dropping rows or reading '?' as 0",
        "With a fraction of labels missing, does the masked loss beat the alternatives?",
    )
    arms = [a for a in plots.ARM_STYLE if a in set(table["arm"])]
    fig, axes = plots.figure(2)
    for ax, metric in zip(axes[0], ("test_bce", "test_auroc"), strict=True):
        curves = arm_curves(table, keys, metric)
        for arm in arms:
            label, color, style = plots.ARM_STYLE[arm]
            plots.band(ax, curves[curves["arm"] == arm], "data.missing", label, color, style)
        ax.set_xlabel("fraction of training labels missing ('?')")
        ax.set_ylabel(f"mean per-task {plots.METRIC_LABEL[metric]}")
    axes[0][0].legend(fontsize=8)
    section.figures.append(
        (
            plots.save(fig, out / "missing_labels.png", "Training on partial labels").name,
            f"Mean per-task test metrics against the missing fraction; every arm sees the same label matrix. "
            f"{held_equal(c)}",
        )
    )
    top = table["data.missing"].max()
    for rival in ("mtl_drop", "mtl_zero", "stl"):
        if rival not in arms:
            continue
        g = gain_summary(table, "test_bce", keys, "mtl", rival)
        r = g[g["data.missing"] == top].iloc[0]
        positive = g[g["data.missing"] > 0]
        signs = [sign_of(x) for _, x in positive.iterrows()] or [0]
        section.verdicts.append(
            Verdict(
                f"Partial labels (lecture): the masked loss beats {plots.ARM_STYLE[rival][0]}",
                "masked mtl has lower test log loss whenever labels are missing",
                f"gain of masked mtl (nats) at missing={top:g}: {fmt_row(r)}; significantly better at "
                f"{signs.count(1)}/{len(signs)} missing fractions > 0",
                all_positive(signs),
            )
        )
    summaries = []
    for rival in ("stl", "mtl_drop", "mtl_zero"):
        if rival in arms:
            summaries.append(point_summary(table, keys, "mtl", rival).assign(against=rival))
    section.summary = pd.concat(summaries, ignore_index=True)
    section.notes.append("Gain and Delta_m compare the masked shared network (mtl) against the arm in 'against'.")
    return section


def analyse_help_hurt_map(c: Collection, out: Path) -> Section:
    keys = ["model.width", "data.n_per_task", "data.relatedness"]
    table = with_config(c, keys)
    section = Section(
        "help_hurt_map",
        "Where sharing helps and where it hurts",
        "Over width, labels per task and relatedness, where is the gain of sharing positive, and where negative?",
    )
    cells = gain_summary(table, "test_bce", keys)
    limit = max(float(np.nanmax(np.abs(cells["mean"]))), 1e-6)
    for name, x, y, panel, ylabel in (
        ("help_hurt_map.png", "model.width", "data.n_per_task", "data.relatedness", "labels per task"),
        ("help_hurt_map_rho.png", "model.width", "data.relatedness", "data.n_per_task", "relatedness rho"),
    ):
        values = sorted(cells[panel].unique())
        fig, axes = plots.figure(len(values), width=4.2)
        image = None
        for ax, v in zip(axes[0], values, strict=True):
            image = plots.heatmap(ax, cells[cells[panel] == v], x, y, limit, "hidden width (units)", ylabel)
            ax.set_title(f"{'rho' if panel == 'data.relatedness' else 'labels per task'} = {v:g}")
        fig.colorbar(image, ax=list(axes[0]), label="gain: test log loss stl - mtl (nats)", shrink=0.9)
        fig.suptitle(f"Gain of sharing over width x {ylabel} (blue: sharing helps, red: hurts)", fontsize=11)
        fig.savefig(out / name, dpi=110)
        plots.plt.close(fig)
        section.figures.append(
            (
                name,
                "Each cell: mean over seeds of the task-averaged paired gain in test log loss (positive, blue = "
                "sharing helped); boxed cells marked * have a 95% interval that excludes 0. "
                f"{held_equal(c)}",
            )
        )
    signs = cells.apply(sign_of, axis=1)
    hurt = cells[signs < 0]
    where = ", ".join(
        f"(w={r['model.width']:g}, n={r['data.n_per_task']:g}, rho={r['data.relatedness']:g})"
        for _, r in hurt.iterrows()
    )
    by_rho = cells.groupby("data.relatedness")["mean"].mean()
    by_n = cells.groupby("data.n_per_task")["mean"].mean()
    pattern = by_rho.iloc[-1] > by_rho.iloc[0] and by_n.iloc[0] > by_n.iloc[-1]
    section.verdicts.append(
        Verdict(
            "Help/hurt map: sharing helps most with few labels and related tasks, hurts when unrelated",
            "gain highest at few labels per task and high rho; negative cells at low rho or small width",
            f"{int((signs > 0).sum())}/{len(cells)} cells significantly helped, {int((signs < 0).sum())} hurt"
            f"{' at ' + where if where else ''}; mean gain at rho={by_rho.index[0]:g}: {by_rho.iloc[0]:+.3f}, "
            f"rho={by_rho.index[-1]:g}: {by_rho.iloc[-1]:+.3f}; at n={by_n.index[0]:g}: {by_n.iloc[0]:+.3f}, "
            f"n={by_n.index[-1]:g}: {by_n.iloc[-1]:+.3f}",
            "yes" if pattern and len(hurt) else "partly" if pattern else "unclear" if not signs.any() else "no",
        )
    )
    section.summary = point_summary(table, keys)
    return section


def analyse_sweep(c: Collection, out: Path) -> Section:
    """Any other sweep: gain of sharing against its first swept key, one line per value of the rest."""
    keys = [k for k in c.swept if k not in ("arms", "train.seed", "data.seed")]
    table = c.table if keys else c.table.assign(point="all")
    section = Section(
        "sweep", f"Sweep {c.root.name}", "Where does the shared network beat the separate ones in this sweep?"
    )
    arms = set(c.table["arm"])
    if not {"mtl", "stl"} <= arms:
        section.notes.append(f"No paired comparison: the sweep trained arms {sorted(arms)}, not both mtl and stl.")
        return section
    gain = gain_summary(table, "test_bce", keys or ["point"])
    if keys:
        x, rest = keys[0], keys[1:]
        fig, axes = plots.figure()
        ax = axes[0][0]
        groups = gain.groupby(rest) if rest else [((), gain)]
        for i, (value, part) in enumerate(groups):
            value = value if isinstance(value, tuple) else (value,)
            label = ", ".join(f"{k}={v}" for k, v in zip(rest, value, strict=True)) or "gain"
            plots.band(ax, part, x, label, f"C{i % 10}")
        plots.zero_line(ax)
        ax.set_xlabel(x)
        ax.set_ylabel("gain of sharing: test log loss stl - mtl (nats)")
        ax.legend(fontsize=7)
        section.figures.append(
            (plots.save(fig, out / "sweep_gain.png", f"Gain of sharing against {x}").name, held_equal(c))
        )
    section.summary = point_summary(table, keys or ["point"])
    return section


def controls_study(study: str, name: str, title: str, question: str) -> Callable[[Collection, Path], Section]:
    """A study summarised by harness/plots_controls.py, as a report section."""

    def analyse_controls(c: Collection, out: Path) -> Section:
        from harness import plots_controls

        summary = plots_controls.ANALYSES[name](plots_controls.load(c.root), out)
        verdicts = [Verdict(f.comparison, f.claim, f"{f.measured} ({f.outcome})", f.holds) for f in summary.verdicts]
        text = "\n".join(line for line in summary.text.splitlines() if not line.startswith("!["))
        return Section(study, title, question, figures=summary.figures, verdicts=verdicts, text=text)

    return analyse_controls


ANALYSES: dict[str, Callable[[Collection, Path], Section]] = {
    "transfer_vs_mtl": controls_study(
        "transfer_vs_mtl",
        "transfer",
        "Transfer learning vs sharing, with Caruana's shuffle control",
        "For a target task with few labels: separate, shared, or pretrained on the other tasks and fine-tuned? "
        "Does the gain of sharing vanish when the other tasks' labels are shuffled?",
    ),
    "transfer_vs_mtl_scenes": controls_study(
        "transfer_vs_mtl_scenes",
        "transfer",
        "Transfer learning vs sharing on the driving scenes (CNN), with Caruana's shuffle control",
        "The same question on images: a target object type with few labels, the other object types as sources.",
    ),
    "weighting": controls_study(
        "weighting",
        "weighting",
        "Loss weighting: uncertainty weighting and PCGrad vs equal weights",
        "Does weighting the tasks' losses (Kendall et al. 2018) or projecting conflicting gradients (Yu et al. 2020) "
        "beat the equal-weight sum in the shared network?",
    ),
    "affinity": controls_study(
        "affinity",
        "affinity",
        "Which tasks should share: TAG affinity vs measured pair gains",
        "Does the lookahead inter-task affinity (Fifty et al. 2021) predict the gain of training two tasks together?",
    ),
    "capacity": analyse_capacity,
    "capacity_scenes": analyse_capacity,
    "capacity_digits": analyse_capacity,
    "data_symmetry": analyse_data_symmetry,
    "data_symmetry_scenes": analyse_data_symmetry,
    "data_symmetry_digits": analyse_data_symmetry,
    "relatedness": analyse_relatedness,
    "missing_labels": analyse_missing_labels,
    "help_hurt_map": analyse_help_hurt_map,
}


def analyse(c: Collection, out: Path) -> Section:
    """The study's own analysis if the sweep ran one (+experiment=NAME), else the generic one."""
    section = ANALYSES.get(study_of(c), analyse_sweep)(c, out)
    shown = set(section.summary.columns) if section.summary is not None else set()
    pooled = [k for k in c.swept if k not in shown and k != "arms"]
    if pooled:
        section.notes.append(f"Also swept, and pooled in these figures: {', '.join(pooled)}.")
    return section
