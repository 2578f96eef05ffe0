"""The NGC world model: settling is gradient descent on its energy, updates are local."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents.ngc_world_model import NGCWorldModel


def _energy(W_in, W_out, x, y, z):
    """F = 0.5 |y - tanh(z) W_out|^2 + 0.5 |z - x W_in|^2 per row, float64, by hand."""
    e0 = y - np.tanh(z) @ W_out
    e1 = z - x @ W_in
    return 0.5 * np.sum(e0**2, axis=-1) + 0.5 * np.sum(e1**2, axis=-1)


def _setup(seed=0, rows=3, n_in=4, n_out=2, hidden=5):
    model = NGCWorldModel(n_in, n_out, hidden, settle_steps=1, settle_rate=0.05)
    k = jax.random.split(jax.random.key(seed), 4)
    w = model.init(k[0])
    w = w._replace(W_out=jax.random.normal(k[1], w.W_out.shape))  # errors of both layers matter
    x = jax.random.normal(k[2], (rows, n_in))
    y = jax.random.normal(k[3], (rows, n_out))
    return model, w, x, y


def test_one_settling_step_is_a_gradient_step_on_the_energy_by_finite_differences():
    model, w, x, y = _setup()
    W_in, W_out, xn, yn = (np.asarray(a, np.float64) for a in (w.W_in, w.W_out, x, y))
    z0 = xn @ W_in  # settling starts at the prediction
    grad = np.zeros_like(z0)
    h = 1e-6
    for i in np.ndindex(z0.shape):
        dz = np.zeros_like(z0)
        dz[i] = h
        grad[i] = (_energy(W_in, W_out, xn, yn, z0 + dz) - _energy(W_in, W_out, xn, yn, z0 - dz))[i[0]] / (
            2 * h
        )
    settled = model.settle(w, x, y)
    np.testing.assert_allclose(settled.z, z0 - 0.05 * grad, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(settled.energy, _energy(W_in, W_out, xn, yn, np.asarray(settled.z)), rtol=1e-5)


def test_settling_lowers_the_energy_at_every_step():
    model, w, x, y = _setup(seed=1)
    energies = []
    for k in range(1, 40, 3):
        model.settle_steps = k
        energies.append(np.asarray(model.settle(w, x, y).energy))
    energies = np.asarray(energies)
    assert np.all(np.diff(energies, axis=0) < 0)
    free = 0.5 * np.sum((np.asarray(y) - np.asarray(model.settle(w, x, y).prediction)) ** 2, axis=-1)
    assert np.all(energies[-1] < free)  # settling explains part of the error


def test_update_is_each_synapse_error_times_its_presynaptic_activity():
    model, w, x, y = _setup(seed=2)
    model.eta = 0.3
    settled = model.settle(w, x, y)
    mask = jnp.asarray([1.0, 0.0, 1.0])
    new = model.update(w, x, settled, mask)
    want_in, want_out = np.asarray(w.W_in, np.float64), np.asarray(w.W_out, np.float64)
    for r in (0, 2):
        want_in += 0.3 * np.outer(x[r], settled.z[r] - x[r] @ w.W_in)
        want_out += 0.3 * np.outer(np.tanh(settled.z[r]), y[r] - np.tanh(settled.z[r]) @ w.W_out)
    np.testing.assert_allclose(new.W_in, want_in, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new.W_out, want_out, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_it_learns_a_nonlinear_map_without_backprop():
    model = NGCWorldModel(3, 2, 32, settle_steps=10, settle_rate=0.2, eta=0.02)
    w = model.init(jax.random.key(0))
    x = jax.random.uniform(jax.random.key(1), (256, 2), minval=-1, maxval=1)
    x = jnp.concatenate([x, jnp.ones((256, 1))], axis=1)
    y = jnp.stack([jnp.sin(2 * x[:, 0]) * x[:, 1], x[:, 0] ** 2], axis=1)
    mask = jnp.ones(16)

    def epoch(w, _):
        def batch(w, i):
            xb, yb = jax.lax.dynamic_slice_in_dim(x, i * 16, 16), jax.lax.dynamic_slice_in_dim(y, i * 16, 16)
            return model.update(w, xb, model.settle(w, xb, yb), mask), None

        return jax.lax.scan(batch, w, jnp.arange(16))[0], None

    def mse(w):
        return float(jnp.mean((model.settle(w, x, y).prediction - y) ** 2))

    before = mse(w)
    w, _ = jax.jit(lambda w: jax.lax.scan(epoch, w, None, length=200))(w)
    linear = np.linalg.lstsq(np.asarray(x), np.asarray(y), rcond=None)[1].sum() / y.size
    assert mse(w) < 0.2 * before
    assert mse(w) < 0.8 * linear  # beats the best linear map: the hidden layer is used


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"settle_steps": 0}, "settle_steps"),
        ({"settle_rate": 1.5}, "settle_rate"),
        ({"act_fx": "nope"}, "nope"),
    ],
)
def test_bad_hyperparameters_are_named(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        NGCWorldModel(2, 2, **kwargs)
