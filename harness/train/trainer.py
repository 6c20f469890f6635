"""The compiled program: all arms, all networks, all seeds, trained together.

`make_program` builds two pure functions of one replicate (one seed and its data
draw): `init` and `chunk` (a loop over a traced number of steps, at most `eval_every`,
then one evaluation, which keeps each head's test logits at its best validation loss
so far). `Compiled` vmaps them over replicates and compiles each once per static shape
(tracked in `TRACES`); `train` drives the chunks from the host along the evaluation
schedule (`evaluation_steps`: step 0 first, then dense early), so a progress bar can
move between them, and scores the kept test logits on the host (`finish`). Values
(data, masks, learning rate, chunk lengths) are arguments, never constants of the
compiled program.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from harness.arms import ArmSpec
from harness.config import ModelConfig, TrainConfig
from harness.data.base import Dataset
from harness.train.gradients import head_mask, lookahead_affinity, pcgrad_grads, uncertainty_total
from harness.train.labels import label_view, shuffle_auxiliary
from harness.train.losses import masked_bce_per_task
from harness.train.metrics import bce, evaluate
from harness.train.models import make_model

# How often each program was traced, by name: a test checks that sweeps that differ
# only in values trace once.
TRACES: Counter[str] = Counter()


@dataclass(frozen=True)
class Static:
    """Everything that fixes the compiled program's shapes and structure."""

    arms: tuple[ArmSpec, ...]
    model: ModelConfig
    optimizer: str
    batch_size: int
    eval_every: int
    eval_schedule: str = "log"  # log | linear, see evaluation_steps
    weighting: str = "equal"  # applies to arms with ArmSpec.weighted
    affinity_every: int = 0  # > 0: measure TAG affinity of AFFINITY_ARM every this many steps


AFFINITY_ARM = "mtl"


def evaluation_steps(static: Static, steps: int, pretrain_steps: int = 0) -> list[int]:
    """The steps after which every network is evaluated: 0 (the initial networks), then
    every `eval_every` steps and at `steps`; the log schedule adds doubling steps below
    `eval_every` (1, 2, 4, ..., or multiples of `affinity_every` when affinity is
    measured), so a network that training only makes worse, or that overfits in a few
    steps, can be stopped there.

    With a transfer arm, pretraining (`pretrain_steps` steps) and fine-tuning each get
    such a schedule, and `pretrain_steps` appears twice: the end of pretraining, then
    the start of fine-tuning from the best pretraining parameters (see `chunk_calls`).
    """
    if pretrain_steps and any(spec.transfer for spec in static.arms):
        tuning = evaluation_steps(static, steps - pretrain_steps)
        return [*evaluation_steps(static, pretrain_steps), *(pretrain_steps + t for t in tuning)]
    first = max(static.affinity_every, 1)
    early = []
    if static.eval_schedule == "log":
        while first * 2 ** len(early) < min(static.eval_every, steps):
            early.append(first * 2 ** len(early))
    regular = range(static.eval_every, steps + 1, static.eval_every)
    return [0, *early, *regular, *([steps] if steps % static.eval_every else [])]


def chunk_calls(schedule: list[int]) -> list[tuple[int, bool]]:
    """(steps, restore) of each `chunk` call that evaluates at `schedule`'s steps; a
    repeated step (after the first evaluation) is the start of fine-tuning."""
    return [
        (end - done, c > 0 and end == done)
        for c, (done, end) in enumerate(zip([0, *schedule[:-1]], schedule, strict=True))
    ]


class ArmState(NamedTuple):
    params: Any
    log_var: jnp.ndarray  # [G, H] uncertainty weighting's log variances (zero, untouched, otherwise)
    opt_state: Any  # of (params, log_var)
    y: jnp.ndarray  # [G, N, H] labels this arm trains on, in head layout
    m: jnp.ndarray  # [G, N, H] mask this arm trains on
    order: jnp.ndarray  # [P, G, N] per phase, pool rows with the network's labels for that phase first
    count: jnp.ndarray  # [P, G] labelled rows per phase and network
    best_val: jnp.ndarray  # [G, H]
    best_step: jnp.ndarray  # [G, H]
    best_logits: jnp.ndarray  # [G, n_test, H]
    affinity_sum: jnp.ndarray  # [G, H, H] sum of measured Z[i, j]
    affinity_count: jnp.ndarray  # [G, H, H] how many measurements entered the sum
    finite: jnp.ndarray  # [] no NaN/inf loss so far
    # Transfer arms (None otherwise): the parameters at the best pretraining evaluation
    # (lowest sum of the sources' validation losses), where fine-tuning starts.
    source_params: Any = None
    source_val: jnp.ndarray | None = None  # [G]
    source_step: jnp.ndarray | None = None  # [G]


