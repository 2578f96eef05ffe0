"""Dense synapses: weights from presynaptic to postsynaptic units, and their initialisers.

Shapes: ``weights (n_in, n_out)``, ``bias (1, n_out)`` or None; ``pre (batch, n_in)`` ->
``post (batch, n_out)``, ``post = pre @ weights + bias`` (ngc-learn's orientation: rows are
presynaptic). Initialisers take an explicit PRNG key:

=========  ==================================================
name       weights
=========  ==================================================
fan_in     N(0, scale^2 / n_in)    (LeCun; scale 1 by default)
gaussian   N(0, scale^2)
uniform    U(-scale, scale)
zeros      0
=========  ==================================================

Example:
  >>> params = dense_init(jax.random.key(0), 4, 2)
  >>> dense_forward(params, jnp.ones((3, 4))).shape
  (3, 2)
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from rpe.validation import check_positive_int, check_real

__all__ = ["INITIALISERS", "DenseParams", "dense_forward", "dense_init"]

INITIALISERS: tuple[str, ...] = ("fan_in", "gaussian", "uniform", "zeros")
"""Every accepted weight initialiser name."""


class DenseParams(NamedTuple):
    """A dense synapse: ``weights (n_in, n_out)`` and ``bias (1, n_out)`` (or None)."""

    weights: jax.Array
    bias: jax.Array | None


def dense_init(
    key: jax.Array, n_in: int, n_out: int, *, init: str = "fan_in", scale: float = 1.0, bias: bool = True
) -> DenseParams:
    """Initial weights (by ``init``) and a zero bias (if ``bias``).

    Raises:
      ValueError: unknown ``init``, non-positive sizes or negative ``scale``.
    """
    n_in = check_positive_int("n_in", n_in)
    n_out = check_positive_int("n_out", n_out)
    scale = check_real("scale", scale, low=0.0)
    shape = (n_in, n_out)
    if init == "fan_in":
        weights = jax.random.normal(key, shape) * (scale / n_in**0.5)
    elif init == "gaussian":
        weights = jax.random.normal(key, shape) * scale
    elif init == "uniform":
        weights = jax.random.uniform(key, shape, minval=-scale, maxval=scale)
    elif init == "zeros":
        weights = jnp.zeros(shape, jnp.float32)
    else:
        raise ValueError(f"init: unknown initialiser {init!r}; expected one of {list(INITIALISERS)}")
    return DenseParams(weights=weights, bias=jnp.zeros((1, n_out), jnp.float32) if bias else None)


def dense_forward(params: DenseParams, pre: jax.Array) -> jax.Array:
    """``pre (batch, n_in) @ weights (n_in, n_out) + bias`` -> ``(batch, n_out)``."""
    post = pre @ params.weights
    return post if params.bias is None else post + params.bias
