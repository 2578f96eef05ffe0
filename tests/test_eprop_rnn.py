"""The ``eprop-rnn`` agent: its local rules against plain numpy loops, its traces against their
closed forms, both training paths, learning, and the train command."""

from __future__ import annotations

import importlib.util
import inspect
import pathlib
import re
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents import eprop_rnn as module
from agents.contract import Transition
from agents.env_spec import make_env_spec
from agents.eprop_rnn import (
    EpropRNNConfig,
    eprop_eligibility,
    eprop_rnn,
    filtered_trace,
    rflo_eligibility,
    trial_correct,
)
from agents.jit_training import make_train, python_loop_train
from envs.perceptual_decision import PerceptualDecision

ROOT = pathlib.Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------- eligibility traces
def test_eprop_eligibility_by_hand_two_units_three_steps():
    # a = dt / tau_x = 0.5; pre r_0 = (1, 0), r_1 = (0, 1), r_2 = (1, 1).
    eps = jnp.zeros(2)
    for pre in ((1.0, 0.0), (0.0, 1.0), (1.0, 1.0)):
        eps = eprop_eligibility(eps, jnp.asarray(pre), 10.0, 20.0)
    # (0.5, 0) -> (0.25, 0.5) -> (0.125 + 0.5, 0.25 + 0.5)
    np.testing.assert_allclose(eps, [0.625, 0.75], rtol=1e-6)


def test_eprop_eligibility_matches_its_closed_form_for_a_constant_input():
    dt, tau, pre = 2.0, 30.0, jnp.asarray([0.3, -1.2, 2.0])
    eps = jnp.zeros(3)
    for t in range(1, 41):
        eps = jax.jit(eprop_eligibility)(eps, pre, dt, tau)
        np.testing.assert_allclose(eps, pre * (1.0 - (1.0 - dt / tau) ** t), rtol=1e-5, atol=1e-7)


def test_rflo_eligibility_by_hand_two_units_three_steps():
    # p_ij <- (1 - a) p_ij + a pre_i r'_j with a = 0.5 (pre by post).
    p = jnp.zeros((2, 2))
    steps = [((1.0, 0.0), (0.5, 1.0)), ((0.0, 2.0), (1.0, 1.0)), ((1.0, 1.0), (0.0, 0.5))]
    for pre, r_prime in steps:
        p = rflo_eligibility(p, jnp.asarray(pre), jnp.asarray(r_prime), 10.0, 20.0)
    # step 1: [[.25, .5], [0, 0]]; step 2: [[.125, .25], [1, 1]]; step 3: [[.0625, .375], [.5, .75]]
    np.testing.assert_allclose(p, [[0.0625, 0.375], [0.5, 0.75]], rtol=1e-6)


def test_rflo_eligibility_matches_its_closed_form_for_constant_activity():
    dt, tau = 1.0, 10.0
    pre, r_prime = jnp.asarray([1.0, -0.5]), jnp.asarray([0.2, 0.9, 0.4])
    p = jnp.zeros((2, 3))
    for _ in range(30):
        p = rflo_eligibility(p, pre, r_prime, dt, tau)
    np.testing.assert_allclose(p, np.outer(pre, r_prime) * (1 - (1 - dt / tau) ** 30), rtol=1e-5)


def test_filtered_trace_of_a_vector_eligibility_is_an_outer_product():
    z = filtered_trace(jnp.ones((2, 3)), jnp.asarray([1.0, 2.0]), jnp.asarray([0.0, 1.0, -1.0]), 0.5)
    np.testing.assert_allclose(z, [[0.5, 1.5, -0.5], [0.5, 2.5, -1.5]])


# ------------------------------------------------------------- a whole step, against numpy
TWO_UNITS = {
    "recurrent": np.array([[0.5, -0.3], [0.2, 0.1]]),
    "inputs": np.array([[1.0, -0.5], [0.2, 0.3]]),  # (K = obs 1 + bias, N)
    "readout": np.array([[0.4], [-0.6], [0.1]]),  # (N + 1, A)
    "value": np.array([0.3, 0.2, -0.1]),
    "feedback": np.array([[1.0, -2.0]]),
    "value_feedback": np.array([0.5, 1.0]),
}
OBS = [0.8, -0.4, 0.6]
ACTIONS = [0.3, -0.2, 0.5]
REWARDS = [0.0, -0.5, 1.0]