def squeeze(tree: Any) -> Any:
    """Every leaf without its leading axis of length 1."""
    return jax.tree.map(lambda a: a[0], tree)


def unsqueeze(tree: Any) -> Any:
    """Every leaf with a leading axis of length 1 put back."""
    return jax.tree.map(lambda a: a[None], tree)


def vmap(fn: Callable, in_axes: int | tuple[int | None, ...] = 0) -> Callable:
    """`jax.vmap` over leading axes, except that an axis of length 1 is indexed away and
    put back instead of mapped.

    XLA's CPU backend lays out a batched matrix product with a unit batch dimension
    badly: every weight gradient is transposed on each step. With one seed, 8 separate
    networks of width 1024 trained at 0.7x the throughput of the same networks without
    the seed axis.
    """
    mapped = jax.vmap(fn, in_axes=in_axes)

    def call(*args):
        axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
        sizes = {jax.tree.leaves(a)[0].shape[0] for a, axis in zip(args, axes, strict=True) if axis is not None}
        if sizes != {1}:
            return mapped(*args)
        return unsqueeze(fn(*(a if axis is None else squeeze(a) for a, axis in zip(args, axes, strict=True))))

    return call


def hyperparams(train: TrainConfig) -> dict[str, jnp.ndarray]:
    """The training values the compiled program takes as arguments (never as constants).

    Each is a vector over the learning-rate grid [L] (train.lr_grid, or [train.lr]):
    every arm trains once per learning rate, as a vmap axis, from the same initial
    networks and minibatches.
    """
    lrs = jnp.asarray(train.lr_grid or [train.lr], jnp.float32)
    return {
        "lr": lrs,
        "weight_decay": jnp.full_like(lrs, train.weight_decay),
        "pretrain_steps": jnp.full(lrs.shape, train.pretrain_steps, jnp.int32),
    }


def make_optimizer(name: str, hp: dict[str, jnp.ndarray]) -> optax.GradientTransformation:
    if name == "adam":
        return optax.adam(hp["lr"])
    if name == "adamw":
        return optax.adamw(hp["lr"], weight_decay=hp["weight_decay"])
    if name == "sgd":
        return optax.sgd(hp["lr"], momentum=0.9)
    raise ValueError(f"unknown optimizer {name!r}")


def _per_head(y: jnp.ndarray, groups: jnp.ndarray) -> jnp.ndarray:
    """[n, K] task columns -> [G, n, H] in the arm's head layout."""
    return jnp.moveaxis(y[:, groups], 1, 0)


def network_keys(key: jax.Array, spec: ArmSpec, purpose: str) -> jax.Array:
    """One key per network, from its name (the arm's, or `spec.key_names`) and its tasks alone.

    A network's initialisation and minibatches therefore do not depend on which other
    networks (or arms) train beside it: network k of the vmapped `stl` arm is exactly
    the network a solo run of task k trains.
    """

    def tag(text: str) -> int:
        return zlib.crc32(text.encode()) & 0x7FFFFFFF

    def one(name, group):
        return jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(key, name), tag(purpose)), group)

    names = jnp.asarray([tag(name) for name in spec.key_names or (spec.name,) * spec.networks], dtype=jnp.uint32)
    ids = jnp.asarray([tag(repr(group)) for group in spec.groups], dtype=jnp.uint32)
    return jax.vmap(one)(names, ids)


