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
            x = nn.relu(nn.Conv(self.width, (3, 3), padding="SAME")(x))
            if min(x.shape[1:3]) >= 2:  # deep stacks on small images stop shrinking at 1x1
                x = nn.max_pool(x, (2, 2), strides=(2, 2))
        x = x.max(axis=(1, 2))
        x = nn.relu(nn.Dense(self.width)(x))
        return nn.Dense(self.heads, name="heads")(x)


def make_model(cfg: ModelConfig, heads: int, width: int | None = None) -> nn.Module:
    """The network of an arm; `width` overrides cfg.width (equal-parameter arms)."""
    kind = {"mlp": MLP, "cnn": CNN}[cfg.kind]
    return kind(width=width or cfg.width, depth=cfg.depth, heads=heads)
