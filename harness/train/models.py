"""Networks: a trunk of hidden layers and one logistic output per head."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from harness.config import ModelConfig


class MLP(nn.Module):
    """`depth` ReLU layers of `width` units (the trunk), then `heads` logits."""

    width: int
    depth: int
    heads: int

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        x = x.reshape(x.shape[0], -1)
        for _ in range(self.depth):
            x = nn.relu(nn.Dense(self.width)(x))
        return nn.Dense(self.heads, name="heads")(x)


class Conv3x3(nn.Module):
    """A 3x3 "SAME" convolution written as one matrix product over 3x3 patches.

    Same parameters (HWIO kernel, lecun-normal; zero bias) and outputs as nn.Conv. The
    trainer vmaps networks, and a vmapped nn.Conv becomes a grouped convolution, which
    XLA's CPU backend runs about 30x slower than this batched matrix product.
    """

    features: int

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        channels = x.shape[-1]
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (3, 3, channels, self.features))
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        height, width = x.shape[1:3]
        padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        patches = jnp.concatenate(
            [padded[:, i : i + height, j : j + width] for i in range(3) for j in range(3)], axis=-1
        )  # [B, H, W, 9 C], in the kernel's (row, column, channel) order
        return patches @ kernel.reshape(9 * channels, self.features) + bias


def max_pool_2x2(x: jnp.ndarray) -> jnp.ndarray:
    """2x2 max pooling, stride 2 (an odd last row or column is dropped, as with VALID padding)."""
    batch, height, width, channels = x.shape
    x = x[:, : height // 2 * 2, : width // 2 * 2]
    return x.reshape(batch, height // 2, 2, width // 2, 2, channels).max(axis=(2, 4))


class CNN(nn.Module):
    """`depth` blocks of 3x3 convolution with `width` channels, ReLU and 2x2 max pooling,
    then a global max pool, one dense ReLU layer of `width` units (the trunk), and `heads` logits.

    Inputs are [batch, height, width, channels]. The global max pool asks "is the
    pattern anywhere in the picture", the question every image task here poses. No
    batch statistics: the trainer vmaps init/apply over networks.
    """

    width: int
    depth: int
    heads: int

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        for _ in range(self.depth):
            x = nn.relu(Conv3x3(self.width)(x))
            if min(x.shape[1:3]) >= 2:  # deep stacks on small images stop shrinking at 1x1
                x = max_pool_2x2(x)
        x = x.max(axis=(1, 2))
        x = nn.relu(nn.Dense(self.width)(x))
        return nn.Dense(self.heads, name="heads")(x)


class TaskHeads(nn.Module):
    """Logits [B, H] of task h's logistic head on its own representation x[:, h] ([B, H, D]).

    Kernel [D, H] and bias [H]: the head is the last axis, as the trunk/head split of
    harness/train/gradients.py reads every leaf under a module named `heads`."""

    heads: int

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (x.shape[-1], self.heads))
        bias = self.param("bias", nn.initializers.zeros_init(), (self.heads,))
        return jnp.einsum("bhd,dh->bh", x, kernel) + bias


def stacked_dense(module: nn.Module, x: jnp.ndarray, copies: int, features: int, name: str) -> jnp.ndarray:
    """`copies` independent dense layers on x [B, C, I] (one per copy): [B, C, features]."""
    kernel = module.param(name, nn.initializers.lecun_normal(batch_axis=(0,)), (copies, x.shape[-1], features))
    bias = module.param(f"{name}_bias", nn.initializers.zeros_init(), (copies, features))
    return jnp.einsum("bci,cio->bco", x, kernel) + bias


class MMoE(nn.Module):
    """Multi-gate mixture of experts (Ma et al. 2018): `experts` trunks of `depth` ReLU layers
    of `width` units; per task a softmax gate over the experts, computed from the input; each
    task's head reads its gate's mixture of the experts' outputs."""

    width: int
    depth: int
    heads: int
    experts: int

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        x = x.reshape(x.shape[0], -1)
        gates = nn.softmax(nn.Dense(self.heads * self.experts, name="gates")(x).reshape(-1, self.heads, self.experts))
        h = jnp.broadcast_to(x[:, None], (x.shape[0], self.experts, x.shape[-1]))
        for layer in range(self.depth):
            h = nn.relu(stacked_dense(self, h, self.experts, self.width, f"experts_{layer}"))
        return TaskHeads(self.heads, name="heads")(jnp.einsum("bhe,bed->bhd", gates, h))


class CrossStitch(nn.Module):
    """Cross-stitch networks (Misra et al. 2016): one column of `depth` ReLU layers of `width`
    units per task, and after each layer a learned linear mix of the columns (a [H, H] matrix,
    initialised to 0.9 on the diagonal and 0.1 shared among the others); each task's head reads
    its own column."""

    width: int
    depth: int
    heads: int

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        x = x.reshape(x.shape[0], -1)
        h = jnp.broadcast_to(x[:, None], (x.shape[0], self.heads, x.shape[-1]))
        own = 0.9 if self.heads > 1 else 1.0
        start = own * jnp.eye(self.heads) + (1 - own) / max(self.heads - 1, 1) * (1 - jnp.eye(self.heads))
        for layer in range(self.depth):
            h = nn.relu(stacked_dense(self, h, self.heads, self.width, f"columns_{layer}"))
            stitch = self.param(f"stitch_{layer}", lambda _key, value=start: value)
            h = jnp.einsum("kj,bjd->bkd", stitch, h)
        return TaskHeads(self.heads, name="heads")(h)


SHARING = ("hard", "mmoe", "cross_stitch")  # how an arm's network shares between its heads


def make_model(cfg: ModelConfig, heads: int, width: int | None = None, sharing: str = "hard") -> nn.Module:
    """The network of an arm; `width` overrides cfg.width (equal-parameter arms); `sharing`:
    one trunk (hard), a mixture of experts (mmoe) or cross-stitched columns (cross_stitch)."""
    width = width or cfg.width
    if sharing == "mmoe":
        return MMoE(width=width, depth=cfg.depth, heads=heads, experts=cfg.experts)
    if sharing == "cross_stitch":
        return CrossStitch(width=width, depth=cfg.depth, heads=heads)
    kind = {"mlp": MLP, "cnn": CNN}[cfg.kind]
    return kind(width=width, depth=cfg.depth, heads=heads)
