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
    key = jax.random.key(0)
    d = decoder_for(gym.spaces.Discrete(3, start=1))
    logits = jnp.asarray([[0.0, 5.0, 0.0]] * 2000)
    actions = np.asarray(d.sample(logits, key))
    assert d.n_outputs == 3 and set(np.unique(actions)) <= {1, 2, 3}
    p2 = np.exp(5) / (np.exp(5) + 2)
    assert np.mean(actions == 2) == pytest.approx(p2, abs=0.02)
    assert int(d.greedy(logits)[0]) == 2 and d.to_env(np.int64(2)) == 2
    mb = decoder_for(gym.spaces.MultiBinary(4))
    bits = np.asarray(mb.sample(jnp.zeros((5000, 4)), key))
    assert mb.n_outputs == 4 and abs(bits.mean() - 0.5) < 0.02
    box = decoder_for(gym.spaces.Box(-2.0, 1.0, (2,)), noise_std=0.0)
    a = np.asarray(box.sample(jnp.asarray([[-50.0, 0.0]]), key))
    np.testing.assert_allclose(a, [[-2.0, -0.5]], atol=1e-5)
    assert box.to_env(a[0]).shape == (2,)


@pytest.mark.parametrize(
    "space",
    [
        gym.spaces.Box(-np.inf, np.inf, (2,)),
        gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Discrete(2))),
        gym.spaces.MultiDiscrete([2, 3]),
    ],
)
def test_unsupported_action_spaces_name_env_space_and_choices(space):
    with pytest.raises(ValueError, match=r"Pendulum-v1.*action space.*supported: Discrete"):
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
