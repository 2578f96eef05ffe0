"""Fast, reproducible standard-normal noise for the cells' stochastic dynamics.

``jax.random.normal`` runs the Threefry block cipher for every 32-bit word and then an
inverse error function; on a CPU that is ~100x the cost of an elementwise cell update,
which makes noisy cells (``LeakyNoiseCell``) an order of magnitude slower than
deterministic ones. This module draws N(0, 1) samples at a fraction of that cost and
stays a pure function of a JAX PRNG key, so runs reproduce exactly:

1. Two 32-bit seeds are taken from ``key`` with ``jax.random.bits`` (one tiny Threefry
   call per draw, whatever the shape).
2. Uniform bits come from a counter-based hash: ``h(c) = m(m(c + s0) ^ s1)`` where ``m`` is
   the ``lowbias32`` integer mixer (C. Wellons, "Hash function prospector", 2018) and
   ``c`` counts the elements. Two rounds keyed by both seeds make streams from different
   keys unrelated even where their counters overlap.
3. Box-Muller turns each pair of uniforms ``(u1, u2)`` into two independent normals
   ``r cos(theta), r sin(theta)`` with ``r = sqrt(-2 log u1)``, ``theta = 2 pi u2``.
   The log and the sine/cosine are short polynomials on reduced ranges (the angle is
   drawn as a quadrant plus an angle in [-pi/4, pi/4]), accurate to ~1e-7 relative, far
   below the 2^-24 resolution of the uniforms.

Shapes: ``normal(key, shape)`` returns ``float32[shape]``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["normal"]

_U24 = 1.0 / 16777216.0  # 2^-24: spacing of the 24-bit uniforms
_LN2 = math.log(2.0)
_SQRT2 = math.sqrt(2.0)

# log(m) = 2 atanh(y) with y = (m - 1) / (m + 1), |y| <= 0.1716 for m in [sqrt(1/2), sqrt(2)).
# 2 atanh(y) = 2 (y + y^3/3 + y^5/5 + ...); terms to y^11 give < 2e-10 error.
_ATANH_COEFFS = (2.0 / 11.0, 2.0 / 9.0, 2.0 / 7.0, 2.0 / 5.0, 2.0 / 3.0, 2.0)

# Taylor series of sin and cos on [-pi/4, pi/4]; truncation error < 4e-9.
_SIN_COEFFS = tuple((-1.0) ** k / math.factorial(2 * k + 1) for k in range(5, -1, -1))
_COS_COEFFS = tuple((-1.0) ** k / math.factorial(2 * k) for k in range(6, -1, -1))


def _lowbias32(x: jax.Array) -> jax.Array:
    """The ``lowbias32`` 32-bit integer mixer: a bijection with near-ideal avalanche."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def _horner(coeffs: tuple[float, ...], x: jax.Array) -> jax.Array:
    acc = jnp.full_like(x, coeffs[0])
    for c in coeffs[1:]:
        acc = acc * x + c
    return acc


def _log(u: jax.Array) -> jax.Array:
    """Natural log of positive normal float32 values, by exponent split and atanh series."""
    bits = lax.bitcast_convert_type(u, jnp.int32)
    exponent = (bits >> 23) - 127
    mantissa = lax.bitcast_convert_type((bits & 0x007FFFFF) | 0x3F800000, jnp.float32)
    big = mantissa > _SQRT2
    mantissa = jnp.where(big, mantissa * 0.5, mantissa)
    exponent = exponent + big.astype(jnp.int32)
    y = (mantissa - 1.0) / (mantissa + 1.0)
    return y * _horner(_ATANH_COEFFS, y * y) + exponent.astype(jnp.float32) * _LN2


def _uniform_bits(counter: jax.Array, seed_0: jax.Array, seed_1: jax.Array) -> jax.Array:
    return _lowbias32(_lowbias32(counter + seed_0) ^ seed_1)


def normal(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Standard-normal float32 samples of ``shape``, a pure function of ``key``.

    Element ``i`` of the flattened output belongs to Box-Muller pair ``p = i mod P``
    (``P = ceil(size / 2)``): the first half of the output holds ``r_p cos(theta_p)``, the
    second half ``r_p sin(theta_p)``. Every element is computed in one fused pass (no
    concatenation, which would break XLA's loop fusion on CPU).

    Args:
      key: a JAX PRNG key (typed ``jax.random.key`` or raw ``jax.random.PRNGKey``).
      shape: output shape, a tuple of non-negative ints.

    Returns:
      ``float32[shape]`` with i.i.d. N(0, 1) entries (Box-Muller over 24-bit uniforms, so
      ``|z| <= sqrt(-2 log 2^-24) ~ 5.77``).

    Example:
      >>> z = normal(jax.random.key(0), (2, 3))
      >>> z.shape
      (2, 3)
    """
    shape = tuple(int(d) for d in shape)
    size = int(np.prod(shape, dtype=np.int64))
    n_pairs = (size + 1) // 2
    seeds = jax.random.bits(key, (2,), jnp.uint32)
    seed_0, seed_1 = seeds[0], seeds[1]
    index = lax.iota(jnp.uint32, size)
    second_half = index >= n_pairs
    pair = jnp.where(second_half, index - jnp.uint32(n_pairs), index)
    bits_r = _uniform_bits(pair, seed_0, seed_1)
    bits_a = _uniform_bits(pair + jnp.uint32(n_pairs), seed_0, seed_1)
    # u1 in (0, 1]: never 0, so the log is finite.
    u1 = ((bits_r >> 8).astype(jnp.float32) + 1.0) * _U24
    radius = jnp.sqrt(-2.0 * _log(u1))
    # theta = quadrant * pi/2 + phi, quadrant from the top 2 bits, phi uniform in
    # [-pi/4, pi/4) from the next 22. sin(theta) = cos(theta - pi/2): one quadrant back.
    quadrant = ((bits_a >> 30) + jnp.where(second_half, jnp.uint32(3), jnp.uint32(0))) & 3
    phi = ((bits_a >> 8) & 0x3FFFFF).astype(jnp.float32) * (math.pi / 2 / 4194304.0) - math.pi / 4
    phi2 = phi * phi
    sin_phi = phi * _horner(_SIN_COEFFS, phi2)
    cos_phi = _horner(_COS_COEFFS, phi2)
    # cos(theta) for quadrant 0..3: cos phi, -sin phi, -cos phi, sin phi.
    value = jnp.where((quadrant & 1) == 1, sin_phi, cos_phi)
    sign = jnp.where((quadrant == 1) | (quadrant == 2), -1.0, 1.0)
    return (sign * radius * value).reshape(shape)
