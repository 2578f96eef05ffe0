"""The per-example kernels of ``rpe.functional``: numbers worked by hand, closed forms and
finite differences, for one example and for a batch as the cells call them, and every kernel
under ``jax.jit`` with a traced hyperparameter. (The cells and rules call these kernels; their
own tests, ``test_*_cell.py``, ``test_error_cells.py`` and ``test_plasticity.py``, check them
against independent numbers too.)"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rpe import functional

B, N, N_IN = 4, 3, 3
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


def test_batch_and_trial_forms_of_the_rule_kernels_by_hand():
    pre, post = f32([[1.0, 2.0], [3.0, 0.0]]), f32([[1.0], [-1.0]])  # two samples (or steps)
    close(jit(functional.hebbian_update, pre, post, eta=0.5), [[0.5 * (1 - 3)], [0.5 * (2 + 0)]])
    e = np.ones((2, 1), np.float32)
    close(jit(functional.node_perturbation_eligibility, e, pre, post), [[1 + 1 - 3], [1 + 2 + 0]])


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


# ------------------------------------------- a batch, as the cells call them: closed forms
# The cells call the elementwise kernels on their (batch_size, n_units) compartments; these
# check that call against numbers computed here in float64 NumPy.
ORDER = {"euler": 1, "rk1": 1, "midpoint": 2, "rk2": 2, "heun": 2, "ralston": 2, "rk4": 4}


def taylor_exp(x, order):
    """1 + x + ... + x^order / order!: one step of an explicit Runge-Kutta scheme of that
    order (and as many stages) on the linear ODE dz/ds = -z."""
    return sum(x**k / math.factorial(k) for k in range(order + 1))


def f64(*arrays):
    return [np.asarray(a, np.float64) for a in arrays]


@pytest.mark.parametrize("integration_type", sorted(ORDER))
def test_rate_and_leaky_steps_are_each_integrator_on_their_linear_ode(integration_type):
    """tau dz/dt = a (z_inf - z) with a constant: one step is z_inf + (z - z_inf) P(-a dt / tau),
    P the Taylor polynomial of exp to the integrator's order."""
    order, dt = ORDER[integration_type], 1.5
    z, j, j_td = rand(0, (B, N)), rand(1, (B, N)), rand(2, (B, N))
    # RateCell, gaussian prior, identity: tau dz/dt = -gamma z + resist j + j_td.
    gamma, tau_m, resist, scale = 0.8, 6.0, 2.0, 0.5
    out = jit(
        functional.rate_cell_step, z, j, j_td, dt, tau_m=tau_m, gamma=gamma, resist_scale=resist,
        output_scale=scale, integration_type=integration_type,
    )  # fmt: skip
    z0, j0, j_td0 = f64(z, j, j_td)
    z_inf = (resist * j0 + j_td0) / gamma
    z1 = z_inf + (z0 - z_inf) * taylor_exp(-gamma * dt / tau_m, order)
    close(out, (z1, scale * z1))
    # LeakyNoiseCell, tanh: tau dx/dt = -leak x + j_input + j_recurrent, then the noise.
    leak, tau_x, sigma_pre, sigma_post = 0.7, 5.0, 0.3, 0.2
    eps_pre, eps_post = rand(3, (B, N)), rand(4, (B, N))
    out = jit(
        functional.leaky_noise_step, z, j, j_td, dt, tau_x, eps_pre, eps_post, sigma_pre=sigma_pre,
        sigma_post=sigma_post, leak_scale=leak, output_scale=scale, act_fx="tanh",
        integration_type=integration_type,
    )  # fmt: skip
    x_inf = (j0 + j_td0) / leak
    x1 = x_inf + (z0 - x_inf) * taylor_exp(-leak * dt / tau_x, order)
    x1 = x1 + math.sqrt(2 * dt / tau_x) * sigma_pre * np.float64(eps_pre)
    r = scale * np.tanh(x1) + sigma_post * np.float64(eps_post)
    close(out, (x1, r, scale * (1 - np.tanh(x1) ** 2)))


def soft_threshold(z, lam):
    return np.maximum(z - lam, 0.0) - np.maximum(-z - lam, 0.0)


def cauchy_threshold(z, lam):
    s = np.sqrt(np.maximum(z * z - lam, 0.0))
    return np.where(z >= lam, 0.5 * (z + s), 0.0) + np.where(z <= -lam, 0.5 * (z - s), 0.0)


PRIOR_PHI = {
    "gaussian": lambda z: z,
    "laplacian": np.sign,
    "cauchy": lambda z: 2 * z / (1 + z * z),
    "exp": lambda z: 2 * z * np.exp(-z * z),
}
THRESHOLD_CASES = {
    "gaussian": ("none", 0.0, lambda z, lam: z),
    "laplacian": ("soft_threshold", 0.1, soft_threshold),
    "cauchy": ("cauchy_threshold", 0.05, cauchy_threshold),
    "exp": ("soft_threshold", 0.3, soft_threshold),
}


