"""The compiled program: all arms, all networks, all seeds, trained together.

`make_program` builds three pure functions of one replicate (one seed and its data
draw): `init`, `chunk` (scan over `eval_every` steps, then one evaluation) and
`finish` (test metrics at each head's best validation step). `Runner` vmaps them over
replicates, compiles each once per static shape (tracked in `TRACES`), and drives
the chunks from the host so a progress bar can move between them. Values (data,
masks, learning rate) are arguments, never constants of the compiled program.
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

from harness.arms import ArmSpec, label_view
from harness.config import ModelConfig
from harness.data.base import Dataset
from harness.losses import masked_bce
from harness.metrics import all_metrics, bce
from harness.models import make_model

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


class ArmState(NamedTuple):
    params: Any
    opt_state: Any
    y: jnp.ndarray  # [G, N, H] labels this arm trains on, in head layout
    m: jnp.ndarray  # [G, N, H] mask this arm trains on
    order: jnp.ndarray  # [G, N] pool rows, the network's labelled rows first
    count: jnp.ndarray  # [G] labelled rows per network
    best_val: jnp.ndarray  # [G, H]
    best_step: jnp.ndarray  # [G, H]
    best_logits: jnp.ndarray  # [G, n_test, H]
    finite: jnp.ndarray  # [] no NaN/inf loss so far


def hyperparams(lr: float, weight_decay: float) -> dict[str, jnp.ndarray]:
    return {"lr": jnp.float32(lr), "weight_decay": jnp.float32(weight_decay)}


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
    """One key per network, from the arm's name and the network's tasks alone.

    A network's initialisation and minibatches therefore do not depend on which other
    networks (or arms) train beside it: network k of the vmapped `stl` arm is exactly
    the network a solo run of task k trains.
    """

    def tag(text: str) -> int:
        return zlib.crc32(text.encode()) & 0x7FFFFFFF

    key = jax.random.fold_in(jax.random.fold_in(key, tag(spec.name)), tag(purpose))
    ids = jnp.asarray([tag(repr(group)) for group in spec.groups], dtype=jnp.uint32)
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, ids)


class Program(NamedTuple):
    init: Callable
    chunk: Callable
    finish: Callable


def make_program(static: Static) -> Program:
    """Pure per-replicate functions for the arms in `static`."""

    def arm_parts(spec: ArmSpec):
        model = make_model(static.model, spec.heads, spec.width)
        groups = jnp.asarray(spec.groups)

        def apply(params, x):
            return jax.vmap(model.apply, in_axes=(0, None))(params, x)

        return model, groups, apply

    def init(key, data: Dataset, hp):
        states = {}
        for spec in static.arms:
            model, groups, _ = arm_parts(spec)
            keys = network_keys(key, spec, "init")
            params = jax.vmap(model.init, in_axes=(0, None))(keys, data.x_train[:1])
            opt_state = jax.vmap(make_optimizer(static.optimizer, hp).init)(params)
            y, m = (_per_head(a, groups) for a in label_view(spec.label_view, data.y_train, data.m_train))
            labelled = m.max(axis=-1).T  # [N, G]
            order = jnp.argsort(-labelled, axis=0, stable=True).T
            shape = (spec.networks, spec.heads)
            states[spec.name] = ArmState(
                params=params,
                opt_state=opt_state,
                y=y,
                m=m,
                order=order,
                count=labelled.sum(0).astype(jnp.int32),
                best_val=jnp.full(shape, jnp.inf),
                best_step=jnp.zeros(shape, jnp.int32),
                best_logits=jnp.zeros((spec.networks, data.x_test.shape[0], spec.heads)),
                finite=jnp.array(True),
            )
        return {"key": key, "step": jnp.int32(0), "arms": states}

    def arm_chunk(spec: ArmSpec, s: ArmState, key, start, data: Dataset, optimizer):
        model, groups, apply = arm_parts(spec)

        def loss_fn(params, x, y, m):
            return masked_bce(model.apply(params, x), y, m)

        def step(carry, pos):
            params, opt_state = carry
            # Indices are in range by construction; skipping bounds handling is measurably faster.
            net = jnp.arange(spec.networks)[:, None]
            rows = s.order.at[net, pos].get(mode="promise_in_bounds")  # [G, B]
            x = data.x_train.at[rows].get(mode="promise_in_bounds")
            y, m = (a.at[net, rows].get(mode="promise_in_bounds") for a in (s.y, s.m))
            loss, grads = jax.vmap(jax.value_and_grad(loss_fn))(params, x, y, m)
            updates, opt_state = jax.vmap(optimizer.update)(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        # Minibatch positions for the whole chunk in one draw (one RNG call instead of
        # one per step): uniform over each network's labelled rows, with replacement.
        keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(network_keys(key, spec, "batches"), start)
        u = jax.vmap(lambda k: jax.random.uniform(k, (static.eval_every, static.batch_size)), out_axes=1)(keys)
        pos = jnp.minimum((u * s.count[:, None]).astype(jnp.int32), jnp.maximum(s.count[:, None] - 1, 0))
        (params, opt_state), losses = jax.lax.scan(step, (s.params, s.opt_state), pos)
        # Each head is early-stopped on its own validation loss (Caruana 1997, 7.1):
        # keep its test logits from the evaluation where that loss was lowest.
        val = jax.vmap(bce)(apply(params, data.x_val), _per_head(data.y_val, groups))  # [G, H]
        improved = val < s.best_val
        test_logits = apply(params, data.x_test)
        new = s._replace(
            params=params,
            opt_state=opt_state,
            best_val=jnp.where(improved, val, s.best_val),
            best_step=jnp.where(improved, start + static.eval_every, s.best_step),
            best_logits=jnp.where(improved[:, None, :], test_logits, s.best_logits),
            finite=s.finite & jnp.all(jnp.isfinite(losses)),
        )
        return new, {"train_loss": losses.mean(0), "val_bce": val}

    def chunk(state, data: Dataset, hp):
        TRACES["chunk"] += 1
        optimizer = make_optimizer(static.optimizer, hp)
        start = state["step"]
        arms_out, curves = {}, {}
        for spec in static.arms:
            arms_out[spec.name], curves[spec.name] = arm_chunk(
                spec, state["arms"][spec.name], state["key"], start, data, optimizer
            )
        return {"key": state["key"], "step": start + static.eval_every, "arms": arms_out}, curves

    def finish(state, data: Dataset):
        out = {}
        for spec in static.arms:
            s = state["arms"][spec.name]
            groups = jnp.asarray(spec.groups)
            metrics = jax.vmap(all_metrics)(s.best_logits, _per_head(data.y_test, groups))
            out[spec.name] = {
                **metrics,
                "val_bce": s.best_val,
                "best_step": s.best_step,
                "finite": s.finite,
            }
        return out

    return Program(init, chunk, finish)


def _signature(args: Any) -> Any:
    leaves, treedef = jax.tree.flatten(args)
    return treedef, tuple((np.shape(x), getattr(x, "dtype", type(x))) for x in leaves)


class Compiled:
    """Ahead-of-time compiled, replicate-vmapped versions of a Program.

    Executables are cached per process by (static structure, argument shapes), so a
    sweep whose points differ only in values lowers each program once; JAX's
    persistent cache (harness/runtime.py) carries them across processes.
    """

    _cache: dict[Any, Any] = {}

    def __init__(self, static: Static, job_axis: bool = False):
        self.static, self.job_axis = static, job_axis
        program = make_program(static)
        fns = {
            "init": jax.vmap(program.init, in_axes=(0, 0, None)),
            "chunk": jax.vmap(program.chunk, in_axes=(0, 0, None)),
            "finish": jax.vmap(program.finish),
        }
        if job_axis:  # fused sweeps: one more leading axis, over jobs, hyperparameters included
            fns = {name: jax.vmap(fn) for name, fn in fns.items()}
        self.fns = {name: (fn, (0,) if name == "chunk" else ()) for name, fn in fns.items()}
        self.compile_seconds = 0.0

    def get(self, name: str, *args: Any) -> Any:
        key = (self.static, self.job_axis, name, _signature(args))
        if key not in self._cache:
            fn, donate = self.fns[name]
            begin = time.perf_counter()
            TRACES[f"lower:{name}"] += 1
            self._cache[key] = jax.jit(fn, donate_argnums=donate).lower(*args).compile()
            self.compile_seconds += time.perf_counter() - begin
        return self._cache[key]


@dataclass
class TrainOutput:
    metrics: dict[str, dict[str, np.ndarray]]  # arm -> metric -> [(J,) S, G, H]
    curves: dict[str, dict[str, np.ndarray]]  # arm -> curve -> [(J,) S, evals, G(, H)]
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
    """
    compiled = Compiled(static, job_axis)
    data = jax.tree.map(jnp.asarray, data)
    state = compiled.get("init", keys, data, hp)(keys, data, hp)
    # Compile everything before the clock starts.
    chunk = compiled.get("chunk", state, data, hp)
    finish = compiled.get("finish", state, data)
    jax.block_until_ready(state)
    begin = time.perf_counter()
    history = []
    for c in range(steps // static.eval_every):
        state, curves = chunk(state, data, hp)
        history.append(curves)
        if on_chunk is not None:
            state["step"].block_until_ready()
            on_chunk(c + 1)
    metrics = jax.tree.map(np.asarray, jax.block_until_ready(finish(state, data)))
    train_seconds = time.perf_counter() - begin
    eval_axis = 2 if job_axis else 1
    stacked = jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs], axis=eval_axis), *history)
    return TrainOutput(metrics, stacked, compiled.compile_seconds, train_seconds)
