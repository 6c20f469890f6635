"""Net-steps per second of the harness's arms against a hand-written floor.

Workload (REFERENCES.md's speed anchors): MLP 64 -> W -> W -> heads, batch 256 per
network, Adam, 300 steps, K = 8 tasks, one seed. The floor is a minimal jitted
`lax.scan` training loop of the same MLP and logistic loss (`harness.train.losses.sigmoid_bce`)
on a fixed batch per network, the K separate
networks vmapped (for `stl`) or one network with K heads (for `mtl`): no sampling,
masking or evaluation. Each separate network has its own batch, as in a real run (a
batch shared by all K would let XLA merge their first layers into one matrix product).
The sampled floor is the same loop gathering a new batch of rows from a pool of 1,024
at every step (indices drawn before the loop), the least any real training does.
The harness number includes in-graph sampling, masking and one evaluation on
validation and test data at each step of its schedule (`--eval-schedule`: linear, the
default, evaluates at step 0 and every `--eval-every` steps; log, the harness's default,
adds the doubling steps 1, 2, 4, ... below `--eval-every`). Each number is the
best of `--repeats` timed runs after a compiling one: a run at width 16 lasts tens of
milliseconds, and single runs on a shared machine varied by 1.5x.

    python benchmarks/throughput.py [--widths 16 128 1024] [--steps 300] [--repeats 5] [--eval-schedule linear]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import optax

from harness.config import RunConfig
from harness.data import make_replicates
from harness.runs.job import replicate_keys, static_of
from harness.runs.runtime import environment
from harness.train.losses import sigmoid_bce
from harness.train.models import MLP
from harness.train.trainer import hyperparams, train

TASKS, BATCH, DIM, POOL = 8, 256, 64, 1024


def floor(width: int, networks: int, heads: int, steps: int, repeats: int, sampled: bool = False) -> float:
    """The floor's net-steps per second; `sampled`: each step gathers a new batch of pool
    rows (indices drawn before the loop), as any real training must, instead of reusing one."""
    model = MLP(width=width, depth=2, heads=heads)
    optimizer = optax.adam(1e-3)
    xs = jax.random.normal(jax.random.PRNGKey(0), (networks, POOL, DIM))
    rows = jax.random.randint(jax.random.PRNGKey(2), (networks, steps, BATCH), 0, POOL)

    def one(key, pool, rows):
        params = model.init(key, pool[:1])

        def step(carry, batch_rows):
            params, opt_state = carry
            x = pool[batch_rows] if sampled else pool[:BATCH]
            y = (x[:, :heads] > 0).astype(jnp.float32)
            loss, grads = jax.value_and_grad(lambda p: sigmoid_bce(model.apply(p, x), y).sum(-1).mean())(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        return jax.lax.scan(step, (params, optimizer.init(params)), rows if sampled else None, length=steps)[1]

    # One network is not vmapped: over an axis of length 1, XLA's CPU backend transposes
    # every weight gradient per step (the harness avoids that too).
    fn = jax.jit(jax.vmap(one) if networks > 1 else lambda *args: one(*(a[0] for a in args)))
    keys = jax.random.split(jax.random.PRNGKey(1), networks)
    fn(keys, xs, rows).block_until_ready()
    seconds = []
    for _ in range(repeats):
        begin = time.perf_counter()
        fn(keys, xs, rows).block_until_ready()
        seconds.append(time.perf_counter() - begin)
    return networks * steps / min(seconds)


def harness(width: int, arm: str, steps: int, eval_every: int, repeats: int, schedule: str) -> float:
    run = RunConfig(arms=[arm])
    run.data.tasks, run.data.dim, run.data.pool, run.data.n_per_task = TASKS, DIM, 1024, 1024
    run.data.n_val, run.data.n_test = 500, 2000
    run.model.width, run.model.depth = width, 2
    run.train.steps, run.train.batch_size, run.train.eval_every, run.train.seeds = steps, BATCH, eval_every, 1
    run.train.eval_schedule = schedule
    data = make_replicates(run.data, 1)
    static = static_of(run, data.x_train.shape[2:])
    args = (static, replicate_keys(run), data, hyperparams(run.train), steps)
    train(*args)  # compile
    seconds = min(train(*args).train_seconds for _ in range(repeats))
    return static.arms[0].networks * steps / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 128, 1024])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eval-every", type=int, default=100)
    # linear keeps the workload the floor is compared with (evaluations at 0, 100, 200, 300);
    # log adds 7 evaluations below step 100, a protocol cost measured on its own.
    parser.add_argument("--eval-schedule", choices=("log", "linear"), default="linear")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per number; the best one counts")
    args = parser.parse_args()
    env = environment()
    print(f"device: {env['platform']} {env['device']} ({env['cpu_count']} CPUs), jax {env['jax']}")
    print(
        f"K={TASKS}, batch {BATCH}, Adam, {args.steps} steps, eval every {args.eval_every} "
        f"({args.eval_schedule} schedule); "
        f"net-steps/s, best of {args.repeats} runs\n"
    )
    print("| arm | width | floor | harness | harness / floor | sampled floor | harness / sampled floor |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for arm, networks, heads in (("mtl", 1, TASKS), ("stl", TASKS, 1)):
        for width in args.widths:
            base = floor(width, networks, heads, args.steps, args.repeats)
            drawn = floor(width, networks, heads, args.steps, args.repeats, sampled=True)
            ours = harness(width, arm, args.steps, args.eval_every, args.repeats, args.eval_schedule)
            print(
                f"| {arm} | {width} | {base:,.0f} | {ours:,.0f} | {ours / base:.2f}x "
                f"| {drawn:,.0f} | {ours / drawn:.2f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
