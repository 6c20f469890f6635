"""The compiled program's pure functions: `init` and `chunk` of one replicate, for every arm.

`make_program` builds them from a `Static`. `init` draws each arm's networks and lays out
the labels it trains on; `chunk` runs a traced number of steps (a loop over blocks of
`lax.scan` steps, each step one minibatch per network: `ArmStep`), then evaluates every
head and keeps its test logits at its best validation loss so far (`evaluate_arm`).
Transfer arms switch from pretraining to fine-tuning at hp["pretrain_steps"] and keep
the best pretraining parameters (`keep_source`). harness/train/trainer.py compiles and
drives them.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from harness.arms import ArmSpec
from harness.config import ModelConfig
from harness.data.base import Dataset
from harness.train.axes import squeeze, unsqueeze, vmap
from harness.train.gradients import head_mask, lookahead_affinity, make_optimizer, pcgrad_grads, uncertainty_total
from harness.train.labels import label_view, shuffle_auxiliary
from harness.train.losses import masked_bce_per_task
from harness.train.metrics import bce
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
    affinity_until: int | None = None  # ... at the steps before this one (train.affinity_window); None: all
    sampling: str = "union"  # union | per_task, see ArmStep.batch

    def slots(self, spec: ArmSpec) -> int:
        """Row draws per network and step, batch_size rows each: one over the union of its
        tasks' labelled rows, or one per head (per_task)."""
        return spec.heads if self.sampling == "per_task" else 1


AFFINITY_ARM = "mtl"


class ArmState(NamedTuple):
    params: Any
    log_var: jnp.ndarray  # [G, H] uncertainty weighting's log variances (zero, untouched, otherwise)
    opt_state: Any  # of (params, log_var)
    y: jnp.ndarray  # [G, N, H] labels this arm trains on, in head layout
    m: jnp.ndarray  # [G, N, H] mask this arm trains on
    order: jnp.ndarray  # [P, G, S, N] per phase and draw (Static.slots), the rows it draws from first
    count: jnp.ndarray  # [P, G, S] how many rows each draw draws from, per phase and network
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


class ArmParts(NamedTuple):
    """What one arm's functions need of its structure, built once per trace."""

    spec: ArmSpec
    model: nn.Module
    groups: jnp.ndarray  # [G, H] task of each head
    heads_on: jnp.ndarray  # [P, H] which heads train in each phase
    trunk_on: jnp.ndarray  # [P] whether the trunk does

    def apply(self, params, x):
        return vmap(self.model.apply, in_axes=(0, None))(params, x)

    def phase_of(self, t, hp):
        """The training phase of step `t`: fine-tuning from hp["pretrain_steps"] on (transfer arms)."""
        return (t >= hp["pretrain_steps"]).astype(jnp.int32) if self.spec.transfer else 0


def arm_parts(static: Static, spec: ArmSpec) -> ArmParts:
    heads_on, trunk_on = phases(spec)
    model = make_model(static.model, spec.heads, spec.width, spec.sharing)
    return ArmParts(spec, model, jnp.asarray(spec.groups), heads_on, trunk_on)


def init_arm(static: Static, spec: ArmSpec, key, data: Dataset, hp) -> ArmState:
    """The arm's initial networks and optimiser state, the labels it trains on in head
    layout, and per phase its networks' labelled rows first (for minibatches)."""
    parts = arm_parts(static, spec)
    model, groups = parts.model, parts.groups
    keys = network_keys(key, spec, "init")
    params = jax.vmap(model.init, in_axes=(0, None))(keys, data.x_train[:1])
    shape = (spec.networks, spec.heads)
    log_var = jnp.zeros(shape)
    opt_state = jax.vmap(make_optimizer(static.optimizer, hp).init)((params, log_var))
    y, m = (_per_head(a, groups) for a in label_view(spec.label_view, data.y_train, data.m_train))
    m = m * (groups >= 0)[:, None, :]  # padding heads (arms.PAD) have no labels
    if spec.shuffle_aux:
        y = jax.vmap(shuffle_auxiliary)(network_keys(key, spec, "shuffle"), y, m)
    labelled = m[None] * parts.heads_on[:, None, None, :]  # [P, G, N, H]
    labelled = jnp.swapaxes(labelled, -1, -2) if static.sampling == "per_task" else labelled.max(-1)[:, :, None]
    source = {}
    if spec.transfer:
        source = {"source_params": params, "source_val": jnp.full(spec.networks, jnp.inf)}
        source["source_step"] = jnp.zeros(spec.networks, jnp.int32)
    return ArmState(
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
        **source,
    )


