"""JAX-native envs: each classic-control twin against its Gymnasium original, step by step,
and the bandit and conditioning tasks against their definitions."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from envs import (
    Acrobot,
    Bandit,
    CartPole,
    Conditioning,
    ConditioningParams,
    MountainCar,
    PerceptualDecision,
    env_reset,
    env_step,
    make,
)

TWINS = [
    ("CartPole-v1", CartPole, 2),
    ("Acrobot-v1", Acrobot, 3),
    ("MountainCar-v0", MountainCar, 3),
]


def our_state(cls, physics, time=0):
    state_type = type(cls().initial(jax.random.key(0)))
    return state_type(jnp.asarray(physics, jnp.float32), jnp.asarray(time, jnp.int32))


def policy(name, physics, rng):
    """Actions that reach termination: random for CartPole, energy pumping otherwise."""
    if name == "CartPole-v1":
        return int(rng.integers(2))
    if rng.random() < 0.2:
        return int(rng.integers(3))
    velocity = physics[3] if name == "Acrobot-v1" else physics[1]  # Acrobot: the elbow's
    return 2 if velocity >= 0 else 0


@pytest.mark.parametrize(("name", "cls", "n_actions"), TWINS)
def test_one_step_parity_from_the_originals_states(name, cls, n_actions):
    """From the original's state, the same action gives the same obs, reward and ends."""
    env = gym.make(name)
    ours = cls()

    @jax.jit
    def step(state, action):
        nxt = ours.transition(state, action)
        return ours.observation(nxt), ours.reward(state, action, nxt), ours.terminal(nxt)

    rng = np.random.default_rng(0)
    checked, terminations = 0, 0
    for episode in range(20):
        env.reset(seed=episode)
        for _ in range(500):
            physics = np.array(env.unwrapped.state, dtype=np.float64)
            action = policy(name, physics, rng)
            obs, reward, terminated, truncated, _ = env.step(action)
            our_obs, our_reward, our_terminal = step(our_state(cls, physics), action)
            np.testing.assert_allclose(np.asarray(our_obs), obs, rtol=1e-5, atol=2e-5)
            assert float(our_reward) == reward
            assert bool(our_terminal) == terminated
            checked += 1
            terminations += terminated
            if terminated or truncated:
                break
    assert checked > 300 and terminations >= 5


@pytest.mark.parametrize(("name", "cls", "n_actions"), TWINS)
def test_trajectories_agree_without_resyncing(name, cls, n_actions):
    env = gym.make(name)
    env.reset(seed=3)
    ours = cls()
    state = our_state(cls, env.unwrapped.state)
    step = jax.jit(ours.transition)
    rng = np.random.default_rng(1)
    for _ in range(40):
        action = int(rng.integers(n_actions))
        obs, _, terminated, _, _ = env.step(action)
        state = step(state, action)
        np.testing.assert_allclose(np.asarray(ours.observation(state)), obs, rtol=1e-3, atol=1e-4)
        if terminated:
            break


@pytest.mark.parametrize(("name", "cls", "n_actions"), TWINS)
def test_initial_states_and_spaces_match(name, cls, n_actions):
    env = gym.make(name)
    ours = cls()
    assert ours.action_space == env.action_space
    np.testing.assert_array_equal(ours.observation_space.low, env.observation_space.low)
    np.testing.assert_array_equal(ours.observation_space.high, env.observation_space.high)
    assert ours.max_episode_steps == env.spec.max_episode_steps
    keys = jax.random.split(jax.random.key(0), 500)
    physics = np.asarray(jax.vmap(lambda k: ours.initial(k).physics)(keys))
    originals = np.array(
        [np.array(env.reset(seed=s) and env.unwrapped.state, dtype=float) for s in range(500)]
    )
    np.testing.assert_allclose(physics.min(axis=0), originals.min(axis=0), atol=0.01)
    np.testing.assert_allclose(physics.max(axis=0), originals.max(axis=0), atol=0.01)


def test_env_step_truncates_like_time_limit_and_autoresets():
    ours = MountainCar()
    state, _ = env_reset(ours, jax.random.key(0))
    step = jax.jit(lambda s, k: env_step(ours, s, 1, k))
    keys = jax.random.split(jax.random.key(1), 200)
    truncations = []
    for i in range(200):
        state, ts = step(state, keys[i])
        truncations.append(bool(ts.truncated))
    assert truncations == [False] * 199 + [True]
    assert int(state.time) == 0  # autoreset
    original = gym.make("MountainCar-v0")
    original.reset(seed=0)
    flags = [original.step(1)[3] for _ in range(200)]
    assert flags == truncations


def test_env_step_on_termination_returns_the_final_obs_and_a_fresh_state():
    ours = CartPole()
    state = our_state(CartPole, [0.0, 0.0, 0.2, 2.0], time=17)
    next_state, ts = env_step(ours, state, 1, jax.random.key(0))
    assert bool(ts.terminated) and not bool(ts.truncated) and float(ts.reward) == 1.0
    assert float(ts.final_obs[2]) > ours.default_params.theta_threshold_radians
    assert int(next_state.time) == 0 and float(jnp.max(jnp.abs(ts.obs))) <= 0.05
    np.testing.assert_array_equal(ts.obs, next_state.physics)


