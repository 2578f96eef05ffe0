"""LeakyNoiseCell: the noiseless solution, integrator orders, and Euler-Maruyama noise."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rpe import LeakyNoiseCell


def noiseless_trajectory(integration_type, dt, t_end=20.0, tau_x=5.0, leak=1.5, drive=3.0):
    cell = LeakyNoiseCell(
        "x",
        1,
        tau_x=tau_x,
        act_fx="identity",
        integration_type=integration_type,
        sigma_pre=0.0,
        sigma_post=0.0,
        leak_scale=leak,
    )
    state = cell.set(cell.init_state(1), j_input=jnp.full((1, 1), drive), x=jnp.full((1, 1), -1.0))
    key = jax.random.key(0)
    for _ in range(round(t_end / dt)):
        state = cell.step(state, dt, key)
    return float(state.x[0, 0])


def exact(t, tau_x=5.0, leak=1.5, drive=3.0, x0=-1.0):
    x_inf = drive / leak
    return x_inf + (x0 - x_inf) * math.exp(-leak * t / tau_x)


@pytest.mark.parametrize(
    ("integration_type", "order"), [("euler", 1), ("midpoint", 2), ("heun", 2), ("ralston", 2), ("rk4", 4)]
)
def test_noiseless_cell_converges_to_the_exponential_at_the_integrators_order(integration_type, order):
    err = [abs(noiseless_trajectory(integration_type, dt, t_end=4.0) - exact(4.0)) for dt in (1.0, 0.5)]
    assert err[0] < 0.25  # the scale of the solution is 3
    assert math.log2(err[0] / err[1]) == pytest.approx(order, abs=0.25)


def test_noiseless_outputs_by_hand():
    cell = LeakyNoiseCell("x", 2, tau_x=10.0, act_fx="tanh", output_scale=2.0, sigma_pre=0.0)
    cell.j_input.set(jnp.full((1, 2), 1.0))
    cell.j_recurrent.set(jnp.full((1, 2), 0.5))
    cell.advance_state(dt=2.0)
    x = 2.0 / 10.0 * 1.5
    np.testing.assert_allclose(cell.x.get(), x, rtol=1e-6)
    np.testing.assert_allclose(cell.r.get(), 2.0 * np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(cell.r_prime.get(), 2.0 * (1 - np.tanh(x) ** 2), rtol=1e-6)


def test_advance_state_has_the_signature_of_every_other_cell():
    cell = LeakyNoiseCell("x", 1, tau_x=10.0, act_fx="identity", sigma_pre=0.0)
    cell.j_input.set(np.ones((1, 1)))
    cell.advance_state(2.0)  # dt, positionally, as for every cell: x = 2 / 10
    np.testing.assert_allclose(cell.x.get(), [[0.2]], rtol=1e-6)
    # ngc-learn's (t, dt) form is refused, not read as dt = t.
    with pytest.raises(TypeError):
        cell.advance_state(0.0, 2.0)
    with pytest.raises(TypeError, match="'t'"):
        cell.advance_state(t=0.0, dt=2.0)
    np.testing.assert_allclose(cell.x.get(), [[0.2]], rtol=1e-6)


def one_step_noise(dt, sigma_pre=0.3, sigma_post=0.2, tau_x=4.0, n=20000, seed=1):
    cell = LeakyNoiseCell(
        "x", n, tau_x=tau_x, act_fx="identity", sigma_pre=sigma_pre, sigma_post=sigma_post, key=seed
    )
    cell.advance_state(dt=dt)
    x = np.asarray(cell.x.get())[0]
    r = np.asarray(cell.r.get())[0]
    return x, r - x  # r = x + sigma_post eps_post with the identity


@pytest.mark.parametrize("dt", [0.25, 1.0, 4.0])
def test_one_step_variance_scales_with_dt_as_euler_maruyama(dt):
    sigma_pre, tau_x, n = 0.3, 4.0, 20000
    x, _ = one_step_noise(dt, sigma_pre=sigma_pre, tau_x=tau_x, n=n)
    expected_var = 2.0 * dt / tau_x * sigma_pre**2
    # The sample variance of n normals has relative std sqrt(2 / n) = 1%; allow 5 sigma.
    assert np.var(x) == pytest.approx(expected_var, rel=5 * math.sqrt(2 / n))
    assert abs(np.mean(x)) < 5 * math.sqrt(expected_var / n)


def test_pre_and_post_noise_are_independent():
    x, post = one_step_noise(1.0)
    assert np.var(post) == pytest.approx(0.2**2, rel=0.05)
    corr = np.corrcoef(x, post)[0, 1]
    assert abs(corr) < 5 / math.sqrt(len(x))  # ngc-learn's shared key gave corr = 1


def test_noise_is_reproducible_and_changes_with_the_key():
    a = one_step_noise(1.0, n=64, seed=7)[0]
    b = one_step_noise(1.0, n=64, seed=7)[0]
    c = one_step_noise(1.0, n=64, seed=8)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_successive_steps_draw_fresh_noise():
    cell = LeakyNoiseCell("x", 4096, tau_x=1.0, act_fx="identity", sigma_pre=1.0, leak_scale=0.0)
    cell.advance_state(dt=1.0)
    first = np.asarray(cell.x.get())[0].copy()
    cell.advance_state(dt=1.0)
    increment = np.asarray(cell.x.get())[0] - first
    assert abs(np.corrcoef(first, increment)[0, 1]) < 5 / math.sqrt(4096)


def test_default_sigma_post_is_zero_and_step_needs_a_key():
    cell = LeakyNoiseCell("x", 3, tau_x=10.0)
    assert cell.params.sigma_post == 0.0
    with pytest.raises(TypeError, match="key"):
        cell.step(cell.state, 1.0)
