"""Typed configuration: the schema Hydra composes into (schema.py), and its validation
(checks.py).

Every key a user can type lives in one of the schema's dataclasses; `from_omegaconf`
turns a composed config into them and `validate` rejects values the trainer cannot
honour, with one line that names the key and what is accepted.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from omegaconf import OmegaConf

from harness.arms import ARMS
from harness.config.checks import validate
from harness.config.errors import ConfigError, check, unknown_key
from harness.config.groups import resolve_groups
from harness.config.schema import (
    TRACKERS,
    DataConfig,
    ModelConfig,
    RunConfig,
    RuntimeConfig,
    TrainConfig,
    register_schema,
    schema_keys,
    to_dict,
)

__all__ = [
    "ARMS",
    "TRACKERS",
    "ConfigError",
    "check",
    "DataConfig",
    "ModelConfig",
    "RunConfig",
    "RuntimeConfig",
    "TrainConfig",
    "from_omegaconf",
    "register_schema",
    "resolve_groups",
    "schema_keys",
    "to_dict",
    "validate",
]


def from_omegaconf(cfg: Any) -> RunConfig:
    """Turn a composed (possibly untyped) config into validated dataclasses."""
    # Hydra's node holds values resolved per job later; any other key is a typo (`+seeds=5`).
    for key in cfg:
        if key not in schema_keys() and key != "hydra":
            raise ConfigError(unknown_key(str(key)))
    container = {
        key: cfg[key] if isinstance(cfg, dict) or key == "study" else OmegaConf.to_container(cfg[key], resolve=True)
        for key in schema_keys()
        if key in cfg
    }
    arms = container.get("arms", ["mtl", "stl"])
    check(isinstance(arms, list | tuple), "arms", arms, f"a list of {', '.join(ARMS)}")
    run = RunConfig(
        study=container.get("study"),
        arms=list(arms),
        data=_build(DataConfig, container.get("data", {}), "data"),
        model=_build(ModelConfig, container.get("model", {}), "model"),
        train=_build(TrainConfig, container.get("train", {}), "train"),
        runtime=_build(RuntimeConfig, container.get("runtime", {}), "runtime"),
    )
    validate(run)
    return run


def _build(cls: type, values: dict, section: str) -> Any:
    check(isinstance(values, dict), section, values, "a mapping of keys to values")
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(unknown_key(f"{section}.{key}"))
    return cls(**values)
