"""Validation: every value of a RunConfig checked against what the trainer can honour.

Types first (`check_types`), then each section's rules, in the order a reader meets the
keys; the first value that fails raises one ConfigError line naming the key and what is
accepted.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
import types
import typing
from typing import TYPE_CHECKING, Any

from harness.arms import ARMS
from harness.config.errors import ConfigError, check
from harness.config.groups import resolve_groups
from harness.config.schema import (
    EVAL_SCHEDULES,
    FLOAT32_MAX,
    GROUPING_SIGNALS,
    LABELLINGS,
    LR_OBJECTIVES,
    MAX_INT,
    MODEL_KINDS,
    OPTIMIZERS,
    SAMPLINGS,
    TRACKERS,
    WEIGHTINGS,
    DataConfig,
    RunConfig,
)

if TYPE_CHECKING:
    from harness.data.suite import Suite


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
        check(isinstance(value, list), key, value, f"a list of {_NAMES.get(item, 'value')}s")
        for element in value:
            _check_value(key, element, item)
    elif kind is bool:
        check(isinstance(value, bool), key, value, "true or false")
    elif kind is int:
        check(isinstance(value, int) and not isinstance(value, bool), key, value, "an integer")
        check(value <= MAX_INT, key, value, f"an integer <= {MAX_INT}")
    elif kind is float:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        check(number and abs(value) <= sys.float_info.max, key, value, "a finite number")
    else:
        check(isinstance(value, kind), key, value, f"a {_NAMES[kind]}")


_NAMES = {str: "string", float: "number", int: "integer", bool: "boolean"}


def validate(run: RunConfig) -> None:
    """Raise a ConfigError naming the first value of `run` the trainer cannot honour.

    A table's data.tasks is set to its number of label columns here.
    """
    _check_types(run)
    ok = run.study is None or (isinstance(run.study, str) and run.study.isidentifier())
    check(ok, "study", run.study, "null or a study name (letters, digits, underscores)")
    _check_arms(run.arms)
    _check_suite(run.data)
    _check_task_family(run.data)
    _check_splits(run.data)
    _check_sizes(run.data)
    _check_model(run)
    _check_training(run)
    _check_arms_fit(run)
    _check_runtime(run)
    _check_affinity(run)
    _check_grouping(run)


def _check_arms(arms: list[str]) -> None:
    names = ", ".join(ARMS)
    check(len(arms) > 0, "arms", arms, f"a non-empty list of {names}")
    for arm in arms:
        check(arm in ARMS, "arms", arm, f"one of {names}")
    check(len(set(arms)) == len(arms), "arms", arms, "each arm at most once")


def _suite(d: DataConfig) -> Suite:
    from harness.data import SUITES  # the suites import this layer's schema

    check(d.suite in SUITES, "data.suite", d.suite, f"one of {', '.join(SUITES)}")
    return SUITES[d.suite]


def _check_suite(d: DataConfig) -> None:
    """data.suite is a registered suite, and its own rules hold (harness/data/suite.py)."""
    _suite(d).check(d)
    check(d.tasks >= 1, "data.tasks", d.tasks, "an integer >= 1")


def _check_task_family(d: DataConfig) -> None:
    """The generated tasks' keys: dimensions, relatedness, noise and planted groups."""
    check(d.dim >= 1, "data.dim", d.dim, "an integer >= 1")
    check(0.0 <= d.relatedness <= 1.0, "data.relatedness", d.relatedness, "a number in [0, 1]")
    check(d.noise >= 0.0, "data.noise", d.noise, "a number >= 0")
    check(d.sinusoids >= 0, "data.sinusoids", d.sinusoids, "an integer >= 0")
    check(1 <= d.task_groups <= d.tasks, "data.task_groups", d.task_groups, f"an integer in [1, data.tasks={d.tasks}]")
    if d.task_groups > 1:
        ok = 0.0 <= d.relatedness_between <= d.relatedness
        bound = f"data.relatedness={d.relatedness}"
        check(ok, "data.relatedness_between", d.relatedness_between, f"a number in [0, {bound}]")
    check(d.specific >= 0.0, "data.specific", d.specific, "a number >= 0")
    check(d.noise_spread >= 0.0, "data.noise_spread", d.noise_spread, "a number >= 0")
    check(0.0 <= d.missing < 1.0, "data.missing", d.missing, "a fraction in [0, 1)")