def _one_input_spec():
    env = PerceptualDecision(dt=10.0, stimulus_ms=10.0, delay_ms=0.0, response_ms=20.0)
    spec = make_env_spec("PerceptualDecision-v0")
    from gymnasium import spaces

    return spec._replace(observation_space=spaces.Box(-np.inf, np.inf, (1,), np.float32), jax_env=env)


def _numpy_reference(cfg: EpropRNNConfig, n_steps: int, horizon: int):
    """The agent's three steps by hand: plain numpy, one trial, every update as documented."""
    w = {k: v.astype(np.float64).copy() for k, v in TWO_UNITS.items()}
    a = 10.0 / cfg.tau_x
    x, r, eps, eps_in = np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2)
    z = {
        "recurrent": np.zeros((2, 2)),
        "inputs": np.zeros((2, 2)),
        "readout": np.zeros((3, 1)),
        "value": np.zeros(3),
    }
    etas = {"recurrent": cfg.eta_rec, "inputs": cfg.eta_in, "readout": cfg.eta_out, "value": cfg.eta_value}
    decay = 1.0 if cfg.critic == "episodic" else np.exp(-10.0 / cfg.tau_e)
    mu = np.zeros(horizon if cfg.critic == "online" else 1)
    pending, prev_r, prev_v, total = False, 0.0, 0.0, 0.0

    def apply(gain, traces):
        for k in etas:
            w[k] += np.clip(etas[k] * gain * traces[k], -cfg.max_dw, cfg.max_dw)

    for t in range(n_steps):
        u = np.array([OBS[t], 1.0])
        x = (1 - a) * x + a * (u @ w["inputs"] + r @ w["recurrent"])
        eps, eps_in = (1 - a) * eps + a * r, (1 - a) * eps_in + a * u
        r = np.tanh(x)
        r_prime = 1 - r**2
        h = np.append(r, 1.0)
        y, v = h @ w["readout"], h @ w["value"]
        score = (ACTIONS[t] - y) / cfg.sigma**2
        if cfg.feedback == "symmetric":  # B = W_out[:N]^T, B_V = w_V[:N]
            signal = score @ w["readout"][:2].T + cfg.value_signal * w["value"][:2]
        else:
            signal = score @ w["feedback"] + cfg.value_signal * w["value_feedback"]
        old = {k: z[k].copy() for k in z}
        z["recurrent"] = decay * z["recurrent"] + np.outer(eps, r_prime * signal)
        z["inputs"] = decay * z["inputs"] + np.outer(eps_in, r_prime * signal)
        z["readout"] = decay * z["readout"] + np.outer(h, score)
        z["value"] = decay * z["value"] + h
        reward, last = REWARDS[t], t == n_steps - 1
        if cfg.critic == "td":
            if pending:
                apply(prev_r + cfg.gamma * v - prev_v, old)
            if last:  # terminated
                apply(reward - v, z)
            pending, prev_r, prev_v = True, reward, v
        elif cfg.critic == "online":
            apply(reward - mu[t], z)
            mu[t] = (1 - cfg.baseline_alpha) * mu[t] + cfg.baseline_alpha * reward
        else:
            total += reward
            if last:
                apply(total - n_steps * mu[0], z)
                mu[0] = (1 - 1 / cfg.baseline_window) * mu[0] + total / n_steps / cfg.baseline_window
    return w, mu


def _agent_steps(cfg: EpropRNNConfig, n_steps: int, jit: bool):
    agent = eprop_rnn(_one_input_spec(), cfg)
    state = agent.init(jax.random.key(0), cfg.numeric_values())
    state = state._replace(**{k: jnp.asarray(v, jnp.float32) for k, v in TWO_UNITS.items()})
    act = jax.jit(agent.greedy) if jit else agent.greedy
    observe = jax.jit(agent.observe) if jit else agent.observe
    carry = agent.begin(state, 1)
    for t in range(n_steps):
        obs = jnp.asarray([[OBS[t]]], jnp.float32)
        _, carry = act(state, carry, obs)
        last = float(t == n_steps - 1)
        tr = Transition(
            obs, jnp.asarray([[ACTIONS[t]]]), jnp.asarray([REWARDS[t]]), obs,
            jnp.asarray([last]), jnp.asarray([0.0]), jnp.asarray([1.0]),
        )  # fmt: skip
        state, carry = observe(state, carry, tr)
    return state


