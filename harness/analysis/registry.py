"""Studies, declared once: an experiment file names its study (`study: NAME`), and the
study's module registers `analyse(collection) -> Section` under that name.

The main job runs every experiment file that states `study:` itself (an experiment that
only inherits it through `defaults` is analysed as that study but left out of the main
job); a study whose file in `full/` alone states it is in the full profile only (one that
a CPU cannot train to convergence within the quick profile's budget). The report picks
each sweep's analysis by the `study` in its results' config.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import yaml
from matplotlib.figure import Figure

from harness.analysis.collect import Collection
from harness.analysis.verdict import Verdict
from harness.config.locations import experiments_dir

EXPERIMENTS = experiments_dir()


@dataclass
class Plot:
    stem: str  # file name without extension
    figure: Figure
    caption: str


@dataclass
class Section:
    study: str
    title: str
    question: str
    plots: list[Plot] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    summary: pd.DataFrame | None = None  # one row per sweep point: gain and Delta_m with CIs
    notes: list[str] = field(default_factory=list)
    text: str = ""  # Markdown after the notes: the study's own tables

    def plot(self, stem: str, figure: Figure, caption: str) -> None:
        self.plots.append(Plot(stem, figure, caption))


Analysis = Callable[[Collection], Section]
ANALYSES: dict[str, Analysis] = {}


def study(name: str) -> Callable[[Analysis], Analysis]:
    """Register `analyse(collection) -> Section` as the analysis of study `name`."""

    def register(analyse: Analysis) -> Analysis:
        ANALYSES[name] = analyse
        return analyse

    return register


def load_studies() -> dict[str, Analysis]:
    """Import every module of harness/analysis/studies so that each registers itself."""
    from harness.analysis import studies

    for module in pkgutil.iter_modules(studies.__path__):
        importlib.import_module(f"{studies.__name__}.{module.name}")
    return ANALYSES


def declared(profile: str = "quick") -> dict[str, str]:
    """{experiment name: study} for every experiment file of `profile` that states `study:` itself:
    experiments/ for the quick profile, and with experiments/full/ for the full one."""
    folders = [EXPERIMENTS, *([EXPERIMENTS / "full"] if profile == "full" else [])]
    out = {}
    for path in sorted(path for folder in folders for path in folder.glob("*.yaml")):
        values = yaml.safe_load(path.read_text()) or {}
        if isinstance(values, dict) and values.get("study"):
            out[path.stem] = values["study"]
    return out


def main_studies(profile: str = "quick") -> list[str]:
    """The main job's experiments: grouped by their study's registration order, then by name."""
    order = {name: i for i, name in enumerate(load_studies())}
    found = declared(profile)
    return sorted(found, key=lambda e: (order.get(found[e], len(order)), e))