def _check_splits(d: DataConfig) -> None:
    """Rows of each split, data seeds, and the image and file suites' split keys."""
    check(d.pool >= 1, "data.pool", d.pool, "an integer >= 1")
    check(d.n_val >= 2, "data.n_val", d.n_val, "an integer >= 2")
    check(d.n_test >= 2, "data.n_test", d.n_test, "an integer >= 2")
    check(d.seed >= 0, "data.seed", d.seed, f"an integer in [0, {MAX_INT}]")
    check(d.image_size >= 16, "data.image_size", d.image_size, "an integer >= 16")
    check(0.0 <= d.frequency <= 1.0, "data.frequency", d.frequency, "a probability in [0, 1]")
    if d.frequencies is not None:
        check(len(d.frequencies) == d.tasks, "data.frequencies", d.frequencies, f"{d.tasks} probabilities or null")
        for f in d.frequencies:
            check(0.0 <= f <= 1.0, "data.frequencies", f, "probabilities in [0, 1]")
    check(d.grid >= 1, "data.grid", d.grid, "an integer >= 1")
    check(0.0 <= d.blank < 1.0, "data.blank", d.blank, "a probability in [0, 1)")
    check(0.0 < d.val_fraction < 1.0, "data.val_fraction", d.val_fraction, "a fraction in (0, 1)")
    check(0.0 < d.test_fraction < 1.0, "data.test_fraction", d.test_fraction, "a fraction in (0, 1)")
    check(0.0 <= d.max_duplicates <= 1.0, "data.max_duplicates", d.max_duplicates, "a fraction in [0, 1]")
    held_out = d.val_fraction + d.test_fraction
    check(held_out < 1.0, "data.test_fraction", d.test_fraction, f"< 1 - data.val_fraction={d.val_fraction}")


def _check_sizes(d: DataConfig) -> None:
    """Per-task label counts (symmetric or lopsided), the target, and how labels are laid out."""
    # A file's sizes are caps on the labels it has, checked when it is read;
    # data.n_per_task=0 there keeps every label.
    from_file = _suite(d).from_file
    cap, bound = (None, "") if from_file else (d.pool, f", data.pool={d.pool}")
    if d.n_target is not None or d.n_other is not None:
        if d.n_target is not None:
            ok = d.n_target >= 1 and (cap is None or d.n_target <= cap)
            check(ok, "data.n_target", d.n_target, f"an integer in [1{bound}]")
        if d.n_other is not None:
            ok = d.n_other >= 0 and (cap is None or d.n_other <= cap)
            check(ok, "data.n_other", d.n_other, f"an integer in [0{bound}]")
        check(d.n_target is not None, "data.n_target", d.n_target, "an integer when data.n_other is set")
        check(d.n_other is not None, "data.n_other", d.n_other, "an integer when data.n_target is set")
    elif from_file:
        check(d.n_per_task >= 0, "data.n_per_task", d.n_per_task, "an integer >= 0 (0: every label in the file)")
    else:
        check(1 <= d.n_per_task <= d.pool, "data.n_per_task", d.n_per_task, f"an integer in [1, data.pool={d.pool}]")
    check(0 <= d.target < d.tasks, "data.target", d.target, f"a task index in [0, {d.tasks - 1}]")
    check(d.labelling in LABELLINGS, "data.labelling", d.labelling, f"one of {', '.join(LABELLINGS)}")
    if d.labelling == "disjoint":
        kept = f"overlap for data.suite={d.suite} (the file's labels are kept)"
        check(not from_file, "data.labelling", d.labelling, kept)
        sizes = d.task_sizes
        if sum(sizes) > d.pool:
            shown = "+".join(map(str, sizes)) if len(set(sizes)) > 1 else f"{d.tasks} x {sizes[0]}"
            raise ConfigError(
                f"data.pool={d.pool} is too small for data.labelling=disjoint: the per-task sizes {shown} "
                f"sum to {sum(sizes)}"
            )


def _check_model(run: RunConfig) -> None:
    m, suite = run.model, run.data.suite
    check(m.kind in MODEL_KINDS, "model.kind", m.kind, f"one of {', '.join(MODEL_KINDS)}")
    ok = m.kind == "mlp" or _suite(run.data).images
    check(ok, "model.kind", m.kind, f"mlp for data.suite={suite} (cnn needs images)")
    check(m.width >= 1, "model.width", m.width, "an integer >= 1")
    check(m.depth >= 1, "model.depth", m.depth, "an integer >= 1")
    check(m.experts >= 1, "model.experts", m.experts, "an integer >= 1")
    soft = [name for name in run.arms if name in ARMS and ARMS[name].sharing != "hard"]
    check(not soft or m.kind == "mlp", "model.kind", m.kind, f"mlp with arm {soft[0] if soft else ''} (soft sharing)")


