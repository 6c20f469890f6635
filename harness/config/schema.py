"""The schema: every key a user can type, as typed dataclasses, and the values some keys accept.

Hydra composes into `RunConfig` (registered as `base_config`); harness/config/checks.py
rejects values the trainer cannot honour.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

MODEL_KINDS = ("mlp", "cnn")
OPTIMIZERS = ("adam", "adamw", "sgd")
# Arms that train one network per group of tasks; declared in harness/arms.py.
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
# union: each step draws a network's batch from the union of its tasks' labelled rows;
# per_task: train.batch_size rows of each task's own labelled rows (harness/train/program.py).
SAMPLINGS = ("union", "per_task")
# The validation loss that picks a network's learning rate: its tasks' sum, or the target's.
LR_OBJECTIVES = ("tasks", "target")


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
    # features family (data=features, docs/task-families.md): r shared hidden features, m of
    # each task's own, and the shared features' share f of each score's variance.
    shared_features: int = 4
    own_features: int = 2
    shared_fraction: float = 0.8
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
    # table: the largest share of validation and test rows whose features equal a training
    # row's (an optimistic test score); any is a warning, more is an error; 1 allows all.
    max_duplicates: float = 0.05

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
    experts: int = 4  # the mmoe arms' experts (each a trunk of `width` units)


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    # Train every arm once per value and report, per arm, seed and network, the one with the
    # lowest validation loss (harness/train/trainer.py, lr_choice); None: train.lr alone.
    lr_grid: list[float] | None = None
    # Whose validation loss picks each network's learning rate from the grid: the sum over its
    # tasks, or data.target's alone (a claim about one target task); lr_choice.
    lr_objective: str = "tasks"
    # How a network's minibatch is drawn from the labelled rows (SAMPLINGS above).
    sampling: str = "union"
    optimizer: str = "adam"
    weight_decay: float = 0.0
    eval_every: int = 50
    eval_schedule: str = "log"
    seeds: int = 3
    seed: int = 0
    weighting: str = "equal"
    pretrain_fraction: float = 0.5
    affinity_every: int = 0
    # TAG affinity is averaged over the measurements in this first fraction of train.steps: late
    # in training the tasks' trunk gradients cancel (their sum nears 0 at a minimum), so the tasks
    # that share the most features look the most opposed (docs/protocol.md, "Affinity lookahead").
    affinity_window: float = 0.2
    # Arm groups: the partition of the tasks (lists of task indices or names), or null to
    # search one from train.grouping_signal with at most train.max_networks groups (0: K).
    groups: list[Any] | None = None
    grouping_signal: str = "affinity"
    max_networks: int = 0

    @property
    def pretrain_steps(self) -> int:
        """Steps the transfer arms spend on the source tasks; the rest fine-tune the target."""
        return round(self.pretrain_fraction * self.steps)

    @property
    def affinity_steps(self) -> int:
        """Affinity is measured at the steps before this one (train.affinity_window of the run)."""
        return round(self.affinity_window * self.steps)


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


def to_dict(run: RunConfig) -> dict:
    return dataclasses.asdict(run)
