"""Synapses and local learning rules against plain Python loops and hand-worked values."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rpe import (
    RewardErrorCell,
    apply_update,
    dense_forward,
    dense_init,
    hebbian,
    node_perturbation,
    supralinear_node_perturbation,
    three_factor,
)

RNG = np.random.default_rng(0)
B, N_IN, N_OUT = 3, 4, 2


def loop_outer(pre, post, m=None):
    """sum_b m_b,j pre_b,i post_b,j with plain Python loops."""
    dw = np.zeros((pre.shape[1], post.shape[1]))
    for b in range(pre.shape[0]):
        for i in range(pre.shape[1]):
            for j in range(post.shape[1]):
                dw[i, j] += (1.0 if m is None else m[b][j]) * pre[b, i] * post[b, j]
    return dw


def test_dense_synapse_shapes_initialisers_and_forward():
    params = dense_init(jax.random.key(0), 200, 300, init="fan_in", scale=2.0)
    assert params.weights.shape == (200, 300) and params.bias.shape == (1, 300)
    assert float(jnp.std(params.weights)) == pytest.approx(2.0 / math.sqrt(200), rel=0.03)
    u = dense_init(jax.random.key(0), 50, 40, init="uniform", scale=0.5, bias=False)
    assert u.bias is None and float(jnp.max(jnp.abs(u.weights))) <= 0.5
    x = RNG.normal(size=(5, 200)).astype(np.float32)
    np.testing.assert_allclose(dense_forward(params, x), x @ np.asarray(params.weights), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="init"):
        dense_init(jax.random.key(0), 2, 2, init="orthogonal")
    with pytest.raises(ValueError, match="n_in"):
        dense_init(jax.random.key(0), 0, 2)


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_hebbian_matches_a_loop(reduce):
    pre, post = RNG.normal(size=(B, N_IN)), RNG.normal(size=(B, N_OUT))
    rule = hebbian(eta=0.3, reduce=reduce)
    dw, _ = rule.update(rule.init(), jnp.asarray(pre), jnp.asarray(post))
    expected = 0.3 * loop_outer(pre, post) / (B if reduce == "mean" else 1)
    np.testing.assert_allclose(dw, expected, rtol=1e-5, atol=1e-6)


MODULATORS = {
    "scalar": (np.float32(-0.7), lambda b, j: -0.7),
    "per sample (B,)": (np.asarray([1.0, -2.0, 0.5]), lambda b, j: [1.0, -2.0, 0.5][b]),
    "per sample (B, 1)": (np.asarray([[1.0], [-2.0], [0.5]]), lambda b, j: [1.0, -2.0, 0.5][b]),
    "per unit (1, n_out)": (np.asarray([[3.0, -1.0]]), lambda b, j: [3.0, -1.0][j]),
    "per sample and unit": (np.arange(6.0).reshape(3, 2) - 2, lambda b, j: b * 2 + j - 2.0),
}


@pytest.mark.parametrize("kind", MODULATORS)
def test_three_factor_instantaneous_matches_a_loop(kind):
    modulator, m_of = MODULATORS[kind]
    pre, post = RNG.normal(size=(B, N_IN)), RNG.normal(size=(B, N_OUT))
    rule = three_factor(eta=0.1)
    dw, _ = rule.update(rule.init(B, N_IN, N_OUT), jnp.asarray(pre), jnp.asarray(post), modulator)
    m = [[m_of(b, j) for j in range(N_OUT)] for b in range(B)]
    np.testing.assert_allclose(dw, 0.1 * loop_outer(pre, post, m), rtol=1e-5, atol=1e-6)


def test_three_factor_trace_matches_a_loop_over_time():
    tau_e, dt, steps = 20.0, 2.0, 6
    rule = three_factor(eta=0.05, tau_e=tau_e, reduce="mean")
    state = rule.init(B, N_IN, N_OUT)
    trace = np.zeros((B, N_IN, N_OUT))
    for _ in range(steps):
        pre, post = RNG.normal(size=(B, N_IN)), RNG.normal(size=(B, N_OUT))
        m = RNG.normal(size=(B,))
        dw, state = rule.update(state, jnp.asarray(pre), jnp.asarray(post), jnp.asarray(m), dt=dt)
        for b in range(B):
            trace[b] = math.exp(-dt / tau_e) * trace[b] + np.outer(pre[b], post[b])
        expected = 0.05 * sum(m[b] * trace[b] for b in range(B)) / B
        np.testing.assert_allclose(dw, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(state.trace, trace, rtol=1e-4, atol=1e-6)


def test_a_very_short_trace_is_the_instantaneous_rule():
    pre, post, m = RNG.normal(size=(B, N_IN)), RNG.normal(size=(B, N_OUT)), RNG.normal(size=(B,))
    short = three_factor(eta=1.0, tau_e=1e-3)
    state = short.init(B, N_IN, N_OUT)
    for _ in range(3):
        dw_short, state = short.update(state, pre, post, m)
    dw_now, _ = three_factor(eta=1.0).update(None, pre, post, m)
    np.testing.assert_allclose(dw_short, dw_now, rtol=1e-5, atol=1e-6)


def test_weight_decay_and_bounds_only_when_asked():
    pre, post = np.ones((1, 2)), np.ones((1, 2))
    weights = jnp.full((2, 2), 2.0)
    plain, _ = three_factor(eta=0.5).update(None, pre, post, 1.0, weights=weights)
    np.testing.assert_allclose(plain, 0.5)
    decayed, _ = three_factor(eta=0.5, weight_decay=0.1).update(None, pre, post, 1.0, weights=weights)
    np.testing.assert_allclose(decayed, 0.5 - 0.5 * 0.1 * 2.0)
    with pytest.raises(ValueError, match="weights"):
        three_factor(eta=0.5, weight_decay=0.1).update(None, pre, post, 1.0)
    np.testing.assert_allclose(apply_update(weights, plain), 2.5)
    np.testing.assert_allclose(apply_update(weights, plain, bounds=(-1.0, 2.2)), 2.2)
    with pytest.raises(ValueError, match="bounds"):
        apply_update(weights, plain, bounds=(1.0, 1.0))


def test_bad_modulator_shape_names_both_shapes():
    rule = three_factor(eta=0.1)
    with pytest.raises(ValueError, match=r"modulator.*\(3, 2\).*got \(2, 3\)"):
        rule.update(None, np.ones((3, 4)), np.ones((3, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="reduce"):
        three_factor(eta=0.1, reduce="max")
    with pytest.raises(ValueError, match="tau_e"):
        three_factor(eta=0.1, tau_e=0.0)


def test_rules_under_jit_and_vmap():
    rule = three_factor(eta=0.1, tau_e=5.0)
    state = rule.init(B, N_IN, N_OUT)
    pre, post, m = RNG.normal(size=(B, N_IN)), RNG.normal(size=(B, N_OUT)), RNG.normal(size=(B,))
    eager = rule.update(state, pre, post, m)
    jitted = jax.jit(rule.update)(state, pre, post, m)
    np.testing.assert_allclose(eager[0], jitted[0], rtol=1e-5, atol=1e-6)
    population = jax.vmap(lambda p: rule.update(state, p, post, m)[0])(jnp.stack([pre, 2 * pre]))
    np.testing.assert_allclose(population[1], 2 * eager[0], rtol=1e-5, atol=1e-6)


def test_node_perturbation_matches_a_loop():
    rule = node_perturbation(eta=0.2, signal="reward")
    state = rule.init(B, N_IN, N_OUT)
    elig = np.zeros((B, N_IN, N_OUT))
    for _ in range(4):
        pre, xi = RNG.normal(size=(B, N_IN)), RNG.normal(size=(B, N_OUT))
        state = rule.accumulate(state, jnp.asarray(pre), jnp.asarray(xi))
        for b in range(B):
            elig[b] += np.outer(pre[b], xi[b])
    reward, baseline = np.asarray([1.0, 0.0, 2.0]), np.asarray([[0.5], [0.5], [0.5]])
    dw, state = rule.update(state, reward, baseline)
    expected = 0.2 * sum((reward[b] - 0.5) * elig[b] for b in range(B))
    np.testing.assert_allclose(dw, expected, rtol=1e-5, atol=1e-6)
    assert float(jnp.max(jnp.abs(state.eligibility))) == 0.0


def test_supralinear_node_perturbation_matches_a_loop():
    alpha = 0.3
    rule = supralinear_node_perturbation(eta=0.1, alpha_x=alpha, signal="error")
    state = rule.init(B, N_IN, N_OUT)
    elig, x_bar = np.zeros((B, N_IN, N_OUT)), np.zeros((B, N_OUT))
    for _ in range(5):
        pre, x = RNG.normal(size=(B, N_IN)), RNG.normal(size=(B, N_OUT))
        state = rule.accumulate(state, jnp.asarray(pre), jnp.asarray(x))
        for b in range(B):
            elig[b] += np.outer(pre[b], x[b] - x_bar[b]) ** 3
        x_bar = (1 - alpha) * x_bar + alpha * x
    np.testing.assert_allclose(state.eligibility, elig, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(state.x_bar, x_bar, rtol=1e-5, atol=1e-6)
    dw, _ = rule.update(state, performance=2.0, baseline=0.5)
    np.testing.assert_allclose(dw, -0.1 * 1.5 * elig.sum(axis=0), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="signal"):
        supralinear_node_perturbation(eta=0.1, signal="loss")


@pytest.mark.parametrize("supralinear", [False, True])
def test_accumulate_trial_equals_step_by_step_accumulation(supralinear):
    """One contraction over time gives the sums of T per-step accumulations."""
    rule = supralinear_node_perturbation(eta=0.1, alpha_x=0.2) if supralinear else node_perturbation(eta=0.1)
    T = 7
    pre, x = RNG.normal(size=(T, B, N_IN)), RNG.normal(size=(T, B, N_OUT))
    stepwise = rule.init(B, N_IN, N_OUT)
    for t in range(T):
        stepwise = rule.accumulate(stepwise, jnp.asarray(pre[t]), jnp.asarray(x[t]))
    at_once = rule.accumulate_trial(rule.init(B, N_IN, N_OUT), jnp.asarray(pre), jnp.asarray(x))
    np.testing.assert_allclose(at_once.eligibility, stepwise.eligibility, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(at_once.x_bar, stepwise.x_bar, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="x_seq"):
        rule.accumulate_trial(rule.init(B, N_IN, N_OUT), jnp.asarray(pre), jnp.asarray(x[:, :, :1]))


@pytest.mark.slow
def test_node_perturbation_with_a_reward_error_cell_baseline_learns_a_linear_map():
    """A linear layer learns a target map from noise and a scalar reward alone (no gradients)."""
    key = jax.random.key(0)
    w_target = jax.random.normal(key, (N_IN, N_OUT))
    params = dense_init(jax.random.key(1), N_IN, N_OUT, init="zeros", bias=False)
    rule = node_perturbation(eta=0.02, signal="reward")
    critic = RewardErrorCell("baseline", n_units=1, alpha=0.2)
    sigma = 0.3
    rng = np.random.default_rng(1)

    def trial(weights, noise):
        pre = jnp.asarray(rng.normal(size=(1, N_IN)), jnp.float32)
        xi = sigma * jnp.asarray(noise.normal(size=(1, N_OUT)), jnp.float32)
        out = pre @ weights + xi
        return pre, xi, -float(jnp.sum((out - pre @ w_target) ** 2))

    def mean_error(weights):
        return float(jnp.mean(jnp.sum((weights - w_target) ** 2)))

    start = mean_error(params.weights)
    weights = params.weights
    for _ in range(1500):
        state = rule.init(1, N_IN, N_OUT)
        pre, xi, reward = trial(weights, rng)
        state = rule.accumulate(state, pre, xi)
        baseline = critic.mu.get()
        dw, _ = rule.update(state, reward, baseline)
        critic.reward.set(jnp.full((1, 1), reward))
        critic.advance_state()
        weights = apply_update(weights, dw)
    assert mean_error(weights) < 0.2 * start


def test_supralinear_node_perturbation_takes_a_traced_alpha_x_per_call():
    """The per-call alpha_x (vmapped over two values) equals rules built with each value."""
    from rpe import supralinear_node_perturbation

    rng = np.random.default_rng(3)
    pre = jnp.asarray(rng.normal(size=(6, 2, 3)), jnp.float32)
    x = jnp.asarray(rng.normal(size=(6, 2, 4)), jnp.float32)
    rule = supralinear_node_perturbation(1.0, alpha_x=0.5)
    per_call = jax.vmap(lambda a: rule.accumulate_trial(rule.init(2, 3, 4), pre, x, alpha_x=a).eligibility)(
        jnp.asarray([0.1, 0.9])
    )
    for k, alpha in enumerate((0.1, 0.9)):
        built = supralinear_node_perturbation(1.0, alpha_x=alpha)
        np.testing.assert_allclose(
            per_call[k], built.accumulate_trial(built.init(2, 3, 4), pre, x).eligibility, rtol=1e-5
        )
    assert not np.allclose(per_call[0], per_call[1])
