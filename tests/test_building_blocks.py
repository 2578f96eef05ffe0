"""Activations, priors, integrators, thresholds: against hand values, finite differences
and convergence orders."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from rpe import (
    ACTIVATIONS,
    INTEGRATORS,
    PRIORS,
    THRESHOLDS,
    get_activation,
    get_integrator,
    get_prior,
    get_threshold,
)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_derivative_matches_finite_differences(name):
    f, df = get_activation(name, omega_0=3.0)
    # Avoid the kinks of relu-like functions (0 and 6) where f' is one-sided.
    x = np.concatenate([np.linspace(-3.1, -0.05, 40), np.linspace(0.05, 7.1, 60)]).astype(np.float32)
    x = x[np.abs(x - 6.0) > 0.05]
    h = 1e-3
    numeric = (np.asarray(f(jnp.asarray(x + h))) - np.asarray(f(jnp.asarray(x - h)))) / (2 * h)
    np.testing.assert_allclose(np.asarray(df(jnp.asarray(x))), numeric, rtol=2e-2, atol=2e-2)


def test_activation_hand_values():
    cases = {
        "identity": (2.0, 2.0, 1.0),
        "relu": (0.0, 0.0, 1.0),  # f'(0) = 1 by the reference's convention
        "lrelu": (-2.0, -0.02, 0.01),
        "relu6": (7.0, 6.0, 0.0),
        "softplus": (0.0, math.log(2.0), 0.5),
        "sigmoid": (0.0, 0.5, 0.25),
        "gelu": (1.0, 1.0 / (1.0 + math.exp(-1.702)), None),
        "elu": (-1.0, math.exp(-1.0) - 1.0, math.exp(-1.0)),
    }
    for name, (x, fx, dfx) in cases.items():
        f, df = get_activation(name)
        assert float(f(jnp.float32(x))) == pytest.approx(fx, abs=1e-6), name
        if dfx is not None:
            assert float(df(jnp.float32(x))) == pytest.approx(dfx, abs=1e-6), name


def test_sine_honours_omega_0():
    f, df = get_activation("sine", omega_0=2.0)
    assert float(f(jnp.float32(0.25))) == pytest.approx(math.sin(0.5), abs=1e-6)
    assert float(df(jnp.float32(0.25))) == pytest.approx(2.0 * math.cos(0.5), abs=1e-6)
    f30, _ = get_activation("sine")
    assert float(f30(jnp.float32(0.01))) == pytest.approx(math.sin(0.3), abs=1e-6)


@pytest.mark.parametrize(
    ("name", "z", "phi"),
    [
        ("gaussian", 0.7, 0.7),
        ("laplacian", -0.7, -1.0),
        ("cauchy", 2.0, 4.0 / 5.0),
        ("exp", 1.0, 2.0 * math.exp(-1.0)),
    ],
)
def test_prior_leaks(name, z, phi):
    assert float(get_prior(name)(jnp.float32(z))) == pytest.approx(phi, rel=1e-6)
    assert set(PRIORS) == {"gaussian", "laplacian", "cauchy", "exp"}


EXPECTED_ORDER = {"euler": 1, "rk1": 1, "midpoint": 2, "rk2": 2, "heun": 2, "ralston": 2, "rk4": 4}


@pytest.mark.parametrize("name", INTEGRATORS)
def test_integrator_order_of_convergence(name):
    """On dz/dt = -2z, the global error at t = 1 shrinks as dt^order when dt halves."""
    step = get_integrator(name)

    def solve(dt):
        z = np.float64(1.0)
        for _ in range(round(1.0 / dt)):
            z = step(lambda v: -2.0 * v, z, dt)
        return z

    exact = math.exp(-2.0)
    err_coarse = abs(solve(0.1) - exact)
    err_fine = abs(solve(0.05) - exact)
    observed = math.log2(err_coarse / err_fine)
    assert observed == pytest.approx(EXPECTED_ORDER[name], abs=0.15)


def test_integrator_single_steps_by_hand():
    f = lambda z: -z  # noqa: E731
    z, dt = 1.0, 0.5
    assert get_integrator("euler")(f, z, dt) == pytest.approx(0.5)
    assert get_integrator("midpoint")(f, z, dt) == pytest.approx(1 - 0.5 * 0.75)
    assert get_integrator("heun")(f, z, dt) == pytest.approx(1 + 0.25 * (-1 - 0.5))
    # ralston: k1 = -1, k2 = -(1 - 0.375) = -0.625; z + 0.5 (-1/3 - 1.25/3)
    assert get_integrator("ralston")(f, z, dt) == pytest.approx(1 + 0.5 * (-1 / 3 - 1.25 / 3))
    assert get_integrator("rk4")(f, z, dt) == pytest.approx(1 - 0.5 + 0.125 - 0.5**3 / 6 + 0.5**4 / 24)


def test_thresholds_by_hand():
    z = jnp.asarray([-3.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(get_threshold("none")(z, 1.0), z)
    np.testing.assert_allclose(get_threshold("soft_threshold")(z, 1.0), [-2.0, 0.0, 0.0, 0.0, 2.0])
    s = math.sqrt(9.0 - 1.0)
    np.testing.assert_allclose(
        get_threshold("cauchy_threshold")(z, 1.0), [(-3 - s) / 2, 0.0, 0.0, 0.0, (3 + s) / 2], rtol=1e-6
    )
    assert set(THRESHOLDS) == {"none", "soft_threshold", "cauchy_threshold"}


@pytest.mark.parametrize(
    ("getter", "arg", "allowed"),
    [
        (get_activation, "act_fx", ACTIVATIONS),
        (get_prior, "prior", PRIORS),
        (get_integrator, "integration_type", INTEGRATORS),
        (get_threshold, "threshold", THRESHOLDS),
    ],
)
def test_unknown_names_list_the_allowed_ones(getter, arg, allowed):
    with pytest.raises(ValueError, match=arg) as info:
        getter("no-such-thing")
    for name in allowed:
        assert repr(name) in str(info.value)