def phases(spec: ArmSpec) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Per training phase, which heads train [P, H] and whether the trunk does [P].

    One phase for every arm but transfer: pretraining (source heads 1..H-1 and trunk),
    then fine-tuning from step hp["pretrain_steps"] on (head 0, with or without the trunk).
    """
    if spec.transfer is None:
        return jnp.ones((1, spec.heads)), jnp.ones(1)
    source = jnp.ones(spec.heads).at[0].set(0.0)
    return jnp.stack([source, 1.0 - source]), jnp.array([1.0, 1.0 if spec.transfer == "full" else 0.0])


class Program(NamedTuple):
    init: Callable
    chunk: Callable


def make_program(static: Static) -> Program:
    """Pure per-replicate functions for the arms in `static`."""

    def arm_parts(spec: ArmSpec):
        model = make_model(static.model, spec.heads, spec.width)
        groups = jnp.asarray(spec.groups)

        def apply(params, x):
            return vmap(model.apply, in_axes=(0, None))(params, x)

        return model, groups, apply

    def init(key, data: Dataset, hp):
        states = {}
        for spec in static.arms:
            model, groups, _ = arm_parts(spec)
            keys = network_keys(key, spec, "init")
            params = jax.vmap(model.init, in_axes=(0, None))(keys, data.x_train[:1])
            shape = (spec.networks, spec.heads)
            log_var = jnp.zeros(shape)
            opt_state = jax.vmap(make_optimizer(static.optimizer, hp).init)((params, log_var))
            y, m = (_per_head(a, groups) for a in label_view(spec.label_view, data.y_train, data.m_train))
            m = m * (groups >= 0)[:, None, :]  # padding heads (arms.PAD) have no labels
            if spec.shuffle_aux:
                y = jax.vmap(shuffle_auxiliary)(network_keys(key, spec, "shuffle"), y, m)
            heads_on, _ = phases(spec)
            labelled = (m[None] * heads_on[:, None, None, :]).max(axis=-1)  # [P, G, N]
            states[spec.name] = ArmState(
                params=params,
                log_var=log_var,
                opt_state=opt_state,
                y=y,
                m=m,
                order=jnp.argsort(-labelled, axis=-1, stable=True),
                count=labelled.sum(-1).astype(jnp.int32),
                best_val=jnp.full(shape, jnp.inf),
                best_step=jnp.zeros(shape, jnp.int32),
                best_logits=jnp.zeros((spec.networks, data.x_test.shape[0], spec.heads)),
                affinity_sum=jnp.zeros((*shape, spec.heads)),
                affinity_count=jnp.zeros((*shape, spec.heads)),
                finite=jnp.array(True),
                **(
                    {"source_params": params, "source_val": jnp.full(spec.networks, jnp.inf)}
                    | {"source_step": jnp.zeros(spec.networks, jnp.int32)}
                    if spec.transfer
                    else {}
                ),
            )
        return {"key": key, "step": jnp.int32(0), "arms": states}

    def arm_chunk(spec: ArmSpec, s: ArmState, key, start, steps, restore, data: Dataset, optimizer, hp):
        model, groups, apply = arm_parts(spec)
        heads_on, trunk_on = phases(spec)
        weighting = static.weighting if spec.weighted else "equal"
        measure = static.affinity_every > 0 and spec.name == AFFINITY_ARM
        block = static.affinity_every if measure else 1
        net = jnp.arange(spec.networks)[:, None]
        pcgrad_keys = network_keys(key, spec, "pcgrad")
        # A lone network (the shared arm) trains without a network axis, dropped once around
        # the step loop: vmapped over an axis of length 1, XLA's CPU backend transposes every
        # weight gradient on each step, and dropping the axis inside the loop copies the carry.
        lone = spec.networks == 1
        over_networks = (lambda fn: fn) if lone else jax.vmap
        drop, lift = (squeeze, unsqueeze) if lone else ((lambda tree: tree),) * 2

        def task_losses(params, x, y, m):  # one network: [H]
            return masked_bce_per_task(model.apply(params, x), y, m)

        def phase_of(t):
            return (t >= hp["pretrain_steps"]).astype(jnp.int32) if spec.transfer else 0

        def batch(u, phase):
            # Uniform over each network's rows labelled for this phase, with replacement.
            count = s.count[phase][:, None]
            pos = jnp.minimum((u * count).astype(jnp.int32), jnp.maximum(count - 1, 0))
            # Indices are in range by construction; skipping bounds handling is measurably faster.
            rows = s.order[phase].at[net, pos].get(mode="promise_in_bounds")  # [G, B]
            x = data.x_train.at[rows].get(mode="promise_in_bounds")
            y, m = (a.at[net, rows].get(mode="promise_in_bounds") for a in (s.y, s.m))
            return x, y, m * heads_on[phase]

        def gradients(params, log_var, x, y, m, k):  # one network: per-task losses, grads of (params, log_var)
            if weighting == "pcgrad":
                values, grads = pcgrad_grads(lambda p: task_losses(p, x, y, m), params, k)
                return values, (grads, jnp.zeros_like(log_var))

            def objective(p, v):
                values = task_losses(p, x, y, m)
                return (uncertainty_total(values, v) if weighting == "uncertainty" else values.sum()), values

            (_, values), grads = jax.value_and_grad(objective, argnums=(0, 1), has_aux=True)(params, log_var)
            return values, grads

        def step(carry, inputs):
            params, log_var, opt_state = carry
            u, t = inputs
            phase = phase_of(t)
            x, y, m = batch(u, phase)
            keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(pcgrad_keys, t)
            x, y, m, keys = drop((x, y, m, keys))
            losses, grads = over_networks(gradients)(params, log_var, x, y, m, keys)
            updates, opt_state = over_networks(optimizer.update)(grads, opt_state, (params, log_var))
            if spec.transfer:  # parameters that do not train in a phase get no update at all
                frozen = head_mask(params, heads_on[phase], trunk_on[phase])
                updates = (jax.tree.map(jnp.multiply, updates[0], frozen), updates[1])
            params, log_var = optax.apply_updates((params, log_var), updates)
            return (params, log_var, opt_state), losses.sum(-1).reshape(spec.networks)

        def lookahead(params, log_var, opt_state, x, y, m):  # one network: TAG's Z [H, H] and where defined
            def update(grads):  # the optimiser's step from task i's gradient alone, not committed
                return optimizer.update((grads, jnp.zeros_like(log_var)), opt_state, (params, log_var))[0][0]

            return lookahead_affinity(lambda q: task_losses(q, x, y, m), params, update)

        def steps_block(i, carry):
            trained, (z_sum, z_count), losses = carry
            t = start + i * block + jnp.arange(block)
            if measure:  # TAG lookahead from the parameters before this block's first step, on its batch
                x, y, m = drop(batch(u[i, 0], 0))
                z, valid = over_networks(lookahead)(*trained, x, y, m)
                z, valid = lift((z, valid))
                z_sum, z_count = z_sum + z, z_count + valid
            trained, block_losses = jax.lax.scan(step, trained, (u[i], t), unroll=block == 1)
            return trained, (z_sum, z_count), losses.at[i].set(block_losses)

        # Minibatch draws for the longest chunk in one RNG call per network instead of one per
        # step; a shorter chunk (early in the schedule) uses the first `steps` of them, and the
        # step-0 evaluation, where no step runs, skips them (half its time at width 16).
        blocks = static.eval_every // block
        keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(network_keys(key, spec, "batches"), start)
        draw = jax.vmap(lambda k: jax.random.uniform(k, (blocks, block, static.batch_size)), out_axes=2)
        u = jax.lax.cond(steps > 0, draw, lambda _: jnp.zeros((blocks, block, spec.networks, static.batch_size)), keys)
        losses = jnp.zeros((blocks, block, spec.networks))
        trained = (s.params, s.log_var, s.opt_state)
        if spec.transfer:  # fine-tuning starts from the best pretraining parameters and a fresh optimiser
            fresh = (s.source_params, s.log_var, jax.vmap(optimizer.init)((s.source_params, s.log_var)))
            trained = jax.tree.map(lambda a, b: jnp.where(restore, a, b), fresh, trained)
        carry = (drop(trained), (s.affinity_sum, s.affinity_count), losses)
        trained, (z_sum, z_count), losses = jax.lax.fori_loop(0, steps // block, steps_block, carry)
        params, log_var, opt_state = lift(trained)
        # Each head is early-stopped on its own validation loss (Caruana 1997, 7.1): keep
        # its test logits from the evaluation where that loss was lowest, among the
        # evaluations where the head was training (transfer: the target after pretraining).
        end = start + steps
        val = jax.vmap(bce)(apply(params, data.x_val), _per_head(data.y_val, groups))  # [G, H]
        phase = jnp.where(restore, 1, phase_of(end - 1)) if spec.transfer else 0
        improved = (val < s.best_val) & (heads_on[phase] > 0)
        test_logits = apply(params, data.x_test)
        new = s._replace(
            params=params,
            log_var=log_var,
            opt_state=opt_state,
            best_val=jnp.where(improved, val, s.best_val),
            best_step=jnp.where(improved, end, s.best_step),
            best_logits=jnp.where(improved[:, None, :], test_logits, s.best_logits),
            affinity_sum=z_sum,
            affinity_count=z_count,
            finite=s.finite & jnp.all(jnp.isfinite(losses)),
        )
        if spec.transfer:
            # Pretraining is early-stopped on the sources' validation loss; the shuffled control
            # keeps its last pretraining parameters (its sources' labels teach nothing that
            # validates, so their early stopping would undo its pretraining).
            source = (val * heads_on[0]).sum(-1)  # [G]
            better = (phase == 0) & ((source < s.source_val) | spec.shuffle_aux)
            new = new._replace(
                source_params=jax.tree.map(
                    lambda a, b: jnp.where(better.reshape(-1, *(1,) * (a.ndim - 1)), a, b), params, s.source_params
                ),
                source_val=jnp.where(better, source, s.source_val),
                source_step=jnp.where(better, end, s.source_step),
            )
        # Unused slots of `losses` hold 0; at step 0 no step ran and the mean is NaN.
        train_loss = losses.sum((0, 1)) / jnp.where(steps > 0, steps, jnp.nan)
        return new, {"train_loss": train_loss, "val_bce": val}

    def chunk(state, data: Dataset, hp, steps, restore):
        """`steps` (at most eval_every, a multiple of affinity_every when measured) more steps, then
        evaluate; `restore`: first put the transfer arms at their best pretraining parameters."""
        TRACES["chunk"] += 1
        optimizer = make_optimizer(static.optimizer, hp)
        start = state["step"]
        arms_out, curves = {}, {}
        for spec in static.arms:
            arms_out[spec.name], curves[spec.name] = arm_chunk(
                spec, state["arms"][spec.name], state["key"], start, steps, restore, data, optimizer, hp
            )
        return {"key": state["key"], "step": start + steps, "arms": arms_out}, curves

    return Program(init, chunk)


def lr_choice(spec: ArmSpec, s: ArmState) -> np.ndarray:
    """Per replicate and network, the learning rate (index into the grid) to report: [..., G].

    The one whose best validation losses, summed over the network's reported heads (the
    target alone for arms about one target), are lowest; one whose training loss went
    non-finite is never chosen over one whose did not. `s` carries [..., L] in front.
    """
    total = np.asarray(s.best_val)[..., : 1 if spec.target_only else None].sum(-1)  # [..., L, G]
    return np.argmin(np.where(np.asarray(s.finite)[..., None], total, np.inf), axis=-2)


def pick(x: Any, choice: np.ndarray, axis: int) -> np.ndarray:
    """`x` at the chosen learning rates: its grid axis `axis` (negative; the network axis
    follows it) indexed by `choice` [..., G], whose leading axes are `x`'s leading axes."""
    x = np.asarray(x)
    grid = x.ndim + axis
    lead = choice.shape[:-1]
    index = choice.reshape(*lead, *(1,) * (grid - len(lead) + 1), choice.shape[-1], *(1,) * (-axis - 2))
    return np.take_along_axis(x, index, axis=grid).squeeze(grid)


