"""Priors over RateCell activity: the leak term ``phi(z)`` of the state dynamics.

A prior ``(name, gamma)`` adds ``-gamma * phi(z)`` to ``tau_m dz/dt``; ``phi`` is the
derivative of the prior's negative log-density (up to scale):

===========  ======================  ===============================
name         phi(z)                  prior density (unnormalised)
===========  ======================  ===============================
gaussian     z                       exp(-z^2 / 2)
laplacian    sign(z)                 exp(-|z|)
cauchy       2 z / (1 + z^2)         1 / (1 + z^2)
exp          2 z exp(-z^2)           exp(exp(-z^2)) (ngc-learn's form)
===========  ======================  ===============================
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = ["PRIORS", "get_prior"]

_PHI: dict[str, Callable[[jax.Array], jax.Array]] = {
    "gaussian": lambda z: z,
    "laplacian": jnp.sign,
    "cauchy": lambda z: 2.0 * z / (1.0 + z * z),
    "exp": lambda z: 2.0 * z * jnp.exp(-z * z),
}

PRIORS: tuple[str, ...] = tuple(_PHI)
"""Every accepted prior name."""


def get_prior(name: str) -> Callable[[jax.Array], jax.Array]:
    """Return the leak function ``phi`` of prior ``name``.

    Raises:
      ValueError: ``name`` is not one of :data:`PRIORS`.

    Example:
      >>> float(get_prior("cauchy")(jnp.ones(())))
      1.0
    """
    if not isinstance(name, str) or name not in _PHI:
        raise ValueError(f"prior: unknown prior {name!r}; expected one of {list(PRIORS)}")
    return _PHI[name]
