"""Resume's config hash sees every field that decides a job's result, and nothing in `runtime`."""

from __future__ import annotations

import dataclasses

import pytest

from harness.config import RunConfig
from harness.runs.resume import config_hash


def other_value(value):
    """A value of the same kind that differs from `value`."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return [*value, value[-1] if value else "x"]
    if value is None:
        return 1
    raise TypeError(f"no other value for {value!r}")


def fields(section: str) -> list[str]:
    return [f.name for f in dataclasses.fields(getattr(RunConfig(), section))]


SECTIONS = [f.name for f in dataclasses.fields(RunConfig) if dataclasses.is_dataclass(getattr(RunConfig(), f.name))]
DECIDING = [(s, name) for s in SECTIONS if s != "runtime" for name in fields(s)]


def changed(section: str | None, name: str) -> RunConfig:
    run = RunConfig()
    owner = run if section is None else getattr(run, section)
    setattr(owner, name, other_value(getattr(owner, name)))
    return run


def test_every_section_but_runtime_is_covered():
    assert {s for s, _ in DECIDING} == {"data", "model", "train"}
    assert {f.name for f in dataclasses.fields(RunConfig)} == {*SECTIONS, "arms", "study"}


@pytest.mark.parametrize(("section", "name"), [*DECIDING, (None, "arms")])
def test_config_hash_changes_with_every_field_that_decides_the_result(section, name):
    assert config_hash(changed(section, name)) != config_hash(RunConfig())


def test_config_hash_ignores_the_study_label():
    assert config_hash(changed(None, "study")) == config_hash(RunConfig())  # it names the analysis, not the run


@pytest.mark.parametrize("name", fields("runtime"))
def test_config_hash_ignores_runtime(name):
    assert config_hash(changed("runtime", name)) == config_hash(RunConfig())
