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


def make_model(cfg: ModelConfig, heads: int, width: int | None = None) -> nn.Module:
    """The network of an arm; `width` overrides cfg.width (equal-parameter arms)."""
    return MLP(width=width or cfg.width, depth=cfg.depth, heads=heads)
