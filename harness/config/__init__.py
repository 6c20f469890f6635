"""Typed configuration: the schema Hydra composes into, and its validation.

Every key a user can type lives in one of these dataclasses; `validate` turns a
composed config into the same dataclasses and rejects values the trainer cannot
honour, with one line that names the key and what is accepted.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from omegaconf import OmegaConf

from harness import arms as arm_names


class ConfigError(ValueError):
    """A configuration value the harness cannot run with (message is one line)."""


SUITES = ("synthetic", "scenes", "digits", "table")
MODEL_KINDS = ("mlp", "cnn")
OPTIMIZERS = ("adam", "adamw", "sgd")
# Arms that train one network per group of tasks; declared in harness/arms.py.
ARMS = tuple(arm_names.ARMS)
# Arms that need at least two tasks: an auxiliary or source task, or a partner.
MULTI_TASK_ARMS = ("mtl_shuffled", "transfer_head", "transfer_full", "transfer_shuffled", "pairs", "groups")
# Arms that pretrain on the other tasks, then fine-tune the target (train.pretrain_fraction).
TRANSFER_ARMS = ("transfer_head", "transfer_full", "transfer_shuffled")
WEIGHTINGS = ("equal", "uncertainty", "pcgrad")  # see harness/train/gradients.py
EVAL_SCHEDULES = ("log", "linear")  # see harness/train/trainer.py, evaluation_steps
# Largest size, count or seed: shapes, row indices and step counters are int32 in the
# compiled program, and seeds feed numpy's and JAX's generators.
MAX_INT = 2**31 - 1
# Hyperparameters enter the compiled program as float32; a larger value would become inf.
FLOAT32_MAX = 3.4028234663852886e38
LABELLINGS = ("overlap", "disjoint")  # see harness/data/base.py
GROUPING_SIGNALS = ("affinity", "pairs")  # see harness/runs/grouping.py
TRACKERS = ("none", "mlflow")  # see harness/runs/tracking/


@dataclass
class DataConfig:
    suite: str = "synthetic"
    tasks: int = 8
    dim: int = 64
    relatedness: float = 0.8
    noise: float = 0.5
    sinusoids: int = 4
    # synthetic families (docs/task-families.md): planted groups of tasks with their own
    # relatedness between groups, task-specific nonlinear parts, per-task label noise.
    task_groups: int = 1
    relatedness_between: float = 0.0
    specific: float = 0.0
    noise_spread: float = 0.0
    n_per_task: int = 100
    n_target: int | None = None
    n_other: int | None = None
    target: int = 0
    missing: float = 0.0
    # overlap: task k is labelled on the pool's first n_k rows; disjoint: on rows of its own.
    labelling: str = "overlap"
    pool: int = 1024
    n_val: int = 500
    n_test: int = 2000
    seed: int = 0
    # scenes: square RGB images of data.image_size pixels; each object type appears
    # independently with probability data.frequency, or data.frequencies[k] per type.
    image_size: int = 32
    frequency: float = 0.3
    frequencies: list[float] | None = None
    # digits: mosaics of grid x grid 8x8 digits, each cell blank with probability data.blank.
    grid: int = 2
    blank: float = 0.25
    # digits and table: the shares of source images (digits) or fully labelled rows
    # (table) held out for validation and test.
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    # table: the file, its binary label columns (one task each) and its feature columns.
    path: str | None = None
    labels: list[str] | None = None
    features: list[str] | None = None

    @property
    def task_sizes(self) -> list[int]:
        """Labelled training rows per task before hiding: symmetric or lopsided."""
        if self.n_target is None:
            return [self.n_per_task] * self.tasks
        return [self.n_target if k == self.target else self.n_other for k in range(self.tasks)]


@dataclass(unsafe_hash=True)  # part of the compiled program's cache key
class ModelConfig:
    kind: str = "mlp"
    width: int = 64
    depth: int = 2


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    # Train every arm once per value and report, per arm, seed and network, the one with the
    # lowest validation loss (harness/train/trainer.py, lr_choice); None: train.lr alone.
    lr_grid: list[float] | None = None
    optimizer: str = "adam"
    weight_decay: float = 0.0
    eval_every: int = 50
    eval_schedule: str = "log"
    seeds: int = 3
    seed: int = 0
    weighting: str = "equal"
    pretrain_fraction: float = 0.5
    affinity_every: int = 0
    # Arm groups: the partition of the tasks (lists of task indices or names), or null to
    # search one from train.grouping_signal with at most train.max_networks groups (0: K).
    groups: list[Any] | None = None
    grouping_signal: str = "affinity"
    max_networks: int = 0

    @property
    def pretrain_steps(self) -> int:
        """Steps the transfer arms spend on the source tasks; the rest fine-tune the target."""
        return round(self.pretrain_fraction * self.steps)


@dataclass
class RuntimeConfig:
    cache_dir: str = "~/.cache/mtl-harness/jax"
    progress: bool = True
    # Skip jobs whose output folder already holds a valid result.json for the same config.
    resume: bool = False
    # Compile with a lighter LLVM pipeline: programs compile about 2-3x faster and small
    # networks train up to ~1.5x slower on a CPU. Process-wide (set it for a whole sweep).
    fast_compile: bool = False
    # Experiment tracking of every sweep and job (harness/runs/tracking/); "none": off.
    tracking: str = "none"
    # Where to track; empty: a local store mlruns/ beside the run or sweep folder.
    tracking_uri: str = ""


@dataclass
class RunConfig:
    # The analysis an experiment file declares (harness/analysis/studies); None: a plain sweep.
    study: str | None = None
    arms: list[str] = field(default_factory=lambda: ["mtl", "stl"])
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)


def register_schema() -> None:
    """Put the schema in Hydra's ConfigStore as `base_config` (conf/config.yaml extends it)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="base_config", node=RunConfig)


