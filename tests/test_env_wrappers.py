"""Wrappers on real Gymnasium envs: RewardToCell (single and vector, every autoreset mode),
encoders and decoders, and the errors for bad rewards and unsupported spaces."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from envs import (
    NormalizeObservation,
    PopulationEncode,
    RewardToCell,
    decoder_for,
    encode,
    normalize,
    population_code,
    running_stats,
    update_stats,
)
from rpe import RewardErrorCell

ALPHA, WINDOW = 0.2, 4


class ReferenceRow:
    """One row of a RewardErrorCell, by the reference's rules, in plain Python."""

    def __init__(self):
        self.mu, self.accum, self.n = 0.0, 0.0, 0

    def step(self, r):
        rpe = r - self.mu
        self.mu = (1 - ALPHA) * self.mu + ALPHA * r
        self.accum += r
        self.n += 1
        return rpe

    def evolve(self):
        if self.n > 0:
            self.mu = (1 - 1 / WINDOW) * self.mu + (1 / WINDOW) * self.accum / self.n
        self.accum, self.n = 0.0, 0


def test_single_env_feeds_rewards_and_evolves_at_episode_ends():
    cell = RewardErrorCell("rpe", 1, alpha=ALPHA, ema_window_len=WINDOW)
    env = RewardToCell(gym.make("CartPole-v1"), cell)
    ref = ReferenceRow()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    episodes, terminated_seen = 0, False
    for _ in range(200):
        _, r, terminated, truncated, info = env.step(int(rng.integers(2)))
        assert info["rpe"] == pytest.approx(ref.step(r), abs=1e-5)
        if terminated or truncated:
            ref.evolve()
            episodes += 1
            terminated_seen |= terminated
            env.reset()
        assert info["mu"] == pytest.approx(ref.mu, abs=1e-5)
    assert episodes >= 5 and terminated_seen
    assert float(cell.n_ep_steps.get()[0, 0]) == ref.n


def test_truncation_is_kept_distinct_and_still_ends_the_episode():
    cell = RewardErrorCell("rpe", 1, alpha=ALPHA, ema_window_len=WINDOW)
    env = RewardToCell(gym.make("CartPole-v1", max_episode_steps=3), cell)
    env.reset(seed=1)
    flags = [env.step(0)[2:4] for _ in range(3)]
    assert flags[-1] == (False, True)
    assert float(cell.n_ep_steps.get()[0, 0]) == 0.0
    assert float(cell.mu.get()[0, 0]) > 0.0


def test_reset_mid_episode_drops_the_unfinished_episode():
    cell = RewardErrorCell("rpe", 1, alpha=ALPHA, use_online_predictor=False)
    env = RewardToCell(gym.make("CartPole-v1"), cell)
    env.reset(seed=0)
    env.step(0)
    env.reset()
    assert float(cell.n_ep_steps.get()[0, 0]) == 0.0 and float(cell.mu.get()[0, 0]) == 0.0


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_vector_env_one_row_per_sub_env_respecting_autoreset(mode):
    n = 3
    envs = gym.make_vec(
        "CartPole-v1", num_envs=n, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}
    )
    cell = RewardErrorCell("rpe", 1, alpha=ALPHA, ema_window_len=WINDOW, batch_size=n)
    envs = RewardToCell(envs, cell)
    refs = [ReferenceRow() for _ in range(n)]
    resetting = np.zeros(n, dtype=bool)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(150):
        _, rewards, terminated, truncated, info = envs.step(rng.integers(2, size=n))
        for i in range(n):
            if mode == AutoresetMode.NEXT_STEP and resetting[i]:
                assert not info["_rpe"][i] and rewards[i] == 0.0
                continue
            assert info["rpe"][i] == pytest.approx(refs[i].step(float(rewards[i])), abs=1e-5)
            if terminated[i] or truncated[i]:
                refs[i].evolve()
                ends += 1
        resetting = np.asarray(terminated) | np.asarray(truncated)
        np.testing.assert_allclose(info["mu"], [ref.mu for ref in refs], atol=1e-5)
    assert ends >= 5
    np.testing.assert_allclose(cell.n_ep_steps.get()[:, 0], [ref.n for ref in refs])


