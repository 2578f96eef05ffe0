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
   The log and the sine/cosine are short polynomials on reduced ranges (the log by
   exponent split, the angle as a quadrant plus an angle in [-pi/4, pi/4]), accurate to
   ~2e-7, the float32 rounding of the result.

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

# log(1 + m) / m on m in [0, 1): a degree-8 least-squares Chebyshev fit in the power basis
# (highest power first), so log(1 + m) = m * poly(m) is exact at m = 0; |error| < 2e-7 in
# float32. Fitted with numpy.polynomial.chebyshev.chebfit on 20001 points.
_LOG1P_OVER_M = (
    0.005186113803,
    -0.02921086564,
    0.07754165721,
    -0.1358408245,
    0.1905604245,
    -0.2482567883,
    0.333160163,
    -0.4999925638,
    0.999999921,
)

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
    """Natural log of positive normal float32 values: ``e ln 2 + log(1 + m)``, no division."""
    bits = lax.bitcast_convert_type(u, jnp.int32)
    exponent = ((bits >> 23) - 127).astype(jnp.float32)
    m = lax.bitcast_convert_type((bits & 0x007FFFFF) | 0x3F800000, jnp.float32) - 1.0
    return m * _horner(_LOG1P_OVER_M, m) + exponent * _LN2


def _uniform_bits(counter: jax.Array, seed_0: jax.Array, seed_1: jax.Array) -> jax.Array:
    return _lowbias32(_lowbias32(counter + seed_0) ^ seed_1)


def normal(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Standard-normal float32 samples of ``shape``, a pure function of ``key``.

    The flattened output is viewed as ``(2, P)`` with ``P = ceil(size / 2)`` Box-Muller
    pairs: row 0 holds ``r_p cos(theta_p)``, row 1 ``r_p sin(theta_p)``. The radii are
    computed once per pair; the output is one fused elementwise pass (no concatenation,
    which would break XLA's loop vectorisation on CPU).

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
    # Radii, once per pair: u1 in (0, 1], never 0, so the log is finite and <= 0.
    bits_r = _uniform_bits(lax.iota(jnp.uint32, n_pairs), seed_0, seed_1)
    u1 = ((bits_r >> 8).astype(jnp.float32) + 1.0) * _U24
    radius = lax.optimization_barrier(jnp.sqrt(jnp.maximum(-2.0 * _log(u1), 0.0)))
    # Angles: theta = quadrant * pi/2 + phi, quadrant from the top 2 bits, phi uniform in
    # [-pi/4, pi/4) from the next 22. Row 1 takes sin(theta) = cos(theta - pi/2).
    row = lax.broadcasted_iota(jnp.uint32, (2, n_pairs), 0)
    pair = lax.broadcasted_iota(jnp.uint32, (2, n_pairs), 1)
    bits_a = _uniform_bits(pair + jnp.uint32(n_pairs), seed_0, seed_1)
    quadrant = ((bits_a >> 30) + 3 * row) & 3
    phi = ((bits_a >> 8) & 0x3FFFFF).astype(jnp.float32) * (math.pi / 2 / 4194304.0) - math.pi / 4
    phi2 = phi * phi
    sin_phi = phi * _horner(_SIN_COEFFS, phi2)
    cos_phi = _horner(_COS_COEFFS, phi2)
    # cos(theta) for quadrant 0..3: cos phi, -sin phi, -cos phi, sin phi.
    value = jnp.where((quadrant & 1) == 1, sin_phi, cos_phi)
    sign = jnp.where((quadrant == 1) | (quadrant == 2), -1.0, 1.0)
    z = (sign * value * radius[None, :]).reshape(-1)
    if 2 * n_pairs != size:
        z = z[:size]
    return z.reshape(shape)