def schema_keys(path: str = "") -> list[str] | None:
    """The keys accepted under a dotted path of the schema, or None if the path is not a section."""
    node: Any = RunConfig
    for part in [p for p in path.split(".") if p]:
        fields = {f.name: f for f in dataclasses.fields(node)}
        if part not in fields:
            return None
        node = _field_type(node, part)
        if not dataclasses.is_dataclass(node):
            return None
    return [f.name for f in dataclasses.fields(node)]


def _field_type(cls: type, name: str) -> Any:
    default = {f.name: f for f in dataclasses.fields(cls)}[name]
    if default.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        value = default.default_factory()  # type: ignore[misc]
        return type(value) if dataclasses.is_dataclass(value) else None
    return None


def from_omegaconf(cfg: Any) -> RunConfig:
    """Turn a composed (possibly untyped) config into validated dataclasses."""
    # Only the harness's own sections: Hydra's node holds values resolved per job later.
    container = {
        key: cfg[key] if isinstance(cfg, dict) or key == "study" else OmegaConf.to_container(cfg[key], resolve=True)
        for key in schema_keys()
        if key in cfg
    }
    arms = container.get("arms", ["mtl", "stl"])
    _check(isinstance(arms, list | tuple), "arms", arms, f"a list of {', '.join(ARMS)}")
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
    _check(isinstance(values, dict), section, values, "a mapping of keys to values")
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown key '{section}.{key}'; accepted: {', '.join(sorted(known))}")
    return cls(**values)


def _check(ok: bool, key: str, value: Any, accepted: str) -> None:
    if not ok:
        shown = repr(value)  # repr escapes control characters: the message stays one line
        shown = shown if len(shown) <= 60 else f"{shown[:57]}..."
        raise ConfigError(f"{key}={shown} is not accepted; expected {accepted}")


def _check_types(node: Any, prefix: str = "") -> None:
    """Every value has its schema type; numbers are finite and integers at most MAX_INT.

    Runs before the per-key checks, whose comparisons would let inf through or fail on a
    string; a config built from a plain dict has had no type checks at all.
    """
    hints = typing.get_type_hints(type(node))
    for f in dataclasses.fields(node):
        key, value = f"{prefix}{f.name}", getattr(node, f.name)
        if dataclasses.is_dataclass(value):
            _check_types(value, f"{key}.")
        else:
            _check_value(key, value, hints[f.name])


def _check_value(key: str, value: Any, hint: Any) -> None:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in options:
        return
    (kind,) = [option for option in options if option is not type(None)]
    if kind is Any:  # checked by its own validator (train.groups: indices or names)
        return
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind)
        _check(isinstance(value, list), key, value, f"a list of {_NAMES.get(item, 'value')}s")
        for element in value:
            _check_value(key, element, item)
    elif kind is bool:
        _check(isinstance(value, bool), key, value, "true or false")
    elif kind is int:
        _check(isinstance(value, int) and not isinstance(value, bool), key, value, "an integer")
        _check(value <= MAX_INT, key, value, f"an integer <= {MAX_INT}")
    elif kind is float:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        _check(number and abs(value) <= sys.float_info.max, key, value, "a finite number")
    else:
        _check(isinstance(value, kind), key, value, f"a {_NAMES[kind]}")


_NAMES = {str: "string", float: "number", int: "integer", bool: "boolean"}


