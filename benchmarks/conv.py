"""Milliseconds per training step of one vmapped 3x3 convolution layer: the harness's
patch-matmul `Conv3x3` against Flax's `nn.Conv` (which XLA lowers to a grouped
convolution once vmapped over networks, cuDNN's on a GPU).

One step is the forward pass, the gradient of a squared loss with respect to the kernel,
bias and input, over `--networks` networks each with its own batch, jitted. Both layers
get the same parameters; their outputs are checked equal first. Median of `--repeats`
timed steps after a compiling one; prints a Markdown table.

    python benchmarks/conv.py [--networks 15] [--batch 64] [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from harness.runs.runtime import environment
from harness.train.models import Conv3x3

# (image side, input channels, output channels): the first and second blocks of a
# 32x32 scenes CNN at widths 16 and 32.
SHAPES = [(32, 3, 16), (32, 16, 16), (32, 32, 32), (16, 32, 32)]


def step_fn(layer: nn.Module):
    def loss(params, x):
        return jnp.mean(layer.apply(params, x) ** 2)

    return jax.jit(jax.vmap(jax.grad(loss, argnums=(0, 1))))


def median_ms(fn, *args, repeats: int) -> float:
    jax.block_until_ready(fn(*args))  # compile
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - begin)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=15)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    env = environment()
    print(f"Device: {env['device']} ({env['platform']}), jax {env['jax']}.", end=" ")
    print(f"{args.networks} networks, batch {args.batch} each.")
    print()
    print("| image | channels in -> out | Conv3x3 (ms) | nn.Conv (ms) | nn.Conv / Conv3x3 |")
    print("| --- | --- | --- | --- | --- |")
    for side, c_in, c_out in SHAPES:
        x = jax.random.normal(jax.random.PRNGKey(0), (args.networks, args.batch, side, side, c_in))
        patch, flax_conv = Conv3x3(c_out), nn.Conv(c_out, (3, 3), padding="SAME")
        keys = jax.random.split(jax.random.PRNGKey(1), args.networks)
        params = jax.vmap(patch.init, in_axes=(0, None))(keys, x[0, :1])
        params = jax.tree.map(lambda a: a + 0.01, params)  # a nonzero bias too
        np.testing.assert_allclose(
            jax.vmap(patch.apply)(params, x), jax.vmap(flax_conv.apply)(params, x), rtol=2e-2, atol=2e-2
        )  # loose: a GPU may multiply in TF32
        ours = median_ms(step_fn(patch), params, x, repeats=args.repeats)
        theirs = median_ms(step_fn(flax_conv), params, x, repeats=args.repeats)
        print(f"| {side}x{side} | {c_in} -> {c_out} | {ours:.2f} | {theirs:.2f} | {theirs / ours:.2f}x |")


if __name__ == "__main__":
    main()