def _check_training(run: RunConfig) -> None:
    """Steps, batches, learning rates, optimiser, evaluation schedule and seeds."""
    t = run.train
    check(t.steps >= 1, "train.steps", t.steps, "an integer >= 1")
    check(t.batch_size >= 1, "train.batch_size", t.batch_size, "an integer >= 1")
    check(0.0 < t.lr <= FLOAT32_MAX, "train.lr", t.lr, f"a number in (0, {FLOAT32_MAX:.4g}]")
    if t.lr_grid is not None:
        grid = f"a list of at least 2 distinct numbers in (0, {FLOAT32_MAX:.4g}], or null (train.lr alone)"
        check(len(t.lr_grid) >= 2 and len(set(t.lr_grid)) == len(t.lr_grid), "train.lr_grid", t.lr_grid, grid)
        for lr in t.lr_grid:
            check(isinstance(lr, int | float) and 0.0 < lr <= FLOAT32_MAX, "train.lr_grid", lr, grid)
    check(t.sampling in SAMPLINGS, "train.sampling", t.sampling, f"one of {', '.join(SAMPLINGS)}")
    objectives = ", ".join(LR_OBJECTIVES)
    check(t.lr_objective in LR_OBJECTIVES, "train.lr_objective", t.lr_objective, f"one of {objectives}")
    check(t.optimizer in OPTIMIZERS, "train.optimizer", t.optimizer, f"one of {', '.join(OPTIMIZERS)}")
    decay = f"a number in [0, {FLOAT32_MAX:.4g}]"
    check(0.0 <= t.weight_decay <= FLOAT32_MAX, "train.weight_decay", t.weight_decay, decay)
    check(1 <= t.eval_every <= t.steps, "train.eval_every", t.eval_every, f"an integer in [1, train.steps={t.steps}]")
    check(t.steps % t.eval_every == 0, "train.steps", t.steps, f"a multiple of train.eval_every={t.eval_every}")
    schedules = ", ".join(EVAL_SCHEDULES)
    check(t.eval_schedule in EVAL_SCHEDULES, "train.eval_schedule", t.eval_schedule, f"one of {schedules}")
    check(t.seeds >= 1, "train.seeds", t.seeds, "an integer >= 1")
    check(t.seed >= 0, "train.seed", t.seed, f"an integer in [0, {MAX_INT}]")
    # Replicate r draws its data with seed data.seed + r.
    d = run.data
    check(d.seed + t.seeds - 1 <= MAX_INT, "data.seed", d.seed, f"an integer <= {MAX_INT} - train.seeds + 1")


def _transfer(run: RunConfig) -> bool:
    """Some arm pretrains on the other tasks, then fine-tunes the target (train.pretrain_fraction)."""
    return any(ARMS[arm].transfer for arm in run.arms)


def _check_arms_fit(run: RunConfig) -> None:
    """Arms that need a second task have one; weighting and pretraining leave steps to train."""
    t, tasks = run.train, run.data.tasks
    for arm in run.arms:
        check(not ARMS[arm].multi_task or tasks >= 2, "data.tasks", tasks, f"an integer >= 2 with arm {arm}")
    check(t.weighting in WEIGHTINGS, "train.weighting", t.weighting, f"one of {', '.join(WEIGHTINGS)}")
    check(
        1 <= t.pretrain_steps <= t.steps - 1 or not _transfer(run),
        "train.pretrain_fraction",
        t.pretrain_fraction,
        f"a fraction leaving at least one pretraining and one fine-tuning step of train.steps={t.steps}",
    )


def _check_runtime(run: RunConfig) -> None:
    r = run.runtime
    check(r.tracking in TRACKERS, "runtime.tracking", r.tracking, f"one of {', '.join(TRACKERS)}")
    check(
        r.tracking != "mlflow" or importlib.util.find_spec("mlflow") is not None,
        "runtime.tracking",
        r.tracking,
        "none, or mlflow with the mlflow extra installed (pip install 'mtl-harness[mlflow]')",
    )


def _check_affinity(run: RunConfig) -> None:
    """TAG affinity is measured on arm mtl, at steps that fall on evaluations and phase ends."""
    t = run.train
    check(t.affinity_every >= 0, "train.affinity_every", t.affinity_every, "an integer >= 0 (0: off)")
    if not t.affinity_every:
        return
    check("mtl" in run.arms, "train.affinity_every", t.affinity_every, "0 unless arm mtl is trained")
    check(run.data.tasks >= 2, "data.tasks", run.data.tasks, "an integer >= 2 when train.affinity_every > 0")
    check(
        not _transfer(run) or t.pretrain_steps % t.affinity_every == 0,
        "train.pretrain_fraction",
        t.pretrain_fraction,
        f"a fraction of train.steps that is a multiple of train.affinity_every={t.affinity_every}",
    )
    divisor = f"a divisor of train.eval_every={t.eval_every}"
    check(t.eval_every % t.affinity_every == 0, "train.affinity_every", t.affinity_every, divisor)
    check(
        0 < t.affinity_window <= 1 and t.affinity_steps >= 1,
        "train.affinity_window",
        t.affinity_window,
        f"a fraction in (0, 1] of train.steps={t.steps} that holds at least one measurement (every "
        f"{t.affinity_every} steps)",
    )


def _check_grouping(run: RunConfig) -> None:
    t = run.train
    check(t.groups is None or "groups" in run.arms, "train.groups", t.groups, "null unless arm groups is trained")
    if t.groups is not None:
        resolve_groups(t.groups, run.data.tasks, _suite(run.data).task_names(run.data))
    signals = ", ".join(GROUPING_SIGNALS)
    check(t.grouping_signal in GROUPING_SIGNALS, "train.grouping_signal", t.grouping_signal, f"one of {signals}")
    check(t.max_networks >= 0, "train.max_networks", t.max_networks, "an integer >= 0 (0: up to one per task)")
