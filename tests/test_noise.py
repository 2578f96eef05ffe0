"""rpe.noise.normal: exactness of its polynomial pieces and the statistics of its draws."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rpe import noise


def test_log_polynomial_matches_numpy():
    u = np.concatenate([np.geomspace(2**-24, 1.0, 5000), np.linspace(0.5, 2.0, 5000)]).astype(np.float32)
    ours = np.asarray(noise._log(jnp.asarray(u)))
    np.testing.assert_allclose(ours, np.log(u.astype(np.float64)), rtol=2e-7, atol=2e-7)


def test_moments_and_tails_match_the_standard_normal():
    z = np.asarray(noise.normal(jax.random.key(0), (400, 1001))).ravel().astype(np.float64)
    n = z.size
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert z.var() == pytest.approx(1.0, abs=5 * math.sqrt(2 / n))
    assert np.mean(z**4) == pytest.approx(3.0, abs=0.05)
    # Kolmogorov-Smirnov distance to the N(0, 1) CDF (critical value at 1e-3: 1.95 / sqrt(n)).
    zs = np.sort(z)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(zs / math.sqrt(2)))
    ks = np.max(np.maximum(np.arange(1, n + 1) / n - cdf, cdf - np.arange(n) / n))
    assert ks < 1.95 / math.sqrt(n)
    assert np.mean(np.abs(z) > 3) == pytest.approx(2.7e-3, rel=0.15)


@pytest.mark.slow
def test_draws_are_uncorrelated_within_and_across_keys():
    a = np.asarray(noise.normal(jax.random.key(1), (50001,)))
    b = np.asarray(noise.normal(jax.random.key(2), (50001,)))
    n = a.size
    for x, y in [(a[:-1], a[1:]), (a[: n // 2], a[n // 2 : 2 * (n // 2)]), (a, b)]:
        assert abs(np.corrcoef(x, y)[0, 1]) < 5 / math.sqrt(len(x))


@pytest.mark.slow
def test_pure_function_of_the_key_and_shape():
    k = jax.random.key(5)
    np.testing.assert_array_equal(noise.normal(k, (3, 4)), noise.normal(k, (3, 4)))
    jitted = jax.jit(noise.normal, static_argnums=1)(k, (3, 4))
    np.testing.assert_allclose(noise.normal(k, (3, 4)), jitted, rtol=1e-6, atol=1e-6)
    assert noise.normal(k, (3, 5)).shape == (3, 5)  # odd sizes
    assert noise.normal(jax.random.PRNGKey(0), (2,)).dtype == jnp.float32