class ArmStep(NamedTuple):
    """One arm's training step and TAG lookahead, on the state it trains from.

    A lone network (the shared arm) trains without a network axis, dropped once around
    the step loop: vmapped over an axis of length 1, XLA's CPU backend transposes every
    weight gradient on each step, and dropping the axis inside the loop copies the carry.
    """

    parts: ArmParts
    s: ArmState
    data: Dataset
    optimizer: optax.GradientTransformation
    hp: Any
    weighting: str  # train.weighting where it applies, else equal
    pcgrad_keys: jax.Array  # [G]

    @property
    def lone(self) -> bool:
        return self.parts.spec.networks == 1

    def over_networks(self, fn: Callable) -> Callable:
        return fn if self.lone else jax.vmap(fn)

    def drop(self, tree: Any) -> Any:
        return squeeze(tree) if self.lone else tree

    def lift(self, tree: Any) -> Any:
        return unsqueeze(tree) if self.lone else tree

    def task_losses(self, params, x, y, m):  # one network: [H]
        """Each task's masked loss over its rows of the batch: per draw of batch_size rows,
        so under per_task a task's mean loss over its own batch_size rows."""
        losses, slots = masked_bce_per_task(self.parts.model.apply(params, x), y, m), self.s.count.shape[-1]
        return losses * slots if slots > 1 else losses

    def batch(self, u, phase):
        """Uniform with replacement over each network's rows labelled for this phase: one
        draw of batch_size rows from the union of its heads' rows, or (per_task) one from
        each head's own rows, labelled for that head alone. u: [G, S, B]."""
        s, heads_on = self.s, self.parts.heads_on
        net, slot = jnp.arange(self.parts.spec.networks)[:, None, None], jnp.arange(u.shape[1])[None, :, None]
        count = s.count[phase][..., None]
        pos = jnp.minimum((u * count).astype(jnp.int32), jnp.maximum(count - 1, 0))
        # Indices are in range by construction; skipping bounds handling is measurably faster.
        rows = s.order[phase].at[net, slot, pos].get(mode="promise_in_bounds").reshape(u.shape[0], -1)  # [G, S B]
        x = self.data.x_train.at[rows].get(mode="promise_in_bounds")
        y, m = (a.at[net[..., 0], rows].get(mode="promise_in_bounds") for a in (s.y, s.m))
        if u.shape[1] > 1:  # per_task: draw h's rows train head h alone
            own = jnp.repeat(jnp.eye(u.shape[1]), u.shape[2], axis=0)  # [S B, H]
            m = m * own
        return x, y, m * heads_on[phase]

    def gradients(self, params, log_var, x, y, m, k):
        """One network: per-task losses, and gradients of (params, log_var) under the weighting."""
        if self.weighting == "pcgrad":
            values, grads = pcgrad_grads(lambda p: self.task_losses(p, x, y, m), params, k)
            return values, (grads, jnp.zeros_like(log_var))

        def objective(p, v):
            values = self.task_losses(p, x, y, m)
            return (uncertainty_total(values, v) if self.weighting == "uncertainty" else values.sum()), values

        (_, values), grads = jax.value_and_grad(objective, argnums=(0, 1), has_aux=True)(params, log_var)
        return values, grads

    def step(self, carry, inputs):
        """One minibatch step of every network: (params, log_var, opt_state), and its summed loss [G]."""
        params, log_var, opt_state = carry
        u, t = inputs
        spec, parts = self.parts.spec, self.parts
        phase = parts.phase_of(t, self.hp)
        x, y, m = self.batch(u, phase)
        keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(self.pcgrad_keys, t)
        x, y, m, keys = self.drop((x, y, m, keys))
        losses, grads = self.over_networks(self.gradients)(params, log_var, x, y, m, keys)
        updates, opt_state = self.over_networks(self.optimizer.update)(grads, opt_state, (params, log_var))
        if spec.transfer:  # parameters that do not train in a phase get no update at all
            frozen = head_mask(params, parts.heads_on[phase], parts.trunk_on[phase])
            updates = (jax.tree.map(jnp.multiply, updates[0], frozen), updates[1])
        params, log_var = optax.apply_updates((params, log_var), updates)
        return (params, log_var, opt_state), losses.sum(-1).reshape(spec.networks)

    def lookahead(self, params, x, y, m):
        """One network: TAG's Z [H, H] and where it is defined."""

        def update(grads):  # TAG's -lr * grad of task i alone, not Adam's step (docs/protocol.md says why)
            return jax.tree.map(lambda g: -self.hp["lr"] * g, grads)

        return lookahead_affinity(lambda q: self.task_losses(q, x, y, m), params, update)