def test_vector_env_needs_a_matching_cell_batch():
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    with pytest.raises(ValueError, match="batch_size"):
        RewardToCell(envs, RewardErrorCell("rpe", 1, alpha=0.1, batch_size=3))
    with pytest.raises(TypeError, match="RewardErrorCell"):
        RewardToCell(gym.make("CartPole-v1"), object())


class NanRewardEnv(gym.Wrapper):
    def step(self, action):
        obs, _, terminated, truncated, info = self.env.step(action)
        return obs, float("nan"), terminated, truncated, info


def test_nan_reward_raises_naming_the_env_and_never_reaches_the_cell():
    cell = RewardErrorCell("rpe", 1, alpha=0.1)
    env = RewardToCell(NanRewardEnv(gym.make("CartPole-v1")), cell)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"CartPole-v1.*finite"):
        env.step(0)
    assert float(cell.reward.get()[0, 0]) == 0.0 and float(cell.n_ep_steps.get()[0, 0]) == 0.0


def test_running_normalisation_matches_numpy_and_the_wrapper():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(50, 4)).astype(np.float32)
    stats = running_stats((4,))
    for chunk in np.array_split(data, 7):
        stats = update_stats(stats, jnp.asarray(chunk))
    np.testing.assert_allclose(stats.mean, data.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats.m2 / stats.count, data.var(axis=0), rtol=1e-4)
    z = normalize(stats, jnp.asarray(data), clip=100.0)
    np.testing.assert_allclose(np.asarray(z).std(axis=0), 1.0, rtol=1e-3)
    env = NormalizeObservation(gym.make("CartPole-v1"), clip=5.0)
    obs, _ = env.reset(seed=0)
    for _ in range(20):
        obs, _, terminated, truncated, _ = env.step(0)
        assert env.observation_space.contains(obs)
        if terminated or truncated:
            obs, _ = env.reset()
    assert float(env.stats.count) >= 21


def test_population_code_by_hand_and_as_a_wrapper():
    code = population_code(low=[0.0, -1.0], high=[1.0, 1.0], n_neurons=3)
    rates = np.asarray(encode(code, jnp.asarray([[0.5, 2.0]])))[0]
    # dim 0: centres 0, .5, 1, sigma .5 -> exp(-0.5), 1, exp(-0.5); dim 1 clipped to 1.
    np.testing.assert_allclose(rates[:3], [np.exp(-0.5), 1.0, np.exp(-0.5)], rtol=1e-6)
    np.testing.assert_allclose(rates[3:], [np.exp(-2.0), np.exp(-0.5), 1.0], rtol=1e-6)
    env = PopulationEncode(gym.make("MountainCar-v0"), n_neurons=5)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (10,) and env.observation_space.contains(obs)
    with pytest.raises(ValueError, match=r"CartPole-v1.*not finite"):
        PopulationEncode(gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="low < high"):
        population_code([1.0], [0.0])


