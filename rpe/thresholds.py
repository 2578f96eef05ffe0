"""Shrinkage thresholds applied to RateCell states after each integration step.

=================  ==================================================================
name               z -> threshold(z, lam)
=================  ==================================================================
none               z
soft_threshold     max(z - lam, 0) - max(-z - lam, 0)
cauchy_threshold   (z + s) / 2 where z >= lam; (z - s) / 2 where z <= -lam; else 0,
                   with s = sqrt(max(z^2 - lam, 0))  (Cauchy shrinkage, arXiv:2003.12507)
=================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = ["THRESHOLDS", "get_threshold"]


def _soft(z: jax.Array, lam) -> jax.Array:
    return jnp.maximum(z - lam, 0.0) - jnp.maximum(-z - lam, 0.0)


def _cauchy(z: jax.Array, lam) -> jax.Array:
    s = jnp.sqrt(jnp.maximum(z * z - lam, 0.0))
    upper = jnp.where(z >= lam, 0.5 * (z + s), 0.0)
    lower = jnp.where(z <= -lam, 0.5 * (z - s), 0.0)
    return upper + lower


_THRESHOLDS: dict[str, Callable[[jax.Array, float], jax.Array]] = {
    "none": lambda z, lam: z,
    "soft_threshold": _soft,
    "cauchy_threshold": _cauchy,
}

THRESHOLDS: tuple[str, ...] = tuple(_THRESHOLDS)
"""Every accepted threshold name."""


def get_threshold(name: str) -> Callable[[jax.Array, float], jax.Array]:
    """Return ``threshold(z, lam)`` for ``name``.

    Raises:
      ValueError: ``name`` is not one of :data:`THRESHOLDS`.

    Example:
      >>> float(get_threshold("soft_threshold")(jnp.asarray(1.5), 0.5))
      1.0
    """
    if not isinstance(name, str) or name not in _THRESHOLDS:
        raise ValueError(f"threshold: unknown threshold {name!r}; expected one of {list(THRESHOLDS)}")
    return _THRESHOLDS[name]
