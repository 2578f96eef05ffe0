"""The per-example kernels of ``rpe.functional``: numbers worked by hand and closed forms,
``jax.vmap(kernel)`` against each cell's ``step`` and each rule's ``update``, and every kernel
under ``jax.jit`` with a traced hyperparameter."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rpe import (
    BernoulliErrorCell,
    CategoricalErrorCell,
    GaussianErrorCell,
    LaplacianErrorCell,
    LeakyNoiseCell,
    RateCell,
    RewardErrorCell,
    TDErrorCell,
    functional,
    hebbian,
    node_perturbation,
    noise,
    supralinear_node_perturbation,
    three_factor,
)

B, N = 4, 3
TOL = {"rtol": 1e-5, "atol": 1e-6}


def f32(x):
    """Test data as float32 NumPy arrays: building it with NumPy compiles nothing."""
    return np.asarray(x, np.float32)


def rand(seed, shape, low=None, high=None):
    rng = np.random.default_rng(seed)
    return f32(rng.normal(size=shape) if low is None else rng.uniform(low, high, size=shape))


def binary(seed, shape, p=0.7):
    return f32(np.random.default_rng(seed).uniform(size=shape) < p)


def close(a, b, **kw):
    """Leaf by leaf; a list in ``b`` is one expected array."""
    expected = jax.tree.leaves(b, is_leaf=lambda x: isinstance(x, list))
    for x, y in zip(jax.tree.leaves(a), expected, strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), **(kw or TOL))


def jit(kernel, *args, **kwargs):
    """``kernel(*args, **kwargs)`` under ``jax.jit`` (keyword arguments fixed): one compiled
    program per call, where running it eagerly compiles one per primitive."""
    return jax.jit(functools.partial(kernel, **kwargs))(*args)


@functools.cache
def batched(kernel, in_axes=0):
    """``jax.jit(jax.vmap(kernel))``, built once per kernel: one compiled program per shape."""
    return jax.jit(jax.vmap(kernel, in_axes=in_axes))


def central_difference(f, x, i, h=1e-6):
    """d f / d x[i] by central differences, in float64."""
    x = np.array(x, np.float64)
    up, down = x.copy(), x.copy()
    up.flat[i] += h
    down.flat[i] -= h
    return (f(up) - f(down)) / (2 * h)


# ------------------------------------------------------------------ numbers worked by hand
def test_ema_by_hand():
    assert float(jit(functional.ema, 2.0, 4.0, 0.25)) == 2.5
    assert float(jit(functional.ema, 2.0, 4.0, 0.0)) == 2.0
    assert float(jit(functional.ema, 2.0, 4.0, 1.0)) == 4.0


def test_reward_prediction_error_by_hand():
    mu, rows = np.zeros((), np.float32), []
    for r in [1.0, 1.0, 0.0]:
        rpe, mu = jit(functional.reward_prediction_error, r, mu, 0.5)
        rows.append((float(rpe), float(mu)))
    assert rows == [(1.0, 0.5), (0.5, 0.75), (-0.75, 0.375)]
    rpe, mu = jit(functional.reward_prediction_error, 3.0, 1.0, 0.0)  # episodic mode: mu does not move
    assert (float(rpe), float(mu)) == (2.0, 1.0)


def test_end_episode_by_hand():
    mu, accum = f32([1.0, -1.0]), f32([6.0, 3.0])
    out = jit(functional.end_episode, mu, accum, 3.0, 4.0)  # mean rewards 2 and 1, W = 4
    close(out, ([0.75 * 1.0 + 0.25 * 2.0, 0.75 * -1.0 + 0.25 * 1.0], [0.0, 0.0], 0.0))
    no_steps = jit(functional.end_episode, mu, np.zeros(2, np.float32), 0.0, 4.0)
    close(no_steps, (mu, [0.0, 0.0], 0.0))  # mu kept: no 0/0
    not_ended = jit(functional.end_episode, mu, accum, 3.0, 4.0, done=False)
    close(not_ended, (mu, accum, 3.0))


def test_td_error_on_a_hand_worked_chain():
    # s0 -> s1 -> s2 -> terminal, rewards 0, 0, 1, gamma 0.9, V = (0.5, 1.0, 2.0).
    v = f32([0.5, 1.0, 2.0])
    v_next = f32([1.0, 2.0, 7.0])  # the terminal's value must not count
    r = f32([0.0, 0.0, 1.0])
    discount = 0.9 * (1.0 - f32([0.0, 0.0, 1.0]))
    out = batched(functional.td_error)(r, discount, v, v_next)
    expected = np.asarray([0.9 * 1.0 - 0.5, 0.9 * 2.0 - 1.0, 1.0 - 2.0])
    close(out, (expected, -0.5 * expected**2, expected))
    gated = jit(functional.td_error, 1.0, 0.9, 0.0, 2.0, modulator=-2.0, mask=0.0)
    assert (float(gated.L), float(gated.dvalue)) == (0.0, 0.0)
    assert float(jit(functional.td_error, 1.0, 0.9, 0.0, 2.0, modulator=-2.0).dvalue) == pytest.approx(-5.6)


def gaussian_log_likelihood(mu, target, sigma):
    e = target - mu
    return -0.5 * np.sum(e * e / sigma + np.log(sigma * np.ones_like(e)))


@pytest.mark.parametrize("per_unit", [False, True])
def test_gaussian_error_is_the_log_likelihood_and_its_derivatives(per_unit):
    mu, target = rand(0, N), rand(1, N)
    sigma = rand(2, N, 0.5, 2.0) if per_unit else np.float32(1.7)
    out = jit(functional.gaussian_error, mu, target, sigma)
    m, t, s = (np.asarray(a, np.float64) for a in (mu, target, sigma))
    e = t - m
    np.testing.assert_allclose(out.L, -0.5 * np.sum(e * e / s), rtol=1e-6)
    for i in range(N):
        np.testing.assert_allclose(
            out.dmu[i], central_difference(lambda x: gaussian_log_likelihood(x, t, s), m, i), rtol=1e-5
        )
        np.testing.assert_allclose(
            out.dtarget[i], central_difference(lambda x: gaussian_log_likelihood(m, x, s), t, i), rtol=1e-5
        )
    assert out.dsigma.shape == sigma.shape
    for i in range(s.size):
        np.testing.assert_allclose(
            np.ravel(out.dsigma)[i],
            central_difference(lambda x: gaussian_log_likelihood(m, t, x), s, i),
            rtol=1e-5,
        )


def test_gaussian_error_gate_and_mask():
    mu, target = np.zeros(3, np.float32), f32([1.0, 2.0, -1.0])
    mask = f32([1.0, 0.0, 1.0])
    out = jit(functional.gaussian_error, mu, target, 2.0, modulator=3.0, mask=mask)
    assert float(out.L) == -0.5 * (1.0 + 1.0) / 2.0  # the masked entry is not counted
    close(out.dmu, [1.5, 0.0, -1.5])  # 3 * e / 2, masked
    close(out.dtarget, [-1.5, 0.0, 1.5])
    close(out.dsigma, 3.0 * 0.5 * ((1.0 / 4 - 0.5) + (1.0 / 4 - 0.5)))


def test_laplacian_error_by_hand_and_by_finite_differences():
    out = jit(functional.laplacian_error, np.zeros(2, np.float32), f32([-3.0, 1.0]), f32([2.0, 0.5]))
    close(out, (-(3.0 / 2.0 + 1.0 / 0.5), [-0.5, 2.0], [0.5, -2.0], [3.0 / 4 - 1.0 / 2, 4.0 - 2.0]))

    def log_likelihood(scale):
        return -np.sum(np.abs([-3.0, 1.0]) / scale + np.log(scale))

    for i in range(2):
        np.testing.assert_allclose(
            out.dscale[i], central_difference(log_likelihood, [2.0, 0.5], i), rtol=1e-5
        )
    gated = jit(
        functional.laplacian_error,
        np.zeros(2, np.float32),
        f32([-3.0, 1.0]),
        1.0,
        modulator=-1.0,
        mask=f32([0.0, 1.0]),
    )
    close(gated, (-1.0, [0.0, -1.0], [0.0, 1.0], 0.0))  # dscale: -1 * (|e| / 1 - 1 / 1) = 0


def test_bernoulli_error_is_minus_the_cross_entropy():
    p, t = np.asarray([0.2, 0.6, 0.9], np.float64), np.asarray([1.0, 0.0, 1.0])

    def log_likelihood(q):
        return np.sum(t * np.log(q) + (1 - t) * np.log(1 - q))

    out = jit(functional.bernoulli_error, f32(p), t)
    cross_entropy = -np.sum(t * np.log(p) + (1 - t) * np.log(1 - p))
    np.testing.assert_allclose(out.L, -cross_entropy, rtol=1e-6)
    for i in range(3):
        np.testing.assert_allclose(out.dp[i], central_difference(log_likelihood, p, i), rtol=1e-5)
    np.testing.assert_allclose(out.dtarget, np.log(p) - np.log(1 - p), rtol=1e-5)

    logits = np.log(p / (1 - p))
    with_logits = jit(functional.bernoulli_error, f32(logits), t, modulator=2.0, input_logits=True)
    np.testing.assert_allclose(with_logits.L, out.L, rtol=1e-5)
    np.testing.assert_allclose(with_logits.dp, 2.0 * (t - p), rtol=1e-5)  # d L / d logit, gated
    clipped = jit(functional.bernoulli_error, 0.0, 1.0)  # q clipped to 1e-4: finite
    np.testing.assert_allclose(clipped.L, math.log(1e-4), rtol=1e-4)


def test_categorical_error_by_hand():
    logits = np.log(f32([1.0, 2.0, 5.0]))  # softmax = (1, 2, 5) / 8
    target = f32([0.0, 1.0, 0.0])
    out = jit(functional.categorical_error, logits, target)
    np.testing.assert_allclose(out.L, math.log(0.25), rtol=1e-6)
    close(out.dlogits, [-1 / 8, 3 / 4, -5 / 8])
    gated = jit(functional.categorical_error, logits, target, modulator=-2.0, mask=0.0)
    close(gated, (0.0, [0.0, 0.0, 0.0]))


def test_rate_cell_step_by_hand_and_against_the_closed_form():
    zeros, ones = np.zeros(2, np.float32), np.ones(2, np.float32)
    close(jit(functional.rate_cell_step, zeros, ones, zeros, 1.0, 10.0, gamma=1.0), ([0.1, 0.1], [0.1, 0.1]))
    # tau dz/dt = -gamma z + j + j_td: z(t) = z_inf + (z0 - z_inf) exp(-gamma t / tau).
    z0, j, j_td, gamma, tau, dt = 2.0, 0.5, 0.25, 0.8, 10.0, 1.0
    z_inf = (j + j_td) / gamma
    exact = z_inf + (z0 - z_inf) * math.exp(-gamma * dt / tau)
    out = jit(functional.rate_cell_step, z0, j, j_td, dt, tau, gamma=gamma, integration_type="rk4")
    assert float(out.z) == pytest.approx(exact, abs=1e-6)
    modulated = jit(
        functional.rate_cell_step, 0.5, 1.0, 0.0, 1.0, 4.0, act_fx="tanh", resist_scale=2.0, output_scale=3.0
    )
    z1 = 0.5 + 2.0 * (1.0 - math.tanh(0.5) ** 2) / 4.0
    close(modulated, (z1, 3.0 * math.tanh(z1)))
    stateless = jit(
        functional.rate_cell_step, 5.0, 1.0, 2.0, 1.0, 0.0, act_fx="relu", threshold="soft_threshold"
    )
    close(stateless, (3.0, 3.0))  # z = j + j_td, no threshold
    shrunk = jit(
        functional.rate_cell_step, 0.0, 1.0, 0.0, 1.0, 1.0, threshold="soft_threshold", threshold_lambda=0.25
    )
    close(shrunk.z, 0.75)
    by_functions = jit(
        functional.rate_cell_step,
        0.5,
        1.0,
        0.0,
        1.0,
        4.0,
        act_fx=(jnp.tanh, lambda z: 1.0 - jnp.tanh(z) ** 2),
        resist_scale=2.0,
    )
    close(by_functions.z, z1)
    with pytest.raises(ValueError, match="prior"):
        jit(functional.rate_cell_step, 0.0, 1.0, 0.0, 1.0, 1.0, prior="student")


def test_leaky_noise_step_by_hand():
    zeros, ones = np.zeros(3, np.float32), np.ones(3, np.float32)
    close(
        jit(functional.leaky_noise_step, zeros, ones, zeros, 1.0, 10.0, 0.0),
        ([0.1] * 3, [0.1] * 3, [1.0] * 3),
    )
    out = jit(
        functional.leaky_noise_step,
        0.0,
        0.0,
        0.0,
        2.0,
        8.0,
        1.0,
        -1.0,
        sigma_pre=0.1,
        sigma_post=0.5,
        output_scale=2.0,
    )
    x = math.sqrt(2 * 2.0 / 8.0) * 0.1  # the Euler-Maruyama noise term alone
    close(out, (x, 2.0 * x - 0.5, 2.0))
    leak = jit(functional.leaky_noise_step, 1.0, 0.0, 0.0, 1.0, 4.0, 0.0, leak_scale=2.0, act_fx="identity")
    close(leak.x, 1.0 - 2.0 / 4.0)


def test_rule_kernels_by_hand():
    pre, post = f32([1.0, 2.0]), f32([3.0])
    close(jit(functional.hebbian_update, pre, post, eta=0.5), [[1.5], [3.0]])
    trace = jit(functional.eligibility_trace, np.ones((2, 1), np.float32), pre, post, 2.0, 4.0)
    close(trace, [[math.exp(-0.5) + 3.0], [math.exp(-0.5) + 6.0]])
    close(
        jit(functional.three_factor_update, np.ones((2, 2), np.float32), f32([1.0, -2.0]), eta=0.5),
        [[0.5, -1.0]] * 2,
    )
    close(
        jit(functional.node_perturbation_eligibility, np.ones((2, 1), np.float32), pre, f32([-1.0])),
        [[0.0], [-1.0]],
    )
    out = jit(
        functional.supralinear_eligibility,
        np.zeros((1, 1), np.float32),
        f32([0.5]),
        f32([2.0]),
        np.ones(1, np.float32),
        0.25,
    )
    close(out, ([[1.0]], [0.5 + 0.25 * 0.5]))  # (2 * (1 - 0.5))^3
    e = np.ones((1, 1), np.float32)
    close(jit(functional.node_perturbation_update, e, 1.0, 0.25, 2.0), [[1.5]])
    close(jit(functional.node_perturbation_update, e, 1.0, 0.25, 2.0, signal="error"), [[-1.5]])
    with pytest.raises(ValueError, match="signal"):
        jit(functional.node_perturbation_update, e, 1.0, 0.25, 2.0, signal="loss")


def test_supralinear_trial_equals_its_steps():
    e, x_bar = rand(0, (3, 2)), rand(1, 2)
    pre_seq, x_seq = rand(2, (5, 3)), rand(3, (5, 2))
    by_steps = functional.SupralinearEligibility(e, x_bar)
    for pre, x in zip(pre_seq, x_seq, strict=True):
        by_steps = jit(functional.supralinear_eligibility, *by_steps, pre, x, 0.3)
    close(
        jit(functional.supralinear_eligibility_trial, e, x_bar, pre_seq, x_seq, 0.3),
        by_steps,
        rtol=1e-5,
        atol=1e-5,
    )


# ------------------------------------------------------------ vmap(kernel) == the cells' step
def cell_step(cell, dt=1.0, key=None, **inputs):
    """One jitted step of ``cell`` from rest with ``inputs`` set, for a batch of ``B``."""
    return jax.jit(lambda state: cell.step(state, dt, key))(cell.set(cell.init_state(B), **inputs))


@pytest.mark.parametrize("online", [True, False])
def test_reward_prediction_error_is_the_cell_step(online):
    cell = RewardErrorCell("rw", n_units=N, alpha=0.3, use_online_predictor=online)
    reward, mu = rand(0, (B, N)), rand(1, (B, N))
    state = cell_step(cell, reward=reward, mu=mu)
    out = batched(functional.reward_prediction_error, in_axes=(0, 0, None))(
        reward, mu, 0.3 if online else 0.0
    )
    close(out, (state.rpe, state.mu))


def test_end_episode_is_the_cell_end_episode():
    cell = RewardErrorCell("rw", n_units=N, alpha=0.3, ema_window_len=5.0)
    mu, accum = rand(0, (B, N)), rand(1, (B, N))
    steps = f32([[3.0], [0.0], [7.0], [2.0]])
    done = f32([True, True, False, True])
    state = cell.set(cell.init_state(B), mu=mu, accum_reward=accum, n_ep_steps=steps)
    expected = jit(cell.end_episode, state, done=done)
    out = batched(functional.end_episode, in_axes=(0, 0, 0, None, 0))(mu, accum, steps[:, 0], 5.0, done)
    close(out, (expected.mu, expected.accum_reward, expected.n_ep_steps[:, 0]))


RATE_CONFIGS = [
    {"tau_m": 5.0, "prior": ("gaussian", 0.5), "act_fx": "tanh"},
    {"tau_m": 8.0, "prior": ("laplacian", 0.3), "act_fx": "sigmoid", "integration_type": "rk4",
     "threshold": ("soft_threshold", 0.1), "resist_scale": 2.0},
    {"tau_m": 3.0, "prior": ("cauchy", 1.0), "act_fx": "relu", "integration_type": "heun",
     "threshold": ("cauchy_threshold", 0.05), "output_scale": 0.5},
    {"tau_m": 6.0, "prior": ("exp", 0.7), "act_fx": "sine", "integration_type": "ralston", "omega_0": 3.0},
    {"tau_m": 4.0, "act_fx": "gelu", "integration_type": "midpoint"},
    {"tau_m": 0.0, "act_fx": "elu", "threshold": ("soft_threshold", 0.5)},
]  # fmt: skip


@pytest.mark.parametrize("config", RATE_CONFIGS, ids=lambda c: f"{c['act_fx']}-{c['tau_m']}")
def test_rate_cell_step_is_the_cell_step(config):
    cell = RateCell("z", n_units=N, **config)
    z, j, j_td = rand(0, (B, N)), rand(1, (B, N)), rand(2, (B, N))
    state = cell_step(cell, dt=0.7, z=z, j=j, j_td=j_td)
    prior, gamma = config.get("prior", ("gaussian", 0.0))
    threshold, lam = config.get("threshold", ("none", 0.0))
    out = batched(
        lambda z, j, j_td: functional.rate_cell_step(
            z,
            j,
            j_td,
            0.7,
            config["tau_m"],
            gamma=gamma,
            prior=prior,
            act_fx=config["act_fx"],
            output_scale=config.get("output_scale", 1.0),
            threshold=threshold,
            threshold_lambda=lam,
            integration_type=config.get("integration_type", "euler"),
            resist_scale=config.get("resist_scale", 1.0),
            omega_0=config.get("omega_0", 30.0),
        )
    )(z, j, j_td)
    close(out, (state.z, state.zF))


@pytest.mark.parametrize("sigmas", [(0.2, 0.1), (0.0, 0.0)])
def test_leaky_noise_step_is_the_cell_step(sigmas):
    sigma_pre, sigma_post = sigmas
    cell = LeakyNoiseCell(
        "x", n_units=N, tau_x=10.0, act_fx="tanh", output_scale=1.5, integration_type="midpoint",
        sigma_pre=sigma_pre, sigma_post=sigma_post, leak_scale=0.8,
    )  # fmt: skip
    x, j_input, j_recurrent = rand(0, (B, N)), rand(1, (B, N)), rand(2, (B, N))
    key = jax.random.key(5)
    state = cell_step(cell, dt=2.0, key=key, x=x, j_input=j_input, j_recurrent=j_recurrent)
    key_pre, key_post = jax.random.split(key)  # the cell's draws, made here
    draw = jax.jit(lambda k: noise.normal(k, (B, N)))
    eps_pre, eps_post = draw(key_pre), draw(key_post)
    out = batched(
        lambda *a: functional.leaky_noise_step(
            *a, sigma_pre=sigma_pre, sigma_post=sigma_post, leak_scale=0.8, output_scale=1.5,
            act_fx="tanh", integration_type="midpoint",
        ),
        in_axes=(0, 0, 0, None, None, 0, 0),
    )(x, j_input, j_recurrent, 2.0, 10.0, eps_pre, eps_post)  # fmt: skip
    close(out, (state.x, state.r, state.r_prime))


@pytest.mark.parametrize("per_unit", [False, True])
def test_gaussian_error_is_the_cell_step(per_unit):
    cell = GaussianErrorCell("e", n_units=N)
    sigma = rand(2, (1, N), 0.5, 2.0) if per_unit else np.full((1, 1), 0.7, np.float32)
    mu, target, modulator, mask = rand(0, (B, N)), rand(1, (B, N)), rand(3, (B, 1)), binary(4, (B, N))
    state = cell_step(cell, mu=mu, target=target, Sigma=sigma, modulator=modulator, mask=mask)
    kernel_sigma = sigma[0] if per_unit else sigma[0, 0]
    out = batched(functional.gaussian_error, in_axes=(0, 0, None, 0, 0))(
        mu, target, kernel_sigma, modulator, mask
    )
    close(
        (np.sum(out.L), out.dmu, out.dtarget, np.sum(out.dsigma, axis=0).reshape(sigma.shape)),
        (state.L, state.dmu, state.dtarget, state.dSigma),
    )


@pytest.mark.parametrize("per_unit", [False, True])
def test_laplacian_error_is_the_cell_step(per_unit):
    cell = LaplacianErrorCell("e", n_units=N)
    scale = rand(2, (1, N), 0.5, 2.0) if per_unit else np.full((1, 1), 1.3, np.float32)
    shift, target, modulator, mask = rand(0, (B, N)), rand(1, (B, N)), rand(3, (B, N)), binary(4, (B, N))
    state = cell_step(cell, shift=shift, target=target, Scale=scale, modulator=modulator, mask=mask)
    kernel_scale = scale[0] if per_unit else scale[0, 0]
    out = batched(functional.laplacian_error, in_axes=(0, 0, None, 0, 0))(
        shift, target, kernel_scale, modulator, mask
    )
    close(
        (np.sum(out.L), out.dshift, out.dtarget, np.sum(out.dscale, axis=0).reshape(scale.shape)),
        (state.L, state.dshift, state.dtarget, state.dScale),
    )


@pytest.mark.parametrize("input_logits", [True, False])
def test_bernoulli_error_is_the_cell_step(input_logits):
    cell = BernoulliErrorCell("a", n_units=N, input_logits=input_logits)
    p = rand(0, (B, N)) if input_logits else rand(0, (B, N), 0.0, 1.0)
    target, modulator, mask = binary(1, (B, N), 0.5), rand(3, (B, 1)), binary(4, (B, N))
    state = cell_step(cell, p=p, target=target, modulator=modulator, mask=mask)
    out = batched(lambda *a: functional.bernoulli_error(*a, input_logits=input_logits))(
        p, target, modulator, mask
    )
    close((np.sum(out.L), out.dp, out.dtarget), (state.L, state.dp, state.dtarget))


def test_categorical_error_is_the_cell_step():
    cell = CategoricalErrorCell("pi", n_units=N)
    logits = rand(0, (B, N))
    target = np.eye(N, dtype=np.float32)[[0, 2, 1, 2]]
    modulator, mask = rand(3, (B, 1)), f32([[1.0], [0.0], [1.0], [1.0]])
    state = cell_step(cell, logits=logits, target=target, modulator=modulator, mask=mask)
    out = batched(functional.categorical_error)(logits, target, modulator[:, 0], mask[:, 0])
    close((np.sum(out.L), out.dlogits), (state.L, state.dlogits))


def test_td_error_is_the_cell_step():
    cell = TDErrorCell("td", n_units=N, gamma=0.9)
    reward, value, next_value = rand(0, (B, N)), rand(1, (B, N)), rand(2, (B, N))
    done, modulator, mask = binary(3, (B, 1), 0.3), rand(4, (B, N)), binary(5, (B, N))
    state = cell_step(
        cell, reward=reward, value=value, next_value=next_value, done=done, modulator=modulator, mask=mask
    )
    out = batched(functional.td_error)(reward, 0.9 * (1.0 - done), value, next_value, modulator, mask)
    close((out.delta, np.sum(out.L), out.dvalue), (state.delta, state.L, state.dvalue))


# ------------------------------------------------------- vmap(kernel) == the rules' update
N_IN, N_OUT = 3, 2


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_hebbian_update_is_the_rule(reduce):
    pre, post = rand(0, (B, N_IN)), rand(1, (B, N_OUT))
    rule = hebbian(eta=0.3, reduce=reduce)
    dw, _ = jit(rule.update, rule.init(), pre, post)
    per_sample = batched(functional.hebbian_update, in_axes=(0, 0, None))(pre, post, 0.3)
    close(np.sum(per_sample, 0) if reduce == "sum" else np.mean(per_sample, 0), dw)


@pytest.mark.parametrize(
    "modulator", [rand(5, ()), rand(5, (B,)), rand(5, (B, 1)), rand(5, (1, N_OUT)), rand(5, (B, N_OUT))]
)
def test_three_factor_update_is_the_rule(modulator):
    pre, post = rand(0, (B, N_IN)), rand(1, (B, N_OUT))
    m = np.broadcast_to(modulator.reshape(B, 1) if modulator.shape == (B,) else modulator, (B, N_OUT))
    rule = three_factor(eta=0.3)
    dw, _ = jit(rule.update, rule.init(B, N_IN, N_OUT), pre, post, modulator)
    hebb = batched(functional.hebbian_update)(pre, post)
    close(np.sum(batched(functional.three_factor_update, in_axes=(0, 0, None))(hebb, m, 0.3), 0), dw)

    weights = rand(6, (N_IN, N_OUT))
    traced = three_factor(eta=0.3, tau_e=5.0, weight_decay=0.1)
    state = traced.init(B, N_IN, N_OUT)._replace(trace=rand(7, (B, N_IN, N_OUT)))
    dw, new_state = jit(traced.update, state, pre, post, modulator, dt=2.0, weights=weights)
    trace = batched(functional.eligibility_trace, in_axes=(0, 0, 0, None, None))(
        state.trace, pre, post, 2.0, 5.0
    )
    per_sample = batched(functional.three_factor_update, in_axes=(0, 0, None))(trace, m, 0.3)
    close((trace, np.sum(per_sample, 0) - 0.3 * 0.1 * weights), (new_state.trace, dw))


def test_node_perturbation_kernels_are_the_rules():
    pre, xi, x = rand(0, (B, N_IN)), rand(1, (B, N_OUT)), rand(2, (B, N_OUT))
    performance, baseline = rand(3, (B,)), rand(4, (B, 1))
    rule = node_perturbation(eta=0.2)
    state = rule.init(B, N_IN, N_OUT)._replace(eligibility=rand(5, (B, N_IN, N_OUT)))
    accumulated = jit(rule.accumulate, state, pre, xi)
    e = batched(functional.node_perturbation_eligibility)(state.eligibility, pre, xi)
    close(e, accumulated.eligibility)
    dw, _ = jit(rule.update, accumulated, performance, baseline)
    update = batched(functional.node_perturbation_update, in_axes=(0, 0, 0, None))
    close(np.sum(update(e, performance, baseline[:, 0], 0.2), 0), dw)

    miconi = supralinear_node_perturbation(eta=0.2, alpha_x=0.1)
    state = state._replace(x_bar=rand(6, (B, N_OUT)))
    accumulated = jit(miconi.accumulate, state, pre, x)
    step = batched(functional.supralinear_eligibility, in_axes=(0, 0, 0, 0, None))
    out = step(state.eligibility, state.x_bar, pre, x, 0.1)
    close(out, (accumulated.eligibility, accumulated.x_bar))
    pre_seq, x_seq = rand(7, (5, B, N_IN)), rand(8, (5, B, N_OUT))
    trial = jit(miconi.accumulate_trial, state, pre_seq, x_seq)
    kernel_trial = batched(functional.supralinear_eligibility_trial, in_axes=(0, 0, 1, 1, None))
    close(kernel_trial(state.eligibility, state.x_bar, pre_seq, x_seq, 0.1), (trial.eligibility, trial.x_bar))
    dw, _ = jit(miconi.update, accumulated, performance, baseline)
    per_sample = batched(
        lambda *a: functional.node_perturbation_update(*a, signal="error"), in_axes=(0, 0, 0, None)
    )
    close(np.sum(per_sample(out.eligibility, performance, baseline[:, 0], 0.2), 0), dw)


# ------------------------------------------------- jit with a traced (vmapped) hyperparameter
V, V_IN = rand(10, N), rand(11, N_IN)
E = rand(12, (N_IN, N))
SEQ_IN, SEQ = rand(13, (4, N_IN)), rand(14, (4, N))
TRACED = {
    "ema": (lambda a: functional.ema(V, V_IN[0], a), [0.0, 0.3, 1.0]),
    "reward_prediction_error": (lambda a: functional.reward_prediction_error(V, V_IN[0], a), [0.0, 0.3, 1.0]),
    "end_episode": (lambda w: functional.end_episode(V, 2.0 * V, 3.0, w), [1.0, 4.0, 10.0]),
    "td_error": (lambda d: functional.td_error(V, d, V_IN[0], E[0]), [0.0, 0.5, 0.99]),
    "gaussian_error": (lambda s: functional.gaussian_error(V, E[0], s), [0.5, 1.0, 2.0]),
    "laplacian_error": (lambda s: functional.laplacian_error(V, E[0], s, mask=E[1] > 0), [0.5, 1.0, 2.0]),
    "bernoulli_error": (
        lambda m: functional.bernoulli_error(V, E[0] > 0, m, input_logits=True),
        [-1.0, 0.5, 2.0],
    ),
    "categorical_error": (lambda m: functional.categorical_error(V, np.eye(N)[1], m), [-1.0, 0.5, 2.0]),
    "rate_cell_step-tau_m": (
        lambda t: functional.rate_cell_step(V, E[0], E[1], 0.5, t, gamma=0.3, act_fx="tanh"),
        [-1.0, 5.0, 20.0],
    ),
    "rate_cell_step-gamma": (
        lambda g: functional.rate_cell_step(
            V, E[0], E[1], 0.5, 5.0, gamma=g, prior="cauchy", integration_type="rk4"
        ),
        [0.0, 0.5, 2.0],
    ),
    "leaky_noise_step-tau_x": (
        lambda t: functional.leaky_noise_step(V, E[0], E[1], 1.0, t, E[2]),
        [2.0, 10.0, 30.0],
    ),
    "leaky_noise_step-sigma": (
        lambda s: functional.leaky_noise_step(V, E[0], E[1], 1.0, 10.0, E[2], V, sigma_pre=s, sigma_post=s),
        [0.0, 0.1, 1.0],
    ),
    "hebbian_update": (lambda eta: functional.hebbian_update(V_IN, V, eta), [0.0, 0.1, 1.0]),
    "eligibility_trace": (lambda tau: functional.eligibility_trace(E, V_IN, V, 1.0, tau), [1.0, 5.0, 50.0]),
    "three_factor_update": (lambda m: functional.three_factor_update(E, m, 0.1), [-1.0, 0.5, 2.0]),
    "node_perturbation_eligibility": (
        lambda s: functional.node_perturbation_eligibility(E, s * V_IN, V),
        [0.0, 1.0, 2.0],
    ),
    "supralinear_eligibility": (
        lambda a: functional.supralinear_eligibility(E, V, V_IN, E[0], a),
        [0.05, 0.5, 1.0],
    ),
    "supralinear_eligibility_trial": (
        lambda a: functional.supralinear_eligibility_trial(E, V, SEQ_IN, SEQ, a),
        [0.05, 0.5, 1.0],
    ),
    "node_perturbation_update": (
        lambda eta: functional.node_perturbation_update(E, 1.0, V, eta),
        [0.0, 0.1, 1.0],
    ),
}


def test_every_kernel_is_covered():
    covered = {name.split("-")[0] for name in TRACED}
    kernels = {name for name in functional.__all__ if name[0].islower()}
    assert covered == kernels


@pytest.mark.parametrize("name", sorted(TRACED))
def test_kernel_under_jit_with_a_traced_hyperparameter(name):
    call, values = TRACED[name]
    jitted = jax.jit(jax.vmap(call))
    out = jitted(f32(values))
    one_by_one = jax.jit(call)  # the kernel with a traced scalar, one value at a time
    expected = jax.tree.map(lambda *leaves: np.stack(leaves), *(one_by_one(v) for v in values))
    close(out, expected, rtol=1e-5, atol=1e-5)
    jitted(f32(values) * 1.5)
    assert jitted._cache_size() == 1  # a new value does not recompile