def test_decoders_for_discrete_multibinary_and_box():
    """Action arrays (indices from 0; unbounded Box values), ``bound``, ``greedy``, ``to_env``."""
    key = jax.random.key(0)
    d = decoder_for(gym.spaces.Discrete(3, start=1))
    logits = jnp.asarray([[0.0, 5.0, 0.0]] * 2000)
    actions = np.asarray(d.sample(logits, key))
    assert d.n_outputs == 3 and actions.shape == (2000,) and set(np.unique(actions)) <= {0, 1, 2}
    p1 = np.exp(5) / (np.exp(5) + 2)
    assert np.mean(actions == 1) == pytest.approx(p1, abs=0.02)
    assert int(d.greedy(logits)[0]) == 1
    np.testing.assert_array_equal(d.bound(jnp.asarray([0, 1, 2])), [1, 2, 3])  # adds start
    assert d.to_env(np.int64(2)) == 2 and type(d.to_env(np.int64(2))) is int
    # Discrete(2): one Bernoulli unit, P(a = 1) = sigmoid(y); a softmax over two if categorical.
    binary = decoder_for(gym.spaces.Discrete(2, start=-1))
    y = jnp.full((4000, 1), 1.0)
    actions = np.asarray(binary.sample(y, key))
    assert binary.n_outputs == 1 and actions.shape == (4000,) and set(np.unique(actions)) <= {0, 1}
    assert np.mean(actions) == pytest.approx(float(jax.nn.sigmoid(1.0)), abs=0.02)
    np.testing.assert_array_equal(binary.greedy(jnp.asarray([[-0.5], [0.5]])), [0, 1])
    np.testing.assert_array_equal(binary.bound(jnp.asarray([0, 1])), [-1, 0])
    assert decoder_for(gym.spaces.Discrete(2), categorical=True).n_outputs == 2
    mb = decoder_for(gym.spaces.MultiBinary(4))
    bits = np.asarray(mb.sample(jnp.zeros((5000, 4)), key))
    assert mb.n_outputs == 4 and bits.shape == (5000, 4) and abs(bits.mean() - 0.5) < 0.02
    np.testing.assert_array_equal(mb.greedy(jnp.asarray([[-1.0, 1.0, 2.0, -2.0]])), [[0, 1, 1, 0]])
    np.testing.assert_array_equal(mb.bound(jnp.asarray(bits[:3])), bits[:3])
    assert mb.to_env(bits[0]).dtype == np.int8
    # Box: u = y + scale eps, unbounded; bound squashes low + (high - low)(tanh(u) + 1) / 2.
    box = decoder_for(gym.spaces.Box(-2.0, 1.0, (2,)), noise_std=0.3)
    y = jnp.asarray([[-50.0, 0.0]])
    assert box.n_outputs == 2
    np.testing.assert_allclose(box.greedy(y), y)
    u = np.asarray(box.sample(jnp.broadcast_to(y, (5000, 2)), key))
    np.testing.assert_allclose(u.mean(axis=0), [-50.0, 0.0], atol=0.02)
    np.testing.assert_allclose(u.std(axis=0), [0.3, 0.3], rtol=0.05)
    u = np.asarray(box.sample(jnp.broadcast_to(y, (5000, 2)), key, 2.0))  # an explicit scale
    np.testing.assert_allclose(u.std(axis=0), [2.0, 2.0], rtol=0.05)
    np.testing.assert_allclose(box.bound(y), [[-2.0, -0.5]], atol=1e-6)
    u = jnp.asarray([[0.7, -1.3]])
    np.testing.assert_allclose(box.bound(u), -2.0 + 3.0 * (np.tanh([[0.7, -1.3]]) + 1) / 2, rtol=1e-6)
    bounded = box.to_env(np.asarray(box.bound(u))[0])
    assert bounded.shape == (2,) and bounded.dtype == np.float32
    square = decoder_for(gym.spaces.Box(0.0, 1.0, (2, 3)), noise_std=0.0)
    assert square.n_outputs == 6 and square.to_env(np.zeros(6)).shape == (2, 3)