@pytest.mark.parametrize("prior", sorted(PRIOR_PHI))
def test_rate_cell_step_with_each_prior_and_threshold_by_hand(prior):
    """One Euler step of tau dz/dt = -gamma phi(z) + j f'(z) resist + j_td, the threshold, then
    zF = scale f(z), with f the sigmoid; phi and the thresholds from their tables."""
    threshold, lam, shrink = THRESHOLD_CASES[prior]
    z, j, j_td = rand(0, (B, N)), rand(1, (B, N)), rand(2, (B, N))
    gamma, tau_m, dt, resist, scale = 0.6, 4.0, 0.5, 1.5, 2.0
    out = jit(
        functional.rate_cell_step, z, j, j_td, dt, tau_m=tau_m, gamma=gamma, prior=prior, act_fx="sigmoid",
        output_scale=scale, threshold=threshold, threshold_lambda=lam, resist_scale=resist,
    )  # fmt: skip
    z0, j0, j_td0 = f64(z, j, j_td)
    s0 = 1 / (1 + np.exp(-z0))
    z1 = shrink(z0 + dt / tau_m * (-gamma * PRIOR_PHI[prior](z0) + j0 * s0 * (1 - s0) * resist + j_td0), lam)
    close(out, (z1, scale / (1 + np.exp(-z1))), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("tau_m", [-1.0, 0.0, 5.0])
def test_rate_cell_step_takes_the_same_branch_for_a_concrete_and_a_traced_tau_m(tau_m):
    """A concrete tau_m (a keyword here, as a cell's float) picks the branch while tracing; a
    traced one computes both."""
    z, j, j_td = rand(0, N), rand(1, N), rand(2, N)
    kwargs = {"gamma": 0.5, "act_fx": "tanh", "threshold": "soft_threshold", "threshold_lambda": 0.1}
    concrete = jit(functional.rate_cell_step, z, j, j_td, 1.0, tau_m=tau_m, **kwargs)
    traced = jax.jit(lambda t: functional.rate_cell_step(z, j, j_td, 1.0, t, **kwargs))(np.float32(tau_m))
    close(concrete, traced)
    if tau_m <= 0.0:  # stateless: z = j + j_td, no threshold
        close(concrete.z, j + j_td)


def test_leaky_noise_step_without_draws_is_a_zero_draw():
    x, j_input, j_recurrent = rand(0, N), rand(1, N), rand(2, N)
    kwargs = {"sigma_pre": 0.5, "sigma_post": 0.5, "act_fx": "tanh"}
    none = jit(functional.leaky_noise_step, x, j_input, j_recurrent, 1.0, 4.0, None, None, **kwargs)
    zeros = np.zeros(N, np.float32)
    close(none, jit(functional.leaky_noise_step, x, j_input, j_recurrent, 1.0, 4.0, zeros, zeros, **kwargs))
    close(none.x, x + (j_input + j_recurrent - x) / 4.0)


def test_reward_kernels_on_a_batch_by_hand():
    """RewardErrorCell's call: rows of rewards, ``n_ep_steps`` and ``done`` as (batch, 1)."""
    out = jit(
        functional.reward_prediction_error, f32([[1.0, 0.0], [2.0, -2.0]]), f32([[0.5, 0.5], [0.0, 1.0]]), 0.5
    )
    close(out, ([[0.5, -0.5], [2.0, -3.0]], [[0.75, 0.25], [1.0, -0.5]]))
    mu, accum = f32([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]), f32([[4.0, 0.0], [4.0, 0.0], [4.0, 0.0]])
    steps, done = f32([[2.0], [0.0], [2.0]]), np.asarray([[True], [True], [False]])
    out = jit(functional.end_episode, mu, accum, steps, 2.0, done)  # W = 2: mu <- (mu + mean reward) / 2
    close(
        out,
        ([[1.5, 1.0], [1.0, 2.0], [1.0, 2.0]], [[0.0, 0.0], [0.0, 0.0], [4.0, 0.0]], [[0.0], [0.0], [2.0]]),
    )


def weighted_log_likelihood(log_likelihood, gate):
    """``sum(gate * log_likelihood(x))``: its derivative is the gated ``d*`` summed over entries."""
    return lambda x: np.sum(gate * log_likelihood(x))


@pytest.mark.parametrize("per_unit", [False, True])
def test_gaussian_and_laplacian_on_a_batch_sum_L_and_the_scale_derivative(per_unit):
    """A batch with a shared (1, 1) or per-unit (1, n_units) scale: ``L`` sums over the batch,
    ``dsigma`` / ``dscale`` are the gated derivatives summed to the scale's shape."""
    shape = (1, N) if per_unit else (1, 1)
    mu, target, scale = rand(0, (B, N)), rand(1, (B, N)), rand(2, shape, 0.5, 2.0)
    modulator, mask = rand(3, (B, 1)), binary(4, (B, N))
    m, t, s, g, k = f64(mu, target, scale, modulator, mask)
    e, gate = t - m, g * k

    out = jit(functional.gaussian_error, mu, target, scale, modulator, mask)
    np.testing.assert_allclose(out.L, -0.5 * np.sum(k * e * e / s), rtol=1e-5)
    close((out.dmu, out.dtarget), (gate * e / s, -gate * e / s))
    assert out.dsigma.shape == shape
    gaussian = weighted_log_likelihood(lambda x: -0.5 * (e * e / x + np.log(x)), gate)
    for i in range(s.size):
        np.testing.assert_allclose(
            np.ravel(out.dsigma)[i], central_difference(gaussian, s, i), rtol=1e-4, atol=1e-5
        )

    out = jit(functional.laplacian_error, mu, target, scale, modulator, mask)
    np.testing.assert_allclose(out.L, -np.sum(k * np.abs(e) / s), rtol=1e-5)
    close((out.dshift, out.dtarget), (gate * np.sign(e) / s, -gate * np.sign(e) / s))
    assert out.dscale.shape == shape
    laplace = weighted_log_likelihood(lambda x: -(np.abs(e) / x + np.log(x)), gate)
    for i in range(s.size):
        np.testing.assert_allclose(
            np.ravel(out.dscale)[i], central_difference(laplace, s, i), rtol=1e-4, atol=1e-5
        )


@pytest.mark.parametrize("input_logits", [True, False])
def test_bernoulli_error_on_a_batch(input_logits):
    p = rand(0, (B, N)) if input_logits else rand(0, (B, N), 0.05, 0.95)
    target, modulator, mask = binary(1, (B, N), 0.5), rand(3, (B, 1)), binary(4, (B, N))
    out = jit(functional.bernoulli_error, p, target, modulator, mask, input_logits=input_logits)
    p0, t, g, k = f64(p, target, modulator, mask)
    q = 1 / (1 + np.exp(-p0)) if input_logits else p0
    np.testing.assert_allclose(out.L, np.sum(k * (t * np.log(q) + (1 - t) * np.log(1 - q))), rtol=1e-5)
    raw_dp = t - q if input_logits else t / q - (1 - t) / (1 - q)
    close((out.dp, out.dtarget), (g * k * raw_dp, g * k * np.log(q / (1 - q))), rtol=1e-5, atol=1e-5)


def test_categorical_error_on_a_batch_takes_a_softmax_per_row():
    logits, target = rand(0, (B, N)), np.eye(N, dtype=np.float32)[[0, 2, 1, 2]]
    modulator, mask = rand(3, (B, 1)), f32([[1.0], [0.0], [1.0], [1.0]])
    out = jit(functional.categorical_error, logits, target, modulator, mask)
    x, t, g, k = f64(logits, target, modulator, mask)
    pi = np.exp(x) / np.sum(np.exp(x), axis=1, keepdims=True)
    np.testing.assert_allclose(out.L, np.sum(k * t * np.log(pi)), rtol=1e-5)
    close(out.dlogits, g * k * (t - pi))


def test_td_error_on_a_batch_with_a_mask_and_a_modulator():
    r, v, v_next = rand(0, (B, N)), rand(1, (B, N)), rand(2, (B, N))
    discount, modulator, mask = 0.9 * (1 - binary(3, (B, 1), 0.3)), rand(4, (B, N)), binary(5, (B, N))
    out = jit(functional.td_error, r, discount, v, v_next, modulator, mask)
    r0, d, v0, v1, g, k = f64(r, discount, v, v_next, modulator, mask)
    delta = r0 + d * v1 - v0
    close(out, (delta, -0.5 * np.sum(k * delta * delta), g * k * delta))


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
    "adaptive_step": (
        lambda b1: functional.adaptive_step(E, E, E * E, 3.0, 0.1, b1),
        [0.0, 0.5, 0.9],
    ),
}


