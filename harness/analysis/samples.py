"""Sample images of an image suite with their label vectors, "?" included.

    python -m harness.analysis.samples --out reports/   # scenes_samples.png, digits_samples.png

Each panel is one training image of a replicate with its labels as the trainer sees
them: 1, 0, or "?" where the mask hides the label.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from omegaconf import OmegaConf

from harness.analysis import style
from harness.config import DataConfig
from harness.config.locations import conf_dir
from harness.data import SUITES, make_dataset, task_names

CONF_DIR = conf_dir() / "data"


def suite_config(suite: str, **overrides) -> DataConfig:
    """The suite's defaults from conf/data/<suite>.yaml, with overrides."""
    values = OmegaConf.to_container(OmegaConf.load(CONF_DIR / f"{suite}.yaml"))
    return dataclasses.replace(DataConfig(**values), **overrides)


def label_text(names: list[str], y: np.ndarray, m: np.ndarray) -> str:
    """One line per task when there are few, else the present and the unknown ones."""
    marks = ["?" if not seen else str(int(v)) for v, seen in zip(y, m, strict=True)]
    if len(names) <= 6:
        return "\n".join(f"{n}: {mark}" for n, mark in zip(names, marks, strict=True))
    short = [n.removeprefix("digit_") for n in names]
    has = " ".join(n for n, mark in zip(short, marks, strict=True) if mark == "1") or "-"
    unknown = " ".join(n for n, mark in zip(short, marks, strict=True) if mark == "?") or "-"
    return f"1: {has}\n?: {unknown}"


def sample_figure(cfg: DataConfig, path: str | Path, count: int = 12, columns: int = 6, seed: int = 0) -> Path:
    """Draw the first `count` training images of data seed `seed` with their labels into a PNG."""
    data = make_dataset(cfg, seed)
    names = task_names(cfg)
    rows = -(-count // columns)
    lines = min(len(names), 6) if len(names) <= 6 else 2
    fig = Figure(figsize=(1.9 * columns, (2.0 + 0.24 * lines) * rows))
    axes = fig.subplots(rows, columns, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= count:
            ax.axis("off")
            continue
        ax.set_xticks([])
        ax.set_yticks([])
        image = data.x_train[i]
        grey = image.shape[-1] == 1
        ax.imshow(image[..., 0] if grey else image, cmap="gray_r" if grey else None, interpolation="nearest")
        ax.set_title(label_text(names, data.y_train[i], data.m_train[i]), fontsize=7, loc="left", family="monospace")
    fig.suptitle(f"data={cfg.suite}: training images and their labels (? = missing label)", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return style.save(fig, path.parent, path.stem)[0]


IMAGE_SUITES = tuple(name for name, suite in SUITES.items() if suite.images)


def draw_samples(out: str | Path, missing: float = 0.3, suites: tuple[str, ...] = IMAGE_SUITES) -> list[Path]:
    """`<suite>_samples.png` in `out` for each of `suites` (image suites)."""
    # A small pool, fully labelled before hiding, so that the "?" come from data.missing alone.
    return [
        sample_figure(
            suite_config(suite, pool=64, n_per_task=64, n_val=8, n_test=8, missing=missing),
            Path(out) / f"{suite}_samples.png",
        )
        for suite in suites
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="reports", help="folder for the PNGs")
    parser.add_argument("--missing", type=float, default=0.3, help="data.missing of the drawn replicate")
    args = parser.parse_args()
    for path in draw_samples(args.out, args.missing):
        print(path)


if __name__ == "__main__":
    main()
