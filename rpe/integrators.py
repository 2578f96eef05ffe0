"""Explicit one-step integrators for ``dz/dt = f(z)``.

==================  ==========================================================
name                z(t + dt)
==================  ==========================================================
euler, rk1          z + dt k1,                     k1 = f(z)
midpoint, rk2       z + dt f(z + dt/2 k1)
heun                z + dt/2 (k1 + f(z + dt k1))
ralston             z + dt (k1/3 + 2 k2/3),        k2 = f(z + 3/4 dt k1)
rk4                 z + dt/6 (k1 + 2 k2 + 2 k3 + k4)  (the classical scheme)
==================  ==========================================================

Global error orders: 1 (euler), 2 (midpoint, heun, ralston), 4 (rk4).
"""

from __future__ import annotations

from collections.abc import Callable

import jax

__all__ = ["INTEGRATORS", "get_integrator"]

Derivative = Callable[[jax.Array], jax.Array]
Stepper = Callable[[Derivative, jax.Array, jax.Array], jax.Array]


def _euler(f: Derivative, z: jax.Array, dt) -> jax.Array:
    return z + dt * f(z)


def _midpoint(f: Derivative, z: jax.Array, dt) -> jax.Array:
    return z + dt * f(z + 0.5 * dt * f(z))


def _heun(f: Derivative, z: jax.Array, dt) -> jax.Array:
    k1 = f(z)
    k2 = f(z + dt * k1)
    return z + 0.5 * dt * (k1 + k2)


def _ralston(f: Derivative, z: jax.Array, dt) -> jax.Array:
    k1 = f(z)
    k2 = f(z + 0.75 * dt * k1)
    return z + dt * (k1 / 3.0 + 2.0 * k2 / 3.0)


def _rk4(f: Derivative, z: jax.Array, dt) -> jax.Array:
    k1 = f(z)
    k2 = f(z + 0.5 * dt * k1)
    k3 = f(z + 0.5 * dt * k2)
    k4 = f(z + dt * k3)
    return z + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


_STEPPERS: dict[str, Stepper] = {
    "euler": _euler,
    "rk1": _euler,
    "midpoint": _midpoint,
    "rk2": _midpoint,
    "heun": _heun,
    "ralston": _ralston,
    "rk4": _rk4,
}

INTEGRATORS: tuple[str, ...] = tuple(_STEPPERS)
"""Every accepted ``integration_type`` name."""


def get_integrator(name: str) -> Stepper:
    """Return ``step(f, z, dt) -> z_next`` for integrator ``name``.

    Raises:
      ValueError: ``name`` is not one of :data:`INTEGRATORS`.

    Example:
      >>> import jax.numpy as jnp
      >>> float(get_integrator("euler")(lambda z: -z, jnp.ones(()), 0.5))
      0.5
    """
    if not isinstance(name, str) or name not in _STEPPERS:
        raise ValueError(
            f"integration_type: unknown integrator {name!r}; expected one of {list(INTEGRATORS)}"
        )
    return _STEPPERS[name]