def test_decoder_post_is_the_error_cells_raw_derivative():
    """``post`` against its closed form for the four kinds on ``(episodes, T, n_outputs)``, as
    a batch learner calls it, and with a traced ``scale`` under ``jax.jit`` and ``jax.vmap``
    (one Gaussian scale per population member)."""
    rng = np.random.default_rng(0)
    k_y, k_u = jax.random.split(jax.random.key(0))
    bernoulli = decoder_for(gym.spaces.Discrete(2))
    y, a = jax.random.normal(k_y, (3, 5, 1)), jnp.asarray(rng.integers(0, 2, (3, 5)))
    np.testing.assert_allclose(bernoulli.post(y, a), a[..., None] - jax.nn.sigmoid(y), atol=1e-6)
    categorical = decoder_for(gym.spaces.Discrete(4, start=2))
    y, a = jax.random.normal(k_y, (3, 5, 4)), jnp.asarray(rng.integers(0, 4, (3, 5)))
    np.testing.assert_allclose(categorical.post(y, a), jax.nn.one_hot(a, 4) - jax.nn.softmax(y), atol=1e-6)
    two = decoder_for(gym.spaces.Discrete(2), categorical=True)
    y, a = jax.random.normal(k_y, (3, 5, 2)), jnp.asarray(rng.integers(0, 2, (3, 5)))
    np.testing.assert_allclose(two.post(y, a), jax.nn.one_hot(a, 2) - jax.nn.softmax(y), atol=1e-6)
    multibinary = decoder_for(gym.spaces.MultiBinary(3))
    y, a = jax.random.normal(k_y, (3, 5, 3)), jnp.asarray(rng.integers(0, 2, (3, 5, 3)))
    np.testing.assert_allclose(multibinary.post(y, a), a - jax.nn.sigmoid(y), atol=1e-6)
    gaussian = decoder_for(gym.spaces.Box(-1.0, 1.0, (2,)), noise_std=0.3)
    y, u = jax.random.normal(k_y, (3, 5, 2)), jax.random.normal(k_u, (3, 5, 2))
    np.testing.assert_allclose(gaussian.post(y, u), (u - y) / 0.3**2, rtol=1e-5)
    np.testing.assert_allclose(gaussian.post(y, u, 0.5), (u - y) / 0.5**2, rtol=1e-5)

    scales = jnp.asarray([0.1, 0.5, 2.0])
    want = (u - y)[None] / (scales**2)[:, None, None, None]
    per_member = jax.vmap(gaussian.post, in_axes=(None, None, 0))
    np.testing.assert_allclose(per_member(y, u, scales), want, rtol=1e-5)
    traced = jax.jit(per_member)
    np.testing.assert_allclose(traced(y, u, scales), want, rtol=1e-5)
    np.testing.assert_allclose(traced(y, u, 2.0 * scales), want / 4.0, rtol=1e-5)
    assert traced._cache_size() == 1  # a new scale does not recompile
    draws = jax.jit(jax.vmap(gaussian.sample, in_axes=(None, None, 0)))(jnp.zeros((4000, 2)), k_u, scales)
    np.testing.assert_allclose(np.asarray(draws).std(axis=(1, 2)), scales, rtol=0.05)


@pytest.mark.parametrize(
    "space",
    [
        gym.spaces.Box(-np.inf, np.inf, (2,)),
        gym.spaces.Box(np.array([0.0, -1.0]), np.array([1.0, np.inf])),
        gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Discrete(2))),
        gym.spaces.MultiDiscrete([2, 3]),
        gym.spaces.MultiBinary((2, 2)),
    ],
)
def test_unsupported_action_spaces_name_env_space_and_choices(space):
    message = r"^Pendulum-v1: no action decoder for the action space .*"
    choices = r"supported: Discrete, MultiBinary \(1-D\), Box with finite bounds$"
    with pytest.raises(ValueError, match=message + choices):
        decoder_for(space, env="Pendulum-v1")


def test_weighted_running_stats_count_only_the_selected_rows():
    rng = np.random.default_rng(1)
    data = rng.normal(2.0, 3.0, size=(40, 3)).astype(np.float32)
    keep = rng.uniform(size=40) > 0.4
    padded = np.where(keep[:, None], data, 1e6)  # padding values must not leak in
    stats = update_stats(running_stats((3,)), jnp.asarray(padded[:20]), jnp.asarray(keep[:20]))
    stats = update_stats(stats, jnp.asarray(padded[20:]), jnp.asarray(keep[20:]))
    assert float(stats.count) == keep.sum()
    np.testing.assert_allclose(stats.mean, data[keep].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats.m2 / stats.count, data[keep].var(axis=0), rtol=1e-4)
    empty = update_stats(stats, jnp.asarray(padded[:5]), jnp.zeros(5))
    np.testing.assert_allclose(empty.mean, stats.mean)
