"""RateCell against hand-worked steps and its fixed points."""

import jax.numpy as jnp
import numpy as np
import pytest

from rpe import RateCell


def settle(cell, j, j_td=0.0, steps=1, dt=1.0):
    shape = (cell.batch_size, cell.n_units)
    cell.j.set(jnp.full(shape, j, jnp.float32))
    cell.j_td.set(jnp.full(shape, j_td, jnp.float32))
    for _ in range(steps):
        cell.advance_state(dt=dt)
    return np.asarray(cell.z.get()), np.asarray(cell.zF.get())


@pytest.mark.parametrize("integration_type", ["euler", "midpoint", "heun", "ralston", "rk4"])
def test_gaussian_prior_reaches_its_fixed_point(integration_type):
    # tau dz/dt = -gamma z + j + j_td  =>  z* = (j + j_td) / gamma
    cell = RateCell("z", 4, tau_m=10.0, prior=("gaussian", 2.0), integration_type=integration_type)
    z, zf = settle(cell, j=3.0, j_td=1.0, steps=600)
    np.testing.assert_allclose(z, 2.0, rtol=1e-5)
    np.testing.assert_allclose(zf, 2.0, rtol=1e-5)


def test_one_euler_step_by_hand_with_modulated_input():
    cell = RateCell(
        "z", 1, tau_m=4.0, prior=("laplacian", 0.5), act_fx="tanh", output_scale=3.0, resist_scale=2.0
    )
    state = cell.set(
        cell.init_state(1), z=jnp.full((1, 1), 0.5), j=jnp.full((1, 1), 1.0), j_td=jnp.full((1, 1), -0.25)
    )
    out = cell.step(state, dt=2.0)
    jm = 1.0 * (1.0 - np.tanh(0.5) ** 2) * 2.0
    z = 0.5 + 2.0 / 4.0 * (-0.5 * 1.0 + jm - 0.25)
    assert float(out.z[0, 0]) == pytest.approx(z, rel=1e-6)
    assert float(out.zF[0, 0]) == pytest.approx(3.0 * np.tanh(z), rel=1e-6)
    # Inputs are never written by the cell (ngc-learn overwrote j with jm).
    assert float(out.j[0, 0]) == 1.0 and float(out.j_td[0, 0]) == -0.25


def test_modulation_uses_f_prime_before_the_step_over_all_stages():
    # midpoint with relu, z = -1 before the step: f'(z) = 0 freezes the bottom-up drive.
    cell = RateCell("z", 1, tau_m=1.0, act_fx="relu", integration_type="midpoint")
    state = cell.set(cell.init_state(1), z=jnp.full((1, 1), -1.0), j=jnp.full((1, 1), 10.0))
    assert float(cell.step(state, dt=0.5).z[0, 0]) == pytest.approx(-1.0)


def test_stateless_mode():
    for tau_m in (0, 0.0, -1.0):
        cell = RateCell("z", 2, tau_m=tau_m, act_fx="sigmoid", output_scale=2.0)
        z, zf = settle(cell, j=0.5, j_td=-0.5)
        np.testing.assert_allclose(z, 0.0)
        np.testing.assert_allclose(zf, 1.0, rtol=1e-6)


def test_soft_threshold_is_applied_after_the_step():
    cell = RateCell("z", 1, tau_m=1.0, threshold=("soft_threshold", 0.3))
    z, _ = settle(cell, j=0.5)  # euler: z = 0.5, then shrink by 0.3
    assert z[0, 0] == pytest.approx(0.2, rel=1e-6)


def test_cauchy_threshold_runs_and_shrinks():
    cell = RateCell("z", 1, tau_m=1.0, threshold=("cauchy_threshold", 4.0))
    z, _ = settle(cell, j=5.0)  # z = 5 >= 4: (5 + sqrt(25 - 4)) / 2
    assert z[0, 0] == pytest.approx((5.0 + np.sqrt(21.0)) / 2, rel=1e-6)


def test_cauchy_prior_fixed_point():
    # gamma 2z/(1+z^2) = j  with gamma = 1, j = 0.8 => z = 0.5 (the stable root)
    cell = RateCell("z", 1, tau_m=2.0, prior=("cauchy", 1.0))
    z, _ = settle(cell, j=0.8, steps=800, dt=0.5)
    assert z[0, 0] == pytest.approx(0.5, rel=1e-4)


def test_sine_activation_honours_omega_0():
    cell = RateCell("z", 1, tau_m=0.0, act_fx="sine", omega_0=2.0)
    _, zf = settle(cell, j=0.25)
    assert zf[0, 0] == pytest.approx(np.sin(0.5), rel=1e-6)
