"""The JAX twins' physics params (vmappable, really used) and ``env_step``'s keys (one per use)."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.experimental.functional import FuncEnv

from envs import (
    Acrobot,
    AcrobotParams,
    CartPole,
    CartPoleParams,
    MountainCar,
    MountainCarParams,
    env_reset,
    env_step,
)


class _StubState(NamedTuple):
    time: jax.Array


class _StubParams(NamedTuple):
    scale: jax.Array


class _Recorder(FuncEnv):
    """A FuncEnv that records, in call order, which function got which key and params."""

    observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = spaces.Discrete(1)
    max_episode_steps = 1  # every step ends the episode: the autoreset's draws happen too

    def __init__(self):
        super().__init__()
        self.calls = []

    def _record(self, name, rng, params):
        self.calls.append((name, tuple(np.asarray(jax.random.key_data(rng)).ravel()), params))

    def initial(self, rng, params=None):
        self._record("initial", rng, params)
        return _StubState(jnp.zeros((), jnp.int32))

    def transition(self, state, action, rng=None, params=None):
        self._record("transition", rng, params)
        return _StubState(state.time + 1)

    def observation(self, state, rng=None, params=None):
        self._record("observation", rng, params)
        return jnp.zeros((1,), jnp.float32)

    def reward(self, state, action, next_state, rng=None, params=None):
        self._record("reward", rng, params)
        return jnp.float32(0.0)

    def terminal(self, state, rng=None, params=None):
        self._record("terminal", rng, params)
        return jnp.zeros((), bool)


def test_env_step_gives_each_use_of_randomness_its_own_key_and_passes_params_to_all():
    env, params = _Recorder(), _StubParams(jnp.float32(2.0))
    key = jax.random.key(7)
    state, _ = env_reset(env, jax.random.key(6), params)
    env.calls.clear()
    env_step(env, state, 0, key, params)
    names = [name for name, _, _ in env.calls]
    assert sorted(names) == ["initial", "observation", "observation", "reward", "terminal", "transition"]
    used = [k for _, k, _ in env.calls]
    assert len(set(used)) == len(used), f"a key served two uses: {names}"
    assert tuple(np.asarray(jax.random.key_data(key)).ravel()) not in used  # split, never used as is
    assert all(p is params for _, _, p in env.calls)


def _rollout(env, params, key, actions):
    """Obs, rewards and ends of ``env_step`` (autoresets included) under fixed actions."""
    key_reset, key_steps = jax.random.split(key)
    state, _ = env_reset(env, key_reset, params)

    def step(state, xs):
        action, k = xs
        state, ts = env_step(env, state, action, k, params)
        return state, (ts.obs, ts.reward, ts.terminated, ts.truncated, ts.final_obs)

    return jax.lax.scan(step, state, (actions, jax.random.split(key_steps, actions.shape[0])))[1]


@pytest.mark.parametrize(
    ("cls", "field", "values", "n_actions"),
    [
        (CartPole, "length", (0.5, 1.0), 2),
        (Acrobot, "link_mass_2", (1.0, 1.5), 3),
        (MountainCar, "force", (0.001, 0.0015), 3),
    ],
)
def test_vmap_over_a_physical_param_runs_each_member_as_if_alone(cls, field, values, n_actions):
    env = cls()
    actions = jnp.asarray(np.random.default_rng(0).integers(n_actions, size=60))
    run = jax.jit(lambda p: _rollout(env, p, jax.random.key(3), actions))
    population = env.default_params._replace(**{field: jnp.asarray(values, jnp.float32)})
    axes = jax.tree.map(lambda _: None, env.default_params)._replace(**{field: 0})
    together = jax.vmap(run, in_axes=(axes,))(population)
    for k, value in enumerate(values):
        alone = run(env.default_params._replace(**{field: jnp.float32(value)}))
        for ours, theirs in zip(together, alone, strict=True):
            np.testing.assert_array_equal(ours[k], theirs)
    obs = together[0]
    assert not np.array_equal(obs[0], obs[1])


def test_params_default_to_gymnasiums_constants():
    assert CartPole().default_params == CartPoleParams()
    assert CartPoleParams().length == 0.5 and CartPoleParams().gravity == 9.8
    assert Acrobot().default_params == AcrobotParams() and AcrobotParams().torque_noise_max == 0.0
    assert MountainCar().default_params == MountainCarParams() and MountainCarParams().force == 0.001


def _steps_until_terminal(env, state, params, actions):
    step = jax.jit(lambda s, a, p: env.transition(s, a, None, p))
    for t, action in enumerate(actions):
        state = step(state, action, params)
        if env.terminal(state, None, params):
            return t + 1
    return None


def test_cartpole_a_longer_pole_falls_more_slowly():
    env = CartPole()
    start = env.initial(jax.random.key(0))._replace(physics=jnp.asarray([0.0, 0.0, 0.05, 0.0]))
    actions = [t % 2 for t in range(200)]  # push right, left, right...: no net push
    steps = [
        _steps_until_terminal(env, start, env.default_params._replace(length=length), actions)
        for length in (0.5, 1.0, 2.0)
    ]
    assert steps[0] < steps[1] < steps[2], steps  # 21, 32, 47 steps


def test_mountain_car_one_step_uses_force_and_gravity():
    env = MountainCar()
    params = env.default_params._replace(force=0.002, gravity=0.003)
    state = env.initial(jax.random.key(0))._replace(physics=jnp.asarray([-0.5, 0.01]))
    # v' = v + (a - 1) force - gravity cos(3 p) = 0.01 +- 0.002 - 0.003 cos(-1.5), cos(1.5) = 0.0707372
    for action, v_next in [(2, 0.0117877884), (0, 0.0077877884), (1, 0.0097877884)]:
        physics = np.asarray(env.transition(state, action, None, params).physics)
        np.testing.assert_allclose(physics, [-0.5 + v_next, v_next], rtol=1e-6)
    start = state._replace(physics=jnp.asarray([-0.5, 0.0]))
    steps = [
        _steps_until_terminal(env, start, env.default_params._replace(force=force), [2] * 200)
        for force in (0.001, 0.003, 0.004)
    ]
    assert steps[0] is None and steps[1] > steps[2], steps  # never (needs a swing), 33, 26 steps


def test_acrobot_gravity_and_torque_noise_are_used():
    env = Acrobot()
    rest = env.initial(jax.random.key(0))._replace(physics=jnp.asarray([0.3, -0.2, 0.0, 0.0]))
    weightless = env.default_params._replace(gravity=0.0)
    np.testing.assert_array_equal(env.transition(rest, 1, None, weightless).physics, rest.physics)
    assert not np.allclose(env.transition(rest, 1, None, env.default_params).physics, rest.physics)
    noisy = env.default_params._replace(torque_noise_max=0.5)
    a, b = (env.transition(rest, 1, jax.random.key(i), noisy).physics for i in (1, 2))
    assert not np.array_equal(a, b)
    quiet = [env.transition(rest, 1, jax.random.key(i)).physics for i in (1, 2)]
    np.testing.assert_array_equal(quiet[0], quiet[1])