def validate(run: RunConfig) -> None:
    d, m, t, r = run.data, run.model, run.train, run.runtime
    _check_types(run)
    ok = run.study is None or (isinstance(run.study, str) and run.study.isidentifier())
    _check(ok, "study", run.study, "null or a study name (letters, digits, underscores)")
    _check(len(run.arms) > 0, "arms", run.arms, f"a non-empty list of {', '.join(ARMS)}")
    for arm in run.arms:
        _check(arm in ARMS, "arms", arm, f"one of {', '.join(ARMS)}")
    _check(len(set(run.arms)) == len(run.arms), "arms", run.arms, "each arm at most once")
    _check(d.suite in SUITES, "data.suite", d.suite, f"one of {', '.join(SUITES)}")
    table = d.suite == "table"
    if table:
        _check(bool(d.path), "data.path", d.path, "the CSV or Parquet file to read (data.suite=table)")
        _check(bool(d.labels), "data.labels", d.labels, "a non-empty list of the file's binary label columns")
        _check(len(set(d.labels)) == len(d.labels), "data.labels", d.labels, "distinct column names")
        _check(d.tasks in (0, len(d.labels)), "data.tasks", d.tasks, f"0 or {len(d.labels)}, one per label column")
        d.tasks = len(d.labels)  # a table's tasks are its label columns
        if d.features is not None:
            _check(len(d.features) > 0, "data.features", d.features, "a non-empty list of columns, or null for all")
            both = sorted(set(d.features) & set(d.labels))
            _check(not both, "data.features", d.features, f"no label column (both: {', '.join(both)})")
    _check(d.tasks >= 1, "data.tasks", d.tasks, "an integer >= 1")
    if d.suite == "digits":
        _check(d.tasks == 10, "data.tasks", d.tasks, "10 for data.suite=digits (one task per digit)")
    _check(d.dim >= 1, "data.dim", d.dim, "an integer >= 1")
    _check(0.0 <= d.relatedness <= 1.0, "data.relatedness", d.relatedness, "a number in [0, 1]")
    _check(d.noise >= 0.0, "data.noise", d.noise, "a number >= 0")
    _check(d.sinusoids >= 0, "data.sinusoids", d.sinusoids, "an integer >= 0")
    _check(1 <= d.task_groups <= d.tasks, "data.task_groups", d.task_groups, f"an integer in [1, data.tasks={d.tasks}]")
    if d.suite == "synthetic":  # the shared directions and one direction of each task's own
        bound = f">= data.task_groups + 2 = {d.task_groups + 2}"
        _check(d.dim >= d.task_groups + 2, "data.dim", d.dim, f"an integer {bound}")
    if d.task_groups > 1:
        ok = 0.0 <= d.relatedness_between <= d.relatedness
        bound = f"data.relatedness={d.relatedness}"
        _check(ok, "data.relatedness_between", d.relatedness_between, f"a number in [0, {bound}]")
    _check(d.specific >= 0.0, "data.specific", d.specific, "a number >= 0")
    _check(d.noise_spread >= 0.0, "data.noise_spread", d.noise_spread, "a number >= 0")
    _check(0.0 <= d.missing < 1.0, "data.missing", d.missing, "a fraction in [0, 1)")
    _check(d.pool >= 1, "data.pool", d.pool, "an integer >= 1")
    _check(d.n_val >= 2, "data.n_val", d.n_val, "an integer >= 2")
    _check(d.n_test >= 2, "data.n_test", d.n_test, "an integer >= 2")
    _check(d.seed >= 0, "data.seed", d.seed, f"an integer in [0, {MAX_INT}]")
    _check(d.image_size >= 16, "data.image_size", d.image_size, "an integer >= 16")
    _check(0.0 <= d.frequency <= 1.0, "data.frequency", d.frequency, "a probability in [0, 1]")
    if d.frequencies is not None:
        _check(len(d.frequencies) == d.tasks, "data.frequencies", d.frequencies, f"{d.tasks} probabilities or null")
        for f in d.frequencies:
            _check(0.0 <= f <= 1.0, "data.frequencies", f, "probabilities in [0, 1]")
    _check(d.grid >= 1, "data.grid", d.grid, "an integer >= 1")
    _check(0.0 <= d.blank < 1.0, "data.blank", d.blank, "a probability in [0, 1)")
    _check(0.0 < d.val_fraction < 1.0, "data.val_fraction", d.val_fraction, "a fraction in (0, 1)")
    _check(0.0 < d.test_fraction < 1.0, "data.test_fraction", d.test_fraction, "a fraction in (0, 1)")
    held_out = d.val_fraction + d.test_fraction
    _check(held_out < 1.0, "data.test_fraction", d.test_fraction, f"< 1 - data.val_fraction={d.val_fraction}")
    # A table's sizes are caps on the labels its file has, checked when it is read;
    # data.n_per_task=0 there keeps every label.
    cap, bound = (None, "") if table else (d.pool, f", data.pool={d.pool}")
    lopsided = d.n_target is not None or d.n_other is not None
    if lopsided:
        if d.n_target is not None:
            ok = d.n_target >= 1 and (cap is None or d.n_target <= cap)
            _check(ok, "data.n_target", d.n_target, f"an integer in [1{bound}]")
        if d.n_other is not None:
            ok = d.n_other >= 0 and (cap is None or d.n_other <= cap)
            _check(ok, "data.n_other", d.n_other, f"an integer in [0{bound}]")
        _check(d.n_target is not None, "data.n_target", d.n_target, "an integer when data.n_other is set")
        _check(d.n_other is not None, "data.n_other", d.n_other, "an integer when data.n_target is set")
    elif table:
        _check(d.n_per_task >= 0, "data.n_per_task", d.n_per_task, "an integer >= 0 (0: every label in the file)")
    else:
        _check(1 <= d.n_per_task <= d.pool, "data.n_per_task", d.n_per_task, f"an integer in [1, data.pool={d.pool}]")
    _check(0 <= d.target < d.tasks, "data.target", d.target, f"a task index in [0, {d.tasks - 1}]")
    _check(d.labelling in LABELLINGS, "data.labelling", d.labelling, f"one of {', '.join(LABELLINGS)}")
    if d.labelling == "disjoint":
        _check(not table, "data.labelling", d.labelling, "overlap for data.suite=table (the file's labels are kept)")
        sizes = d.task_sizes
        if sum(sizes) > d.pool:
            shown = "+".join(map(str, sizes)) if len(set(sizes)) > 1 else f"{d.tasks} x {sizes[0]}"
            raise ConfigError(
                f"data.pool={d.pool} is too small for data.labelling=disjoint: the per-task sizes {shown} "
                f"sum to {sum(sizes)}"
            )
    _check(m.kind in MODEL_KINDS, "model.kind", m.kind, f"one of {', '.join(MODEL_KINDS)}")
    images = d.suite in ("scenes", "digits")
    _check(m.kind == "mlp" or images, "model.kind", m.kind, f"mlp for data.suite={d.suite} (cnn needs images)")
    _check(m.width >= 1, "model.width", m.width, "an integer >= 1")
    _check(m.depth >= 1, "model.depth", m.depth, "an integer >= 1")
    _check(t.steps >= 1, "train.steps", t.steps, "an integer >= 1")
    _check(t.batch_size >= 1, "train.batch_size", t.batch_size, "an integer >= 1")
    _check(0.0 < t.lr <= FLOAT32_MAX, "train.lr", t.lr, f"a number in (0, {FLOAT32_MAX:.4g}]")
    if t.lr_grid is not None:
        grid = f"a list of at least 2 distinct numbers in (0, {FLOAT32_MAX:.4g}], or null (train.lr alone)"
        _check(len(t.lr_grid) >= 2 and len(set(t.lr_grid)) == len(t.lr_grid), "train.lr_grid", t.lr_grid, grid)
        for lr in t.lr_grid:
            _check(isinstance(lr, int | float) and 0.0 < lr <= FLOAT32_MAX, "train.lr_grid", lr, grid)
    _check(t.optimizer in OPTIMIZERS, "train.optimizer", t.optimizer, f"one of {', '.join(OPTIMIZERS)}")
    _check(
        0.0 <= t.weight_decay <= FLOAT32_MAX,
        "train.weight_decay",
        t.weight_decay,
        f"a number in [0, {FLOAT32_MAX:.4g}]",
    )
    _check(1 <= t.eval_every <= t.steps, "train.eval_every", t.eval_every, f"an integer in [1, train.steps={t.steps}]")
    _check(
        t.steps % t.eval_every == 0,
        "train.steps",
        t.steps,
        f"a multiple of train.eval_every={t.eval_every}",
    )
    schedules = ", ".join(EVAL_SCHEDULES)
    _check(t.eval_schedule in EVAL_SCHEDULES, "train.eval_schedule", t.eval_schedule, f"one of {schedules}")
    _check(t.seeds >= 1, "train.seeds", t.seeds, "an integer >= 1")
    _check(t.seed >= 0, "train.seed", t.seed, f"an integer in [0, {MAX_INT}]")
    # Replicate r draws its data with seed data.seed + r.
    _check(d.seed + t.seeds - 1 <= MAX_INT, "data.seed", d.seed, f"an integer <= {MAX_INT} - train.seeds + 1")
    for arm in run.arms:
        _check(arm not in MULTI_TASK_ARMS or d.tasks >= 2, "data.tasks", d.tasks, f"an integer >= 2 with arm {arm}")
    _check(t.weighting in WEIGHTINGS, "train.weighting", t.weighting, f"one of {', '.join(WEIGHTINGS)}")
    _check(
        1 <= t.pretrain_steps <= t.steps - 1 or not set(TRANSFER_ARMS) & set(run.arms),
        "train.pretrain_fraction",
        t.pretrain_fraction,
        f"a fraction leaving at least one pretraining and one fine-tuning step of train.steps={t.steps}",
    )
    _check(r.tracking in TRACKERS, "runtime.tracking", r.tracking, f"one of {', '.join(TRACKERS)}")
    _check(
        r.tracking != "mlflow" or importlib.util.find_spec("mlflow") is not None,
        "runtime.tracking",
        r.tracking,
        "none, or mlflow with the mlflow extra installed (pip install 'mtl-harness[mlflow]')",
    )
    _check(t.affinity_every >= 0, "train.affinity_every", t.affinity_every, "an integer >= 0 (0: off)")
    if t.affinity_every:
        _check("mtl" in run.arms, "train.affinity_every", t.affinity_every, "0 unless arm mtl is trained")
        _check(d.tasks >= 2, "data.tasks", d.tasks, "an integer >= 2 when train.affinity_every > 0")
        _check(
            not set(TRANSFER_ARMS) & set(run.arms) or t.pretrain_steps % t.affinity_every == 0,
            "train.pretrain_fraction",
            t.pretrain_fraction,
            f"a fraction of train.steps that is a multiple of train.affinity_every={t.affinity_every}",
        )
        _check(
            t.eval_every % t.affinity_every == 0,
            "train.affinity_every",
            t.affinity_every,
            f"a divisor of train.eval_every={t.eval_every}",
        )
    _check(t.groups is None or "groups" in run.arms, "train.groups", t.groups, "null unless arm groups is trained")
    if t.groups is not None:  # names of suites other than a table are resolved by the job
        resolve_groups(t.groups, d.tasks, d.labels if table else None)
    signals = ", ".join(GROUPING_SIGNALS)
    _check(t.grouping_signal in GROUPING_SIGNALS, "train.grouping_signal", t.grouping_signal, f"one of {signals}")
    _check(t.max_networks >= 0, "train.max_networks", t.max_networks, "an integer >= 0 (0: up to one per task)")


