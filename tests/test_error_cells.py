"""Error cells: every derivative against finite differences of the log-likelihood, and the
mask / modulator rules of the reference."""

import jax.numpy as jnp
import numpy as np
import pytest

from rpe import BernoulliErrorCell, GaussianErrorCell, LaplacianErrorCell

RNG = np.random.default_rng(0)
B, N = 3, 4


def finite_difference(loglik, x, h=1e-5):
    """Central differences of a float64 numpy function, entry by entry."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (loglik(up) - loglik(down)) / (2 * h)
    return grad


def gaussian_full_loglik(mu, target, sigma):
    e = target - mu
    return -0.5 * np.sum(e**2 / sigma + np.log(np.broadcast_to(sigma, e.shape)))


@pytest.mark.parametrize("sigma_shape", [(1, 1), (1, N)])
def test_gaussian_derivatives_match_finite_differences(sigma_shape):
    mu, target = RNG.normal(size=(B, N)), RNG.normal(size=(B, N))
    sigma = RNG.uniform(0.5, 2.0, size=sigma_shape)
    cell = GaussianErrorCell("g", N, batch_size=B)
    state = cell.step(cell.set(cell.init_state(), mu=mu, target=target, Sigma=sigma))
    L = lambda m, t: -0.5 * np.sum((t - m) ** 2 / sigma)  # noqa: E731
    assert float(state.L) == pytest.approx(L(mu, target), rel=1e-5)
    np.testing.assert_allclose(state.dmu, finite_difference(lambda m: L(m, target), mu), rtol=1e-4, atol=1e-5)
    d_target = finite_difference(lambda t: L(mu, t), target)
    np.testing.assert_allclose(state.dtarget, d_target, rtol=1e-4, atol=1e-5)
    d_sigma = finite_difference(lambda s: gaussian_full_loglik(mu, target, s), sigma)
    assert state.dSigma.shape == sigma_shape
    np.testing.assert_allclose(state.dSigma, d_sigma, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("scale_shape", [(1, 1), (1, N)])
def test_laplacian_derivatives_match_finite_differences(scale_shape):
    shift, target = RNG.normal(size=(B, N)), RNG.normal(size=(B, N))
    scale = RNG.uniform(0.5, 2.0, size=scale_shape)
    cell = LaplacianErrorCell("l", N, batch_size=B)
    state = cell.step(cell.set(cell.init_state(), shift=shift, target=target, Scale=scale))
    L = lambda m, t: -np.sum(np.abs(t - m) / scale)  # noqa: E731
    full = lambda s: -np.sum(np.abs(target - shift) / s + np.log(np.broadcast_to(s, shift.shape)))  # noqa: E731
    assert float(state.L) == pytest.approx(L(shift, target), rel=1e-5)
    np.testing.assert_allclose(state.dshift, finite_difference(lambda m: L(m, target), shift), rtol=1e-4)
    np.testing.assert_allclose(state.dtarget, finite_difference(lambda t: L(shift, t), target), rtol=1e-4)
    np.testing.assert_allclose(state.dScale, finite_difference(full, scale), rtol=1e-4, atol=1e-5)


def test_laplacian_loss_is_the_absolute_error_not_a_mismatch_count():
    cell = LaplacianErrorCell("l", 2, scale=2.0)
    state = cell.step(cell.set(cell.init_state(), target=jnp.asarray([[4.0, -0.5]])))
    assert float(state.L) == pytest.approx(-(4.0 + 0.5) / 2.0)


@pytest.mark.parametrize("input_logits", [True, False])
def test_bernoulli_derivatives_match_finite_differences(input_logits):
    target = RNG.integers(0, 2, size=(B, N)).astype(np.float64)
    p = RNG.normal(size=(B, N)) if input_logits else RNG.uniform(0.1, 0.9, size=(B, N))
    cell = BernoulliErrorCell("b", N, batch_size=B, input_logits=input_logits)
    state = cell.step(cell.set(cell.init_state(), p=p, target=target))

    def L(p_, t):
        q = 1 / (1 + np.exp(-p_)) if input_logits else p_
        return np.sum(t * np.log(q) + (1 - t) * np.log(1 - q))

    assert float(state.L) == pytest.approx(L(p, target), rel=1e-5)
    np.testing.assert_allclose(state.dp, finite_difference(lambda x: L(x, target), p), rtol=1e-4, atol=1e-5)
    d_target = finite_difference(lambda t: L(p, t), target)
    np.testing.assert_allclose(state.dtarget, d_target, rtol=1e-4, atol=1e-5)


def test_bernoulli_clips_probabilities():
    cell = BernoulliErrorCell("b", 1)
    state = cell.step(cell.set(cell.init_state(), p=jnp.zeros((1, 1)), target=jnp.ones((1, 1))))
    assert float(state.L) == pytest.approx(np.log(1e-4), rel=1e-4)
    assert np.isfinite(float(state.dp[0, 0]))


def test_bernoulli_with_rpe_modulator_is_reinforce():
    cell = BernoulliErrorCell("pi", 1, input_logits=True)
    cell.p.set(jnp.full((1, 1), 0.3))
    cell.target.set(jnp.ones((1, 1)))
    cell.modulator.set(jnp.full((1, 1), -2.0))
    cell.advance_state()
    q = 1 / (1 + np.exp(-0.3))
    assert float(cell.dp.get()[0, 0]) == pytest.approx((1 - q) * -2.0, rel=1e-6)


def test_mask_gates_derivatives_counts_only_unmasked_entries_and_is_consumed():
    mu, target = RNG.normal(size=(B, N)), RNG.normal(size=(B, N))
    mask = (RNG.uniform(size=(B, N)) > 0.5).astype(np.float32)
    cell = GaussianErrorCell("g", N, batch_size=B)
    cell.mu.set(mu)
    cell.target.set(target)
    cell.mask.set(mask)
    cell.advance_state()
    e = target - mu
    assert float(cell.L.get()) == pytest.approx(-0.5 * np.sum(mask * e**2), rel=1e-5)
    np.testing.assert_allclose(cell.dmu.get(), mask * e, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(cell.dSigma.get(), [[np.sum(mask * 0.5 * (e**2 - 1))]], rtol=1e-5)
    np.testing.assert_array_equal(cell.mask.get(), np.ones((B, N)))
    cell.advance_state()  # the mask applied to one step only
    np.testing.assert_allclose(cell.dmu.get(), e, rtol=1e-5)


def test_modulator_scales_derivatives_not_L_and_persists():
    mu, target = RNG.normal(size=(B, N)), RNG.normal(size=(B, N))
    cell = LaplacianErrorCell("l", N, batch_size=B)
    cell.shift.set(mu)
    cell.target.set(target)
    cell.modulator.set(np.asarray([[2.0], [0.0], [-1.0]]))  # per sample, e.g. an RPE
    for _ in range(2):
        cell.advance_state()
        per_row = np.asarray([[2.0], [0.0], [-1.0]])
        np.testing.assert_allclose(cell.dshift.get(), per_row * np.sign(target - mu), rtol=1e-6)
        assert float(cell.L.get()) == pytest.approx(-np.sum(np.abs(target - mu)), rel=1e-5)
        np.testing.assert_allclose(cell.modulator.get(), np.broadcast_to(per_row, (B, N)))


def test_reset_restores_sigma_and_ones():
    cell = GaussianErrorCell("g", N, batch_size=B, sigma=0.7)
    cell.Sigma.set(np.full((1, N), 3.0))
    cell.modulator.set(np.zeros((B, N)))
    cell.advance_state()
    cell.reset()
    np.testing.assert_allclose(cell.Sigma.get(), [[0.7]])
    assert cell.dSigma.shape == (1, 1)
    np.testing.assert_array_equal(cell.modulator.get(), np.ones((B, N)))
    np.testing.assert_array_equal(cell.mask.get(), np.ones((B, N)))
    assert float(cell.L.get()) == 0.0


def test_td_error_by_hand_and_dvalue_by_finite_differences():
    from rpe import TDErrorCell

    reward, value, next_value = RNG.normal(size=(B, 1)), RNG.normal(size=(B, 1)), RNG.normal(size=(B, 1))
    done = np.asarray([[0.0], [1.0], [0.0]])
    cell = TDErrorCell("td", 1, gamma=0.9, batch_size=B)
    inputs = {"reward": reward, "value": value, "next_value": next_value, "done": done}
    state = cell.step(cell.set(cell.init_state(), **inputs))
    delta = reward + 0.9 * (1 - done) * next_value - value
    np.testing.assert_allclose(state.delta, delta, rtol=1e-5, atol=1e-6)
    L = lambda v: -0.5 * np.sum((reward + 0.9 * (1 - done) * next_value - v) ** 2)  # noqa: E731
    assert float(state.L) == pytest.approx(L(value), rel=1e-5)
    np.testing.assert_allclose(state.dvalue, finite_difference(L, value), rtol=1e-4, atol=1e-5)


def test_td_error_done_is_per_sample_and_nan_rewards_are_refused():
    from rpe import TDErrorCell

    cell = TDErrorCell("td", 2, gamma=0.5, batch_size=2)
    cell.done.set(np.asarray([[1.0], [0.0]]))
    np.testing.assert_array_equal(cell.done.get(), [[1.0, 1.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="reward"):
        cell.reward.set(np.full((2, 2), np.inf))
    with pytest.raises(ValueError, match="gamma"):
        TDErrorCell("td", 1, gamma=1.5)


def test_categorical_derivative_matches_finite_differences():
    from rpe import CategoricalErrorCell

    logits = RNG.normal(size=(B, N))
    target = np.eye(N)[RNG.integers(0, N, size=B)]
    cell = CategoricalErrorCell("pi", N, batch_size=B)
    state = cell.step(cell.set(cell.init_state(), logits=logits, target=target))

    def L(x):
        log_pi = x - np.log(np.sum(np.exp(x), axis=1, keepdims=True))
        return np.sum(target * log_pi)

    assert float(state.L) == pytest.approx(L(logits), rel=1e-5)
    np.testing.assert_allclose(state.dlogits, finite_difference(L, logits), rtol=1e-4, atol=1e-5)
    # Per-sample modulator (an RPE per row) and a per-sample mask.
    cell.logits.set(logits)
    cell.target.set(target)
    cell.modulator.set(np.asarray([[1.0], [-2.0], [0.5]]))
    cell.mask.set(np.asarray([[1.0], [0.0], [1.0]]))
    cell.advance_state()
    pi = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    gate = np.asarray([[1.0], [0.0], [0.5]])
    np.testing.assert_allclose(cell.dlogits.get(), gate * (target - pi), rtol=1e-5, atol=1e-6)
    mask = np.asarray([[1.0], [0.0], [1.0]])
    assert float(cell.L.get()) == pytest.approx(np.sum(mask * target * np.log(pi)), rel=1e-5)