def finish(
    static: Static, arms: dict[str, ArmState], y_test: np.ndarray, choices: dict[str, np.ndarray]
) -> dict[str, dict[str, np.ndarray]]:
    """Per arm, metrics at each head's best validation step and its network's chosen learning
    rate (`choices`, see lr_choice; `lr_index` into the grid), on the host: [..., G, H] arrays.

    `arms` ([..., L, ...]) and `y_test` ([..., n_test, K]) carry the replicate (and job) axes in front.
    """
    out = {}
    for spec in static.arms:
        s, choice = arms[spec.name], choices[spec.name]  # only the fields read here leave the device
        labels = np.moveaxis(y_test[..., np.asarray(spec.groups)], -3, -2)  # [..., G, n_test, H]
        val = pick(s.best_val, choice, -3)
        finite = np.take_along_axis(np.asarray(s.finite)[..., None], choice[..., None, :], axis=-2)
        out[spec.name] = {
            **evaluate(pick(s.best_logits, choice, -4), labels),
            "val_bce": val,
            "best_step": pick(s.best_step, choice, -3),
            "lr_index": np.broadcast_to(choice[..., None], val.shape),
            "finite": finite[..., 0, :].all(-1),
        }
        if spec.transfer:  # where fine-tuning started, [..., G]
            out[spec.name]["pretrain_best_step"] = pick(s.source_step, choice, -2)
        if static.affinity_every > 0 and spec.name == AFFINITY_ARM:  # mean Z over measurements, [..., G, H, H]
            count = pick(s.affinity_count, choice, -4)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[spec.name]["affinity"] = pick(s.affinity_sum, choice, -4) / np.where(count > 0, count, np.nan)
    return out