def resolve_groups(groups: Any, tasks: int, names: Sequence[str] | None = None) -> tuple[tuple[int, ...], ...] | None:
    """train.groups as task indices: each group sorted, groups ordered by their first task.

    Entries are task indices or task names (`names`); every task must be in exactly one
    group. None when an entry is a name and `names` is not given (the job resolves it).
    """
    shape = "a non-empty list of groups, each a non-empty list of task indices or names"
    _check(isinstance(groups, list | tuple) and len(groups) > 0, "train.groups", groups, shape)
    for g, group in enumerate(groups):
        _check(isinstance(group, list | tuple), "train.groups", groups, shape)
        _check(len(group) > 0, "train.groups", groups, f"non-empty groups (group {g} is empty)")
    entries = [entry for group in groups for entry in group]
    if names is None and any(isinstance(entry, str) for entry in entries):
        return None
    label = names or [str(k) for k in range(tasks)]
    index = {name: k for k, name in enumerate(names or ())}
    where: dict[int, int] = {}
    for g, group in enumerate(groups):
        for entry in group:
            if isinstance(entry, str) and entry in index:
                task = index[entry]
            elif isinstance(entry, int) and not isinstance(entry, bool) and 0 <= entry < tasks:
                task = entry
            else:
                known = f" or one of {', '.join(names)}" if names else ""
                raise ConfigError(f"train.groups: unknown task {entry!r}; expected an index in [0, {tasks - 1}]{known}")
            _check(task not in where, "train.groups", groups, f"each task in one group ({label[task]} is in two)")
            where[task] = g
    missing = [label[k] for k in range(tasks) if k not in where]
    _check(not missing, "train.groups", groups, f"every task in a group ({', '.join(missing)} in none)")
    return tuple(sorted(tuple(sorted(k for k in where if where[k] == g)) for g in range(len(groups))))


def to_dict(run: RunConfig) -> dict:
    return dataclasses.asdict(run)
