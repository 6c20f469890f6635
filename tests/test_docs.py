"""The reference pages name every configuration key and every arm the code accepts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from harness import arms as arm_names
from harness.config import RunConfig

DOCS = Path(__file__).resolve().parent.parent / "docs"


def schema_keys() -> list[str]:
    """Every key a user can set: top-level values, and `section.key` for each section."""
    keys = []
    for section in dataclasses.fields(RunConfig):
        value = getattr(RunConfig(), section.name)
        if dataclasses.is_dataclass(value):
            keys += [f"{section.name}.{f.name}" for f in dataclasses.fields(value)]
        else:
            keys.append(section.name)
    return keys


def test_every_schema_key_is_in_the_configuration_reference():
    text = (DOCS / "configuration.md").read_text()
    missing = [key for key in schema_keys() if f"| `{key}` |" not in text]
    assert not missing, f"docs/configuration.md has no table row for: {', '.join(missing)}"


def test_schema_keys_cover_every_section():
    keys = schema_keys()
    assert {"study", "arms", "data.task_groups", "train.lr_grid", "runtime.tracking", "model.depth"} <= set(keys)


def test_every_arm_is_in_the_methods_page():
    text = (DOCS / "methods.md").read_text()
    missing = [name for name in arm_names.ARMS if f"| `{name}` |" not in text]
    assert not missing, f"docs/methods.md has no arm table row for: {', '.join(missing)}"