# `init` runs once per run, so XLA's backend optimisations only cost time there: without
# them its random initialisers compile about 4x faster (5.5 s -> 1.4 s on a 2-core CPU).
INIT_COMPILE_OPTIONS = {"xla_backend_optimization_level": 0}


def _signature(args: Any) -> Any:
    leaves, treedef = jax.tree.flatten(args)
    return treedef, tuple((np.shape(x), getattr(x, "dtype", type(x))) for x in leaves)


class Compiled:
    """Ahead-of-time compiled, replicate-vmapped versions of a Program.

    Executables are cached per process by (static structure, argument shapes), so a
    sweep whose points differ only in values lowers each program once; JAX's
    persistent cache (harness/runs/runtime.py) carries them across processes.
    """

    _cache: dict[Any, Any] = {}

    def __init__(self, static: Static, job_axis: bool = False):
        self.static, self.job_axis = static, job_axis
        program = make_program(static)
        # Replicates, then learning rates (hp's leading axis; networks and data shared).
        fns = {
            "init": vmap(vmap(program.init, in_axes=(None, None, 0)), in_axes=(0, 0, None)),
            "chunk": vmap(vmap(program.chunk, in_axes=(0, None, 0, None, None)), in_axes=(0, 0, None, None, None)),
        }
        if job_axis:  # fused sweeps: one more leading axis, over jobs, hyperparameters included
            fns = {"init": vmap(fns["init"]), "chunk": vmap(fns["chunk"], in_axes=(0, 0, 0, None, None))}
        self.fns = {name: (fn, (0,) if name == "chunk" else ()) for name, fn in fns.items()}
        self.compile_seconds = 0.0

    def get(self, name: str, *args: Any) -> Any:
        key = (self.static, self.job_axis, name, _signature(args))
        if key not in self._cache:
            fn, donate = self.fns[name]
            begin = time.perf_counter()
            TRACES[f"lower:{name}"] += 1
            lowered = jax.jit(fn, donate_argnums=donate).lower(*args)
            self._cache[key] = lowered.compile(INIT_COMPILE_OPTIONS if name == "init" else None)
            self.compile_seconds += time.perf_counter() - begin
        return self._cache[key]