@pytest.mark.parametrize(
    ("critic", "feedback"),
    [
        ("td", "random"),
        ("online", "random"),
        ("episodic", "random"),
        ("td", "symmetric"),
        ("online", "symmetric"),
    ],
)
@pytest.mark.parametrize("jit", [False, True])
def test_eprop_updates_match_a_numpy_loop_on_a_two_unit_net(critic, feedback, jit):
    cfg = EpropRNNConfig(
        n_units=2, critic=critic, feedback=feedback, per_condition=False, tau_x=20.0, tau_e=30.0, sigma=0.5,
        eta_rec=0.1, eta_in=0.05, eta_out=0.2, eta_value=0.1, value_signal=0.5, gamma=0.9,
        baseline_alpha=0.3, baseline_window=4.0, max_dw=10.0, step_ms=10.0,
    )  # fmt: skip
    state = _agent_steps(cfg, 3, jit)
    want, mu = _numpy_reference(cfg, 3, horizon=state.baseline.shape[0])
    for name, value in want.items():
        np.testing.assert_allclose(getattr(state, name), value, rtol=2e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(state.baseline, mu, rtol=1e-5, atol=1e-7)


def test_rflo_on_a_two_unit_net_matches_numpy():
    cfg = EpropRNNConfig(
        n_units=2, rule="rflo", critic="online", tau_x=20.0, tau_e=30.0, sigma=0.5, eta_rec=0.1,
        eta_in=0.05, eta_out=0.2, baseline_alpha=0.3, max_dw=10.0, step_ms=10.0,
    )  # fmt: skip
    state = _agent_steps(cfg, 3, jit=True)
    # numpy: RFLO's p replaces eps (x) r'.
    w = {k: v.astype(np.float64).copy() for k, v in TWO_UNITS.items()}
    a, decay, mu = 0.5, np.exp(-10.0 / 30.0), np.zeros(state.baseline.shape[0])
    x, r = np.zeros(2), np.zeros(2)
    p, p_in = np.zeros((2, 2)), np.zeros((2, 2))
    z = {"recurrent": np.zeros((2, 2)), "inputs": np.zeros((2, 2)), "readout": np.zeros((3, 1))}
    for t in range(3):
        u = np.array([OBS[t], 1.0])
        x = (1 - a) * x + a * (u @ w["inputs"] + r @ w["recurrent"])
        r_new = np.tanh(x)
        r_prime = 1 - r_new**2
        p = (1 - a) * p + a * np.outer(r, r_prime)
        p_in = (1 - a) * p_in + a * np.outer(u, r_prime)
        r = r_new
        h = np.append(r, 1.0)
        score = (ACTIONS[t] - h @ w["readout"]) / 0.25
        signal = score @ w["feedback"]
        z["recurrent"] = decay * z["recurrent"] + p * signal
        z["inputs"] = decay * z["inputs"] + p_in * signal
        z["readout"] = decay * z["readout"] + np.outer(h, score)
        rpe = REWARDS[t] - mu[t]
        w["recurrent"] += 0.1 * rpe * z["recurrent"]
        w["inputs"] += 0.05 * rpe * z["inputs"]
        w["readout"] += 0.2 * rpe * z["readout"]
        mu[t] = 0.7 * mu[t] + 0.3 * REWARDS[t]
    for name in ("recurrent", "inputs", "readout"):
        np.testing.assert_allclose(getattr(state, name), w[name], rtol=2e-5, atol=1e-6, err_msg=name)


def test_no_autodiff_in_the_agent():
    source = inspect.getsource(module)
    assert not re.search(r"\b(grad|value_and_grad|vjp|jvp|jacrev|jacfwd)\b", source)


def _tiny_spec():
    """A three-step trial: one stimulus step, two response steps."""
    env = PerceptualDecision(dt=10.0, stimulus_ms=10.0, delay_ms=0.0, response_ms=20.0)
    return make_env_spec("PerceptualDecision-v0")._replace(jax_env=env, horizon=env.max_episode_steps)


def test_jitted_and_python_loops_learn_the_same():
    agent = eprop_rnn(_tiny_spec(), EpropRNNConfig(n_units=8, eta_rec=0.01, eta_out=0.05))
    state = agent.init(jax.random.key(0), agent.config.numeric_values())
    fused, _ = jax.jit(make_train(agent, 2, 2))(state, jax.random.key(3))
    looped, _ = python_loop_train(agent, state, jax.random.key(3), 2, 2)
    for a, b in zip(jax.tree.leaves(fused), jax.tree.leaves(looped), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_vmap_over_a_population_and_no_recompile():
    agent = eprop_rnn(_tiny_spec(), EpropRNNConfig(n_units=8))
    hp = agent.config.numeric_values()
    states = jax.vmap(lambda k: agent.init(k, hp))(jax.random.split(jax.random.key(0), 3))
    train = jax.jit(jax.vmap(make_train(agent, 2, 1, stop_early=False)))
    out, _ = train(states, jax.random.split(jax.random.key(1), 3))
    assert out.recurrent.shape == (3, 8, 8)
    train(out, jax.random.split(jax.random.key(2), 3))
    assert train._cache_size() == 1


def test_rejects_spaces_it_cannot_act_in():
    spec = make_env_spec("PerceptualDecision-v0")
    from gymnasium import spaces

    with pytest.raises(ValueError, match="action space"):
        eprop_rnn(spec._replace(action_space=spaces.Box(-1, 1, (2,))))
    with pytest.raises(ValueError, match="step_ms"):
        eprop_rnn(spec, EpropRNNConfig(step_ms=-1.0))


# ----------------------------------------------------------------------------- learning
def test_learns_the_perceptual_decision_in_a_hundred_and_twenty_trials():
    # Seed 2 of the benchmark (its fastest): chance is 50%; 30 updates of 4 trials.
    agent = eprop_rnn(make_env_spec("PerceptualDecision-v0"))
    state = agent.init(jax.random.key(2), agent.config.numeric_values())
    before = float(trial_correct(agent, state, jax.random.key(10_002), 512))
    state, _ = jax.jit(make_train(agent, 4, 30))(state, jax.random.key(2))
    after = float(trial_correct(agent, state, jax.random.key(10_002), 512))
    assert after >= 0.8 > before + 0.2


@pytest.mark.slow
def test_learns_the_perceptual_decision_within_two_thousand_trials():
    agent = eprop_rnn(make_env_spec("PerceptualDecision-v0"))
    state = agent.init(jax.random.key(0), agent.config.numeric_values())
    train = jax.jit(make_train(agent, 4, 25))
    best = 0.0
    for call in range(20):
        state, _ = train(state, jax.random.key(1), 25 * call)
        best = max(best, float(trial_correct(agent, state, jax.random.key(9), 512)))
    assert best >= 0.9


# ------------------------------------------------------------------------ the train command
def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # its dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_train_command_runs_eprop_rnn(tmp_path):
    train = _script("train")
    out = tmp_path / "run"
    train.main(
        ["--env", "PerceptualDecision-v0", "--agent", "eprop-rnn", "--episodes", "32", "--out", str(out)]
    )
    rows = (out / "metrics.csv").read_text().splitlines()
    assert len(rows) == 33 and "mean_abs_rpe" in rows[0]


@pytest.mark.slow
def test_tuned_defaults_learn_the_delayed_non_match(tmp_path):
    # The DelayedNonMatch-v0 table (symmetric e-prop, 200 units): seed 2 of the benchmark
    # reaches 95% at 280 trials; chance is 50% (the task is an XOR over a delay).
    bench = _script("benchmark_cognitive")
    run = bench.trials_to_criterion(None, "DelayedNonMatch-v0", 2, 1000, 0.95, out=str(tmp_path))
    assert run["solved_at"] is not None
