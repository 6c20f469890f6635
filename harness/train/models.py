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


def make_model(cfg: ModelConfig, heads: int, width: int | None = None) -> nn.Module:
    """The network of an arm; `width` overrides cfg.width (equal-parameter arms)."""
    kind = {"mlp": MLP, "cnn": CNN}[cfg.kind]
    return kind(width=width or cfg.width, depth=cfg.depth, heads=heads)