@dataclass
class TrainOutput:
    metrics: dict[str, dict[str, np.ndarray]]  # arm -> metric -> [(J,) S, G, H]
    curves: dict[str, dict[str, np.ndarray]]  # arm -> curve -> [(J,) S, evals, G(, H)]
    eval_steps: list[int]  # the step of each evaluation (the curves' evals axis)
    compile_seconds: float
    train_seconds: float


def train(
    static: Static,
    keys: jnp.ndarray,
    data: Dataset,
    hp: dict[str, jnp.ndarray],
    steps: int,
    on_chunk: Callable[[int], None] | None = None,
    job_axis: bool = False,
) -> TrainOutput:
    """Train every arm for `steps` steps per network on replicate-stacked data.

    `keys` and every array of `data` carry a leading replicate axis; with `job_axis`,
    a job axis before it, which `hp` carries too (a fused sweep of same-shape jobs).
    `on_chunk(c)` is called after the c-th evaluation (of len(evaluation_steps(...))).
    """
    compiled = Compiled(static, job_axis)
    data = jax.tree.map(jnp.asarray, data)
    state = compiled.get("init", keys, data, hp)(keys, data, hp)
    # Compile everything before the clock starts.
    chunk = compiled.get("chunk", state, data, hp, jnp.int32(0), jnp.bool_(False))
    jax.block_until_ready(state)
    begin = time.perf_counter()
    history = []
    # One schedule for every job of a fused program (jobs fuse only where pretrain_steps agree).
    schedule = evaluation_steps(static, steps, int(np.asarray(hp["pretrain_steps"]).flat[0]))
    for c, (length, restore) in enumerate(chunk_calls(schedule)):
        state, curves = chunk(state, data, hp, jnp.int32(length), jnp.bool_(restore))
        history.append(curves)
        if on_chunk is not None:
            state["step"].block_until_ready()
            on_chunk(c + 1)
    choices = {spec.name: lr_choice(spec, state["arms"][spec.name]) for spec in static.arms}
    metrics = finish(static, state["arms"], np.asarray(data.y_test), choices)
    train_seconds = time.perf_counter() - begin
    eval_axis = 2 if job_axis else 1
    stacked = jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs], axis=eval_axis), *history)
    curves = {  # the chosen learning rate's: train_loss [..., evals, L, G], val_bce [..., evals, L, G, H]
        arm: {name: pick(value, choices[arm], -2 if name == "train_loss" else -3) for name, value in arm_curves.items()}
        for arm, arm_curves in stacked.items()
    }
    return TrainOutput(metrics, curves, schedule, compiled.compile_seconds, train_seconds)