def run_steps(static: Static, arm: ArmStep, key, start, steps, restore):
    """`steps` steps of every network of the arm: the trained (params, log_var, opt_state),
    the affinity sums and counts, and the loss of each step [blocks, block, G]."""
    spec, s = arm.parts.spec, arm.s
    measure = static.affinity_every > 0 and spec.name == AFFINITY_ARM
    block = static.affinity_every if measure else 1

    def steps_block(i, carry):
        trained, (z_sum, z_count), losses = carry
        t = start + i * block + jnp.arange(block)
        if measure:  # TAG lookahead from the parameters before this block's first step, on its batch
            x, y, m = arm.drop(arm.batch(u[i, 0], 0))
            z, valid = arm.over_networks(arm.lookahead)(trained[0], x, y, m)
            z, valid = arm.lift((z, valid))
            if static.affinity_until is not None:  # inside the window only
                valid, z = (inside := valid & (start + i * block < static.affinity_until)), jnp.where(inside, z, 0.0)
            z_sum, z_count = z_sum + z, z_count + valid
        trained, block_losses = jax.lax.scan(arm.step, trained, (u[i], t), unroll=block == 1)
        return trained, (z_sum, z_count), losses.at[i].set(block_losses)

    # Minibatch draws for the longest chunk in one RNG call per network instead of one per
    # step; a shorter chunk (early in the schedule) uses the first `steps` of them, and the
    # step-0 evaluation, where no step runs, skips them (half its time at width 16).
    blocks = static.eval_every // block
    keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(network_keys(key, spec, "batches"), start)
    shape = (blocks, block, static.slots(spec), static.batch_size)
    draw = jax.vmap(lambda k: jax.random.uniform(k, shape), out_axes=2)
    u = jax.lax.cond(steps > 0, draw, lambda _: jnp.zeros((blocks, block, spec.networks, *shape[2:])), keys)
    losses = jnp.zeros((blocks, block, spec.networks))
    trained = (s.params, s.log_var, s.opt_state)
    if spec.transfer:  # fine-tuning starts from the best pretraining parameters and a fresh optimiser
        fresh = (s.source_params, s.log_var, jax.vmap(arm.optimizer.init)((s.source_params, s.log_var)))
        trained = jax.tree.map(lambda a, b: jnp.where(restore, a, b), fresh, trained)
    carry = (arm.drop(trained), (s.affinity_sum, s.affinity_count), losses)
    trained, affinity, losses = jax.lax.fori_loop(0, steps // block, steps_block, carry)
    return arm.lift(trained), affinity, losses


def evaluate_arm(parts: ArmParts, s: ArmState, trained, affinity, losses, end, phase, data: Dataset):
    """The arm's state after its steps, and its validation loss [G, H].

    Each head is early-stopped on its own validation loss (Caruana 1997, 7.1): keep its
    test logits from the evaluation where that loss was lowest, among the evaluations
    where the head was training (transfer: the target after pretraining).
    """
    params, log_var, opt_state = trained
    val = jax.vmap(bce)(parts.apply(params, data.x_val), _per_head(data.y_val, parts.groups))  # [G, H]
    improved = (val < s.best_val) & (parts.heads_on[phase] > 0)
    test_logits = parts.apply(params, data.x_test)
    new = s._replace(
        params=params,
        log_var=log_var,
        opt_state=opt_state,
        best_val=jnp.where(improved, val, s.best_val),
        best_step=jnp.where(improved, end, s.best_step),
        best_logits=jnp.where(improved[:, None, :], test_logits, s.best_logits),
        affinity_sum=affinity[0],
        affinity_count=affinity[1],
        finite=s.finite & jnp.all(jnp.isfinite(losses)),
    )
    return new, val


def keep_source(spec: ArmSpec, heads_on, old: ArmState, new: ArmState, val, end, phase) -> ArmState:
    """Pretraining is early-stopped on the sources' validation loss; the shuffled control
    keeps its last pretraining parameters (its sources' labels teach nothing that
    validates, so their early stopping would undo its pretraining)."""
    source = (val * heads_on[0]).sum(-1)  # [G]
    better = (phase == 0) & ((source < old.source_val) | spec.shuffle_aux)
    return new._replace(
        source_params=jax.tree.map(
            lambda a, b: jnp.where(better.reshape(-1, *(1,) * (a.ndim - 1)), a, b), new.params, old.source_params
        ),
        source_val=jnp.where(better, source, old.source_val),
        source_step=jnp.where(better, end, old.source_step),
    )


def arm_chunk(static: Static, spec: ArmSpec, s: ArmState, key, start, steps, restore, data: Dataset, optimizer, hp):
    """`steps` more steps of one arm, then its evaluation: its new state and curves."""
    parts = arm_parts(static, spec)
    weighting = static.weighting if spec.weighted else "equal"
    arm = ArmStep(parts, s, data, optimizer, hp, weighting, network_keys(key, spec, "pcgrad"))
    trained, affinity, losses = run_steps(static, arm, key, start, steps, restore)
    end = start + steps
    phase = jnp.where(restore, 1, parts.phase_of(end - 1, hp)) if spec.transfer else 0
    new, val = evaluate_arm(parts, s, trained, affinity, losses, end, phase, data)
    if spec.transfer:
        new = keep_source(spec, parts.heads_on, s, new, val, end, phase)
    # Unused slots of `losses` hold 0; at step 0 no step ran and the mean is NaN.
    train_loss = losses.sum((0, 1)) / jnp.where(steps > 0, steps, jnp.nan)
    return new, {"train_loss": train_loss, "val_bce": val}


def make_program(static: Static) -> Program:
    """Pure per-replicate functions for the arms in `static`."""

    def init(key, data: Dataset, hp):
        states = {spec.name: init_arm(static, spec, key, data, hp) for spec in static.arms}
        return {"key": key, "step": jnp.int32(0), "arms": states}

    def chunk(state, data: Dataset, hp, steps, restore):
        """`steps` (at most eval_every, a multiple of affinity_every when measured) more steps, then
        evaluate; `restore`: first put the transfer arms at their best pretraining parameters."""
        TRACES["chunk"] += 1
        optimizer = make_optimizer(static.optimizer, hp)
        start = state["step"]
        arms_out, curves = {}, {}
        for spec in static.arms:
            arms_out[spec.name], curves[spec.name] = arm_chunk(
                static, spec, state["arms"][spec.name], state["key"], start, steps, restore, data, optimizer, hp
            )
        return {"key": state["key"], "step": start + steps, "arms": arms_out}, curves

    return Program(init, chunk)
