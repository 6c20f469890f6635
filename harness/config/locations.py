"""Where the Hydra configuration and the studies are: conf/ and experiments/.

A source checkout (an editable install, or PYTHONPATH pointing at it) has them at the
top of the repository, beside harness/; an installed wheel carries them as package data,
harness/conf/ and harness/experiments/ (pyproject.toml maps them). Hydra reads conf/ as the
primary config folder and experiments/ as the config group `experiment`
(hydra_plugins/harness_launcher/experiments_source.py).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


def _folder(name: str) -> Path:
    installed = PACKAGE / name
    return installed if installed.is_dir() else PACKAGE.parent / name


def conf_dir() -> Path:
    """The primary config folder: config.yaml and the groups data/, model/, hydra/launcher/."""
    return _folder("conf")


def experiments_dir() -> Path:
    """The studies, one file each: the options of the config group `experiment`."""
    return _folder("experiments")
