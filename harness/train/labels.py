"""The labels each network of an arm trains on: its label view, and Caruana's shuffle control."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def label_view(view: str, y: jnp.ndarray, m: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The labels and mask a network of this arm trains on, from the pool's [N, K] arrays."""
    if view == "masked":
        return y, m
    any_label = m.max(axis=1, keepdims=True)
    if view == "drop_rows":
        complete = m.min(axis=1, keepdims=True)
        return y, m * complete
    if view == "zero_fill":
        return y * m, jnp.broadcast_to(any_label, m.shape)
    raise ValueError(f"unknown label view {view!r}")


def shuffle_auxiliary(key: jax.Array, y: jnp.ndarray, m: jnp.ndarray) -> jnp.ndarray:
    """Labels [N, H] with every column but the first permuted among that column's labelled rows.

    Caruana's shuffle control: the auxiliary tasks keep their label counts and class
    balance (and the mask is untouched) but carry no information about the inputs.
    """

    def column(k, y_col, m_col):
        labelled_first = jnp.argsort(-m_col, stable=True)
        shuffled_first = jnp.argsort(jax.random.uniform(k, m_col.shape) + 2.0 * (1.0 - m_col))
        permuted = y_col.at[labelled_first].set(y_col[shuffled_first])
        return jnp.where(m_col > 0, permuted, y_col)

    keys = jax.random.split(key, y.shape[1] - 1)
    aux = jax.vmap(column, in_axes=(0, 1, 1), out_axes=1)(keys, y[:, 1:], m[:, 1:])
    return jnp.concatenate([y[:, :1], aux], axis=1)