def test_python_loop_twin_through_functional_jax_env():
    env = make("CartPole-v1")
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(np.asarray(obs))
    length = 0
    while True:
        obs, _, terminated, truncated, _ = env.step(1)
        length += 1
        if terminated or truncated:
            break
    assert terminated and not truncated and 5 < length < 30  # always pushing right falls soon
    with pytest.raises(ValueError, match="CartPole-v1"):
        make("CartPole-v9")


def test_bandit_rates_reverse_at_the_reversal():
    bandit = Bandit(rates=(0.9, 0.1), episode_length=100, reversal_at=50)
    assert bandit.action_space == gym.spaces.Discrete(2)
    keys = jax.random.split(jax.random.key(0), 4000)

    def mean_reward(time, arm):
        s = bandit.initial(keys[0])._replace(time=jnp.asarray(time))
        rewards = jax.vmap(lambda k: bandit.reward(s, arm, bandit.transition(s, arm), k))(keys)
        return float(jnp.mean(rewards))

    assert mean_reward(10, 0) == pytest.approx(0.9, abs=0.03)
    assert mean_reward(10, 1) == pytest.approx(0.1, abs=0.03)
    assert mean_reward(60, 0) == pytest.approx(0.1, abs=0.03)
    assert mean_reward(60, 1) == pytest.approx(0.9, abs=0.03)
    with pytest.raises(ValueError, match="rates"):
        Bandit(rates=(1.5, 0.1))


def test_conditioning_trial_structure_and_omission():
    task = Conditioning(trial_length=10, cue_step=2, reward_step=6)
    step = jax.jit(lambda s, k, p: env_step(task, s, 0, k, p))
    for params, paid in [(None, 1.0), (ConditioningParams(reward_prob=0.0, reward_size=1.0), 0.0)]:
        state, obs = env_reset(task, jax.random.key(0), params)
        cues, rewards, ends = [float(obs[0])], [], []
        for i in range(10):
            state, ts = step(state, jax.random.key(i + 1), params)
            cues.append(float(ts.final_obs[0]))
            rewards.append(float(ts.reward))
            ends.append(bool(ts.terminated))
        assert cues == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
        assert rewards == [0, 0, 0, 0, 0, paid, 0, 0, 0, 0]
        assert ends == [False] * 9 + [True]
    with pytest.raises(ValueError, match="cue_step"):
        Conditioning(cue_step=5, reward_step=5)


def test_perceptual_decision_trial_structure_reward_and_correctness():
    task = PerceptualDecision(coherences=(0.3,), evidence_noise=0.0, dt=10.0)
    assert (task.stimulus_steps, task.response_start, task.trial_steps) == (10, 20, 30)
    state, obs = env_reset(task, jax.random.key(0))
    np.testing.assert_allclose(obs, [1.3, 0.7], rtol=1e-6)  # no noise: 1 +- coherence
    total, key = 0.0, jax.random.key(1)
    for t in range(task.trial_steps):
        z = 0.5 if t >= task.response_start else -1.0  # wrong before the window: unpaid
        key, k = jax.random.split(key)
        if t == task.trial_steps - 1:
            assert bool(task.correct(task.transition(state, jnp.asarray([z]))))
        state, ts = env_step(task, state, jnp.asarray([z]), k)
        total += float(ts.reward)
        if t == task.stimulus_steps:
            np.testing.assert_array_equal(ts.obs, [0.0, 0.0])
    assert bool(ts.terminated)
    np.testing.assert_allclose(total, -0.5, rtol=1e-5)  # mean |0.5 - 1| over the window
    noisy = PerceptualDecision(coherences=(-0.2,), evidence_noise=0.5)
    at_start = state._replace(time=jnp.asarray(0), coherence=jnp.asarray(-0.2))
    evidence = jax.vmap(lambda k: noisy.observation(at_start, k))(jax.random.split(jax.random.key(2), 4000))
    e = (evidence[:, 0] - evidence[:, 1]) / 2
    assert abs(float(e.mean()) + 0.2) < 0.03 and abs(float(e.std()) - 0.5) < 0.03
    for bad in ({"coherences": (0.0, 0.1)}, {"dt": 0.0}, {"response_ms": 0.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            PerceptualDecision(**bad)


def test_env_step_without_autoreset_keeps_the_ended_episode():
    """MountainCar at the flag, pushing right: the step terminates; with autoreset the next
    observation is a fresh start (position in [-0.6, -0.4]), without it the ended state."""
    from envs import MountainCar
    from envs.functional import env_reset, env_step

    env = MountainCar()
    state, _ = env_reset(env, jax.random.key(0))
    state = state._replace(physics=jnp.asarray([0.499, 0.05], jnp.float32))
    _, reset = env_step(env, state, 2, jax.random.key(1))
    ended_state, kept = env_step(env, state, 2, jax.random.key(1), autoreset=False)
    assert bool(reset.terminated) and bool(kept.terminated)
    assert -0.6 <= float(reset.obs[0]) <= -0.4
    np.testing.assert_array_equal(kept.obs, kept.final_obs)
    np.testing.assert_array_equal(kept.final_obs, reset.final_obs)
    assert float(kept.obs[0]) >= 0.5 and int(ended_state.time) == int(state.time) + 1
