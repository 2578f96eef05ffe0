"""The JAX-native cognitive tasks (delayed non-match-to-sample, context-dependent integration,
perceptual decision) and CartPole with hidden velocities: hand-worked trials, neurogym's
``info`` keys, the jitted twin against the Gymnasium form, and ``vmap`` over params and keys."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from envs import (
    JAX_ENVS,
    CartPole,
    CartPoleNoVelocity,
    ContextIntegration,
    ContextIntegrationParams,
    ContextIntegrationState,
    DelayedNonMatch,
    DelayedNonMatchParams,
    DelayedNonMatchState,
    PerceptualDecision,
    PerceptualDecisionParams,
    env_reset,
    env_step,
    make,
)
from envs.context_integration import COLOUR, MOTION
from envs.gym_ids import check_env_id

TRIAL_TASKS = {  # noise off, and long steps to keep the Python loop short
    "DelayedNonMatch-v0": {"dt": 40.0},
    "ContextIntegration-v0": {"evidence_noise": 0.0, "dt": 50.0},
    "PerceptualDecision-v0": {"evidence_noise": 0.0, "dt": 10.0},
}


def run_trial(task, state, z_t, params=None):
    """One trial's pure steps from ``state`` with actions ``z_t (trial_steps,)``: the final
    state, and per step the reward, ``terminal`` and ``transition_info``."""

    def step(s, z):
        action = jnp.reshape(z, (1,))
        nxt = task.transition(s, action, None, params)
        info = task.transition_info(s, action, nxt, params)
        return nxt, (task.reward(s, action, nxt, None, params), task.terminal(nxt), info)

    return jax.lax.scan(step, state, jnp.asarray(z_t, jnp.float32))


def dnms_state(first, second):
    return DelayedNonMatchState(jnp.asarray(0), jnp.asarray([first, second]), jnp.asarray(0.0))


# ---------------------------------------------------------------- delayed non-match
def test_dnms_timeline_follows_miconi():
    task = DelayedNonMatch()
    assert (task.dt, task.stimulus_steps, task.second_start) == (10.0, 20, 40)
    assert (task.response_start, task.trial_steps, task.max_episode_steps) == (80, 100, 101)
    assert task.observation_space.shape == (3,) and task.action_space == gym.spaces.Box(-1, 1, (1,))
    obs = np.asarray(jax.vmap(lambda t: task.observation(dnms_state(0, 1)._replace(time=t)))(jnp.arange(100)))
    np.testing.assert_array_equal(obs[:20], np.tile([1.0, 0.0, 1.0], (20, 1)))  # A, bias
    np.testing.assert_array_equal(obs[20:40], np.tile([0.0, 0.0, 1.0], (20, 1)))
    np.testing.assert_array_equal(obs[40:60], np.tile([0.0, 1.0, 1.0], (20, 1)))  # B, bias
    np.testing.assert_array_equal(obs[60:], np.tile([0.0, 0.0, 1.0], (40, 1)))
    assert DelayedNonMatch(bias_input=False, dt=1.0).observation_space.shape == (2,)
    assert DelayedNonMatch(dt=1.0).trial_steps == 1000  # Miconi's 1000 ms at 1 ms


@pytest.mark.parametrize(
    ("first", "second", "target"), [(0, 0, -1.0), (0, 1, 1.0), (1, 0, 1.0), (1, 1, -1.0)]
)
def test_dnms_right_answer_pays_zero_and_the_wrong_one_minus_two(first, second, target):
    task = DelayedNonMatch()
    state = dnms_state(first, second)
    assert float(task.target(state)) == target
    before = -target * jnp.ones(task.response_start)  # outside the window: unpaid, uncounted
    for z, paid, correct in [(target, 0.0, 1.0), (-target, -2.0, 0.0), (0.5 * target, -0.5, 1.0)]:
        z_t = jnp.concatenate([before, jnp.full(task.trial_steps - task.response_start, z)])
        end, (rewards, terminal, info) = run_trial(task, state, z_t)
        np.testing.assert_allclose(float(rewards.sum()), paid, atol=1e-5)
        assert float(task.correct(end)) == correct
        assert float(info["performance"][-1]) == correct
        assert np.asarray(terminal).tolist() == [False] * (task.trial_steps - 1) + [True]


def test_dnms_input_noise_is_a_param():
    task = DelayedNonMatch()
    keys = jax.random.split(jax.random.key(0), 3000)
    noisy = DelayedNonMatchParams(input_noise=0.3)
    obs = np.asarray(jax.jit(jax.vmap(lambda k: task.observation(dnms_state(1, 0), k, noisy)))(keys))
    np.testing.assert_allclose(obs.mean(axis=0), [0.0, 1.0, 1.0], atol=0.03)
    np.testing.assert_allclose(obs.std(axis=0), [0.3, 0.3, 0.0], atol=0.02)
    np.testing.assert_array_equal(task.observation(dnms_state(1, 0), keys[0]), [0.0, 1.0, 1.0])


# ---------------------------------------------------------------- context integration
def ci_state(c_motion, c_colour, context, time=0):
    return ContextIntegrationState(
        jnp.asarray(time),
        jnp.asarray([c_motion, c_colour], jnp.float32),
        jnp.asarray(context),
        jnp.asarray(0.0),
    )


def test_context_integration_inputs_and_target():
    task = ContextIntegration(evidence_noise=0.0)
    timeline = (task.stimulus_start, task.stimulus_end, task.response_start, task.trial_steps)
    assert timeline == (30, 105, 105, 135)
    state = ci_state(0.2, -0.4, COLOUR)
    over_time = jax.jit(jax.vmap(lambda t: task.observation(state._replace(time=t))))
    obs = np.asarray(over_time(jnp.arange(135)))
    np.testing.assert_array_equal(obs[:30], np.tile([0, 0, 0, 0, 0, 1], (30, 1)))  # fixation: the cue
    np.testing.assert_allclose(obs[30:105], np.tile([1.2, 0.8, 0.6, 1.4, 0, 1], (75, 1)), rtol=1e-6)
    np.testing.assert_array_equal(obs[105:], np.zeros((30, 6)))
    assert float(task.target(state)) == -1.0 and float(task.target(state._replace(context=MOTION))) == 1.0
    noisy = ContextIntegration()  # evidence_noise 0.5, independent per stream
    in_stimulus = state._replace(time=jnp.asarray(40))
    keys = jax.random.split(jax.random.key(1), 4000)
    obs = np.asarray(jax.jit(jax.vmap(lambda k: noisy.observation(in_stimulus, k)))(keys))
    e = (obs[:, [0, 2]] - obs[:, [1, 3]]) / 2
    np.testing.assert_allclose(e.mean(axis=0), [0.2, -0.4], atol=0.03)
    np.testing.assert_allclose(e.std(axis=0), [0.5, 0.5], atol=0.03)
    assert abs(np.corrcoef(e.T)[0, 1]) < 0.05


def oracle_accuracy(task, n_trials=1000, seed=0):
    """The fractions correct (from ``info["performance"]``) of two policies that sum both
    streams' evidence over the stimulus and answer the sign of one: the stream the cue
    inputs name, and the other one."""

    def trial(key, read_other):
        key_reset, key_steps = jax.random.split(key)
        state, obs = env_reset(task, key_reset)

        def step(carry, key_t):
            state, obs, sums, stream = carry
            cued = jnp.argmax(obs[4:6])
            stream = jnp.where(jnp.any(obs[4:6] > 0), jnp.where(read_other, 1 - cued, cued), stream)
            sums = sums + jnp.stack([obs[0] - obs[1], obs[2] - obs[3]])
            action = jnp.reshape(jnp.sign(sums[stream]), (1,))
            next_state, ts = env_step(task, state, action, key_t, autoreset=False)
            info = task.transition_info(state, action, next_state)
            return (next_state, ts.obs, sums, stream), info["performance"]

        carry = (state, obs, jnp.zeros(2), jnp.asarray(0))
        _, performance = jax.lax.scan(step, carry, jax.random.split(key_steps, task.trial_steps))
        return performance.sum()

    keys = jax.random.split(jax.random.key(seed), n_trials)
    both = jax.jit(jax.vmap(jax.vmap(trial, (0, None)), (None, 0)))(keys, jnp.asarray([False, True]))
    relevant, other = np.asarray(both.mean(axis=1))
    return float(relevant), float(other)


def test_the_context_cue_selects_the_stream():
    relevant, other = oracle_accuracy(ContextIntegration())
    assert relevant > 0.95  # an ideal integrator: >= 96% at |c| = 0.1 over 75 steps
    assert abs(other - 0.5) < 0.06  # the distractor is independent of the answer


# ---------------------------------------------------------------- all trial tasks
@pytest.mark.parametrize("name", sorted(TRIAL_TASKS))
def test_gymnasium_form_matches_the_jax_twin_and_reports_trial_keys(name):
    """One trial through ``envs.make(name)`` (noise off) against the jitted ``env_step``
    from the same state: the same observations, rewards and ends; and neurogym's ``info``
    keys on every step, ``new_trial`` only on the last."""
    env = make(name, **TRIAL_TASKS[name])
    task = env.unwrapped.func_env
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    assert env.spec.max_episode_steps == task.trial_steps + 1 and check_env_id(name) is None
    assert JAX_ENVS[name] is type(task)
    step = jax.jit(lambda s, a, k: env_step(task, s, a, k))
    obs, _ = env.reset(seed=4)
    state = env.unwrapped.state
    target = float(task.target(state))
    rng = np.random.default_rng(0)
    keys = jax.random.split(jax.random.key(5), task.trial_steps)
    for t in range(task.trial_steps):
        z = np.asarray([target if t >= task.trial_steps - 2 else rng.uniform(-1, 1)], np.float32)
        obs, reward, terminated, truncated, info = env.step(z)
        state, ts = step(state, jnp.asarray(z), keys[t])
        np.testing.assert_allclose(np.asarray(obs), np.asarray(ts.final_obs), rtol=1e-6)
        assert reward == pytest.approx(float(ts.reward), abs=1e-7)
        assert terminated == bool(ts.terminated) and not truncated
        assert set(info) == {"new_trial", "performance", "gt"}
        last = t == task.trial_steps - 1
        assert bool(info["new_trial"]) == last == terminated
        assert float(info["gt"]) == (target if task.in_response(jnp.asarray(t)) else 0.0)
        if not last:
            assert float(info["performance"]) == 0.0
    assert float(info["performance"]) == float(np.sign(env.unwrapped.state.response) == target)


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (DelayedNonMatch, DelayedNonMatchParams(input_noise=jnp.asarray([0.0, 0.5, 1.0]))),
        (ContextIntegration, ContextIntegrationParams(evidence_noise=jnp.asarray([0.0, 0.5, 1.0]))),
    ],
)
@pytest.mark.slow
def test_vmap_over_params_and_keys(cls, params):
    """A batch of three envs, without noise, with some and with more, through one trial:
    only the noiseless member sees the clean inputs; all end together. (The CartPole test
    below runs the autoreset under vmap.)"""
    task = cls()

    @jax.jit
    def trial(key, params):
        key_reset, key_steps = jax.random.split(key)
        states, obs = jax.vmap(lambda k, p: env_reset(task, k, p))(jax.random.split(key_reset, 3), params)

        def one(state, key_t, params):
            return env_step(task, state, jnp.asarray([0.3]), key_t, params, autoreset=False)

        def step(states, key_t):
            states, ts = jax.vmap(one)(states, jax.random.split(key_t, 3), params)
            return states, (ts.obs, ts.terminated, states)

        states, (obs, terminated, visited) = jax.lax.scan(
            step, states, jax.random.split(key_steps, task.trial_steps)
        )
        at_40 = jax.tree.map(lambda x: x[40], visited)  # time 41: a stimulus is on, the noise shows
        return states, obs, terminated, jax.vmap(task.observation)(at_40)  # no key: no noise

    states, obs, terminated, clean = trial(jax.random.key(0), params)
    assert obs.shape == (task.trial_steps, 3, *task.observation_space.shape)
    np.testing.assert_array_equal(obs[40, 0], clean[0])  # the member without noise
    assert np.all(np.asarray(obs[40, 1:] != clean[1:]).any(axis=1))
    assert terminated.sum(axis=0).tolist() == [1] * 3 and bool(terminated[-1].all())
    assert states.time.tolist() == [task.trial_steps] * 3
    trial(jax.random.key(1), params)
    assert trial._cache_size() == 1  # the second call did not recompile


def test_bad_arguments_are_refused_by_name():
    for cls, bad, error in [
        (DelayedNonMatch, {"stimulus_ms": 1.0}, ValueError),
        (DelayedNonMatch, {"delay_ms": -5.0}, ValueError),
        (DelayedNonMatch, {"input_noise": -0.1}, ValueError),
        (DelayedNonMatch, {"bias_input": 1}, TypeError),
        (ContextIntegration, {"coherences": (0.0, 0.1)}, ValueError),
        (ContextIntegration, {"response_ms": 0.0}, ValueError),
        (ContextIntegration, {"dt": 0.0}, ValueError),
        (PerceptualDecision, {"stimulus_ms": 0.5}, ValueError),
    ]:
        with pytest.raises(error, match=next(iter(bad))):
            cls(**bad)


def test_the_recurrent_agents_can_read_the_spec_of_each_trial_task():
    from agents.env_spec import make_env_spec

    for name in ("DelayedNonMatch-v0", "ContextIntegration-v0"):
        spec = make_env_spec(name)
        assert spec.horizon == spec.jax_env.trial_steps + 1 and spec.reward_threshold is None
        assert spec.action_space == gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        assert all(
            hasattr(spec.jax_env, a) for a in ("dt", "trial_steps", "in_response", "target", "correct")
        )
    spec = make_env_spec("CartPoleNoVelocity-v1")
    assert (spec.horizon, spec.reward_threshold, spec.action_space) == (500, 475.0, gym.spaces.Discrete(2))


def test_perceptual_decision_noise_is_a_param():
    task = PerceptualDecision()
    state = task.initial(jax.random.key(0))._replace(coherence=jnp.asarray(0.2))
    key = jax.random.key(1)
    clean = task.observation(state, key, PerceptualDecisionParams(evidence_noise=0.0))
    np.testing.assert_allclose(clean, [1.2, 0.8], rtol=1e-6)
    assert task.default_params == PerceptualDecisionParams(0.5)
    assert not np.allclose(task.observation(state, key), clean)


# ---------------------------------------------------------------- CartPole, no velocities
def test_hidden_velocity_cartpole_sees_x_and_theta_of_the_same_trajectory():
    """Same keys and actions: the observation is CartPole's [x, theta] and the episode ends
    on the same step, for a batch under vmap."""
    full, partial = CartPole(), CartPoleNoVelocity()
    assert partial.observation_space.shape == (2,) and partial.action_space == gym.spaces.Discrete(2)
    assert (partial.max_episode_steps, partial.reward_threshold) == (500, 475.0)

    def rollout(key):
        """80 random pushes in each env from the same keys: both envs' first obs and steps."""
        key_reset, key_steps = jax.random.split(key)
        (state_full, obs_full), (state_part, obs_part) = (
            env_reset(full, key_reset),
            env_reset(partial, key_reset),
        )

        def step(states, key_t):
            action = jax.random.bernoulli(jax.random.fold_in(key_t, 7)).astype(jnp.int32)
            state_full, ts_full = env_step(full, states[0], action, key_t)
            state_part, ts_part = env_step(partial, states[1], action, key_t)
            return (state_full, state_part), (ts_full, ts_part)

        _, steps = jax.lax.scan(step, (state_full, state_part), jax.random.split(key_steps, 80))
        return (obs_full, obs_part), steps

    keys = jax.random.split(jax.random.key(3), 8)
    (obs0_full, obs0_part), (ts_full, ts_part) = jax.jit(jax.vmap(rollout))(keys)
    np.testing.assert_array_equal(obs0_part, obs0_full[..., [0, 2]])
    np.testing.assert_array_equal(ts_part.obs, ts_full.obs[..., [0, 2]])
    np.testing.assert_array_equal(ts_part.final_obs, ts_full.final_obs[..., [0, 2]])
    for field in ("reward", "terminated", "truncated"):
        np.testing.assert_array_equal(getattr(ts_part, field), getattr(ts_full, field))
    assert int(ts_part.terminated.sum()) >= 8  # random pushes: every member ended at least once


