"""Compact state variables of known envs (envs.state_features)."""

import gymnasium as gym
import jax.numpy as jnp
import numpy as np

from envs.state_features import STATE_FEATURES, acrobot_angles


def test_acrobot_angles_recover_the_joint_angles_and_velocities_of_the_env_state():
    env = gym.make("Acrobot-v1")
    env.reset(seed=0)
    for _ in range(50):
        obs, *_ = env.step(env.action_space.sample())
        theta1, theta2, w1, w2 = env.unwrapped.state
        want = np.array([np.angle(np.exp(1j * theta1)), np.angle(np.exp(1j * theta2)), w1, w2])
        np.testing.assert_allclose(acrobot_angles(jnp.asarray(obs)), want, rtol=1e-5, atol=1e-5)
    f = STATE_FEATURES["Acrobot-v1"]
    low, high = env.observation_space.low, env.observation_space.high
    np.testing.assert_allclose(f.high[2:], high[4:])  # the env's own velocity bounds
    np.testing.assert_allclose(f.low[2:], low[4:])
