"""Activation functions ``act_fx`` and their derivatives.

Each name gives a pair ``(f, df)`` of elementwise functions, ``df = f'``:

============  =================================  ==========================================
name          f(x)                               f'(x)
============  =================================  ==========================================
identity      x                                  1
tanh          tanh(x)                            1 - tanh(x)^2
sigmoid       s(x) = 1 / (1 + exp(-x))           s(x) (1 - s(x))
relu          max(x, 0)                          1 where x >= 0 (0 included), else 0
lrelu         x if x >= 0 else 0.01 x            1 where x >= 0, else 0.01
relu6         min(max(x, 0), 6)                  1 where 0 < x <= 6, else 0
elu           x if x > 0 else exp(x) - 1         1 where x > 0, else exp(x)
silu          x s(x)                             s(x) (1 + x (1 - s(x)))
gelu          x s(1.702 x)                       s(1.702 x) + 1.702 x s'(1.702 x)
softplus      log(1 + exp(x))                    s(x)
sine          sin(omega_0 x)                     omega_0 cos(omega_0 x)
============  =================================  ==========================================

``omega_0`` (default 30, after SIREN, Sitzmann et al. 2020) is honoured by ``sine`` and
ignored by the others.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = ["ACTIVATIONS", "get_activation"]

Elementwise = Callable[[jax.Array], jax.Array]

_GELU_SCALE = 1.702


def _sigmoid_derivative(x: jax.Array) -> jax.Array:
    s = jax.nn.sigmoid(x)
    return s * (1.0 - s)


def _tanh_derivative(x: jax.Array) -> jax.Array:
    t = jnp.tanh(x)
    return 1.0 - t * t


def _silu_derivative(x: jax.Array) -> jax.Array:
    s = jax.nn.sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def _gelu(x: jax.Array) -> jax.Array:
    return x * jax.nn.sigmoid(_GELU_SCALE * x)


def _gelu_derivative(x: jax.Array) -> jax.Array:
    return jax.nn.sigmoid(_GELU_SCALE * x) + _GELU_SCALE * x * _sigmoid_derivative(_GELU_SCALE * x)


def _step(condition: jax.Array, dtype) -> jax.Array:
    return condition.astype(dtype)


_FIXED: dict[str, tuple[Elementwise, Elementwise]] = {
    "identity": (lambda x: x, lambda x: jnp.ones_like(x)),
    "tanh": (jnp.tanh, _tanh_derivative),
    "sigmoid": (jax.nn.sigmoid, _sigmoid_derivative),
    "relu": (lambda x: jnp.maximum(x, 0.0), lambda x: _step(x >= 0.0, x.dtype)),
    "lrelu": (
        lambda x: jnp.where(x >= 0.0, x, 0.01 * x),
        lambda x: jnp.where(x >= 0.0, 1.0, 0.01).astype(x.dtype),
    ),
    "relu6": (
        lambda x: jnp.clip(x, 0.0, 6.0),
        lambda x: _step((x > 0.0) & (x <= 6.0), x.dtype),
    ),
    "elu": (
        lambda x: jnp.where(x > 0.0, x, jnp.expm1(jnp.minimum(x, 0.0))),
        lambda x: jnp.where(x > 0.0, 1.0, jnp.exp(jnp.minimum(x, 0.0))).astype(x.dtype),
    ),
    "silu": (jax.nn.silu, _silu_derivative),
    "gelu": (_gelu, _gelu_derivative),
    "softplus": (jax.nn.softplus, jax.nn.sigmoid),
}

ACTIVATIONS: tuple[str, ...] = (*_FIXED, "sine")
"""Every accepted ``act_fx`` name."""


def get_activation(name: str, omega_0: float = 30.0) -> tuple[Elementwise, Elementwise]:
    """Return ``(f, df)`` for activation ``name``.

    Args:
      name: one of :data:`ACTIVATIONS`.
      omega_0: frequency of ``sine``; ignored by the other activations.

    Raises:
      ValueError: ``name`` is not one of :data:`ACTIVATIONS`.

    Example:
      >>> f, df = get_activation("tanh")
      >>> float(df(jnp.zeros(())))
      1.0
    """
    if name == "sine":
        omega = float(omega_0)
        return (lambda x: jnp.sin(omega * x)), (lambda x: omega * jnp.cos(omega * x))
    if not isinstance(name, str) or name not in _FIXED:
        raise ValueError(f"act_fx: unknown activation {name!r}; expected one of {list(ACTIVATIONS)}")
    return _FIXED[name]