def test_adaptive_step_two_hand_worked_steps():
    # g1 = 2: m = 0.2, v = 0.004; m_hat = 0.2 / 0.1 = 2, v_hat = 0.004 / 0.001 = 4: dw = eta 2 / 2
    first = functional.adaptive_step(f32([2.0]), f32([0.0]), f32([0.0]), 1.0, 0.5, 0.9, 0.999, 0.0)
    close(first, (f32([0.5]), f32([0.2]), f32([0.004])), rtol=1e-5)
    # g2 = -1: m = 0.18 - 0.1 = 0.08, v = 0.003996 + 0.001 = 0.004996;
    # m_hat = 0.08 / 0.19, v_hat = 0.004996 / (1 - 0.999^2) = 0.004996 / 0.001999
    second = functional.adaptive_step(f32([-1.0]), first.m, first.v, 2.0, 0.5, 0.9, 0.999, 0.0)
    expected = 0.5 * (0.08 / 0.19) / np.sqrt(0.004996 / 0.001999)
    close(second.dw, f32([expected]), rtol=1e-4)
    # The step's size does not depend on the scale of the update (per-synapse normalisation).
    big = functional.adaptive_step(f32([2000.0]), f32([0.0]), f32([0.0]), 1.0, 0.5, 0.9, 0.999, 0.0)
    close(big.dw, f32([0.5]), rtol=1e-5)


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