def test_hidden_velocity_cartpole_against_gymnasium_cartpole():
    """From the original's start, the same actions: [x, theta] of Gymnasium's CartPole-v1,
    ending on the same step; and the 500-step time limit."""
    original, ours = gym.make("CartPole-v1"), make("CartPoleNoVelocity-v1")
    assert ours.spec.max_episode_steps == 500
    rng = np.random.default_rng(0)
    for seed in range(3):
        original.reset(seed=seed)
        ours.reset(seed=seed)
        ours.unwrapped.state = ours.unwrapped.state._replace(
            physics=jnp.asarray(original.unwrapped.state, jnp.float32)
        )
        for _ in range(500):
            action = int(rng.integers(2))
            expected, _, end, cut, _ = original.step(action)
            obs, reward, terminated, truncated, _ = ours.step(action)
            np.testing.assert_allclose(np.asarray(obs), expected[[0, 2]], rtol=1e-4, atol=1e-5)
            assert (reward, terminated, truncated) == (1.0, end, cut)
            if end or cut:
                break
        assert terminated
    env = CartPoleNoVelocity()
    upright = env.initial(jax.random.key(0))._replace(time=jnp.asarray(499))
    _, ts = env_step(env, upright, 1, jax.random.key(1))
    assert bool(ts.truncated) and not bool(ts.terminated)
