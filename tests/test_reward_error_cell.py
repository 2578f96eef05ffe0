"""RewardErrorCell against the closed-form EMA and the episodic rules of the reference."""

import jax.numpy as jnp
import numpy as np
import pytest

from rpe import RewardErrorCell


def run_rewards(cell, rewards):
    rpes, mus = [], []
    for r in rewards:
        cell.reward.set(jnp.full((1, 1), r, jnp.float32))
        cell.advance_state(dt=1.0)
        rpes.append(float(cell.rpe.get()[0, 0]))
        mus.append(float(cell.mu.get()[0, 0]))
    return np.array(rpes), np.array(mus)


def test_online_mu_is_the_closed_form_ema():
    alpha = 0.2
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=30)
    cell = RewardErrorCell("r", n_units=1, alpha=alpha)
    rpes, mus = run_rewards(cell, rewards)
    for n in range(1, len(rewards) + 1):
        # mu_n = sum_k alpha (1 - alpha)^(n - k) r_k (mu_0 = 0)
        closed = sum(alpha * (1 - alpha) ** (n - k) * rewards[k - 1] for k in range(1, n + 1))
        assert mus[n - 1] == pytest.approx(closed, abs=1e-5)
    previous_mu = np.concatenate([[0.0], mus[:-1]])
    np.testing.assert_allclose(rpes, rewards - previous_mu, atol=1e-5)
    assert float(cell.n_ep_steps.get()[0, 0]) == len(rewards)
    assert float(cell.accum_reward.get()[0, 0]) == pytest.approx(rewards.sum(), abs=1e-4)


def test_constant_reward_becomes_predicted():
    cell = RewardErrorCell("r", n_units=1, alpha=0.5)
    rpes, _ = run_rewards(cell, [1.0] * 5)
    # rpe_n = (1 - alpha)^(n - 1) for a constant unit reward.
    np.testing.assert_allclose(rpes, [1.0, 0.5, 0.25, 0.125, 0.0625], atol=1e-6)


def test_episodic_mode_predicts_only_through_evolve():
    w = 4
    cell = RewardErrorCell("r", n_units=1, alpha=0.5, ema_window_len=w, use_online_predictor=False)
    rpes, mus = run_rewards(cell, [2.0, 4.0])
    np.testing.assert_allclose(mus, [0.0, 0.0])
    np.testing.assert_allclose(rpes, [2.0, 4.0])
    cell.evolve(dt=1.0)
    mu_1 = (1 - 1 / w) * 0.0 + (1 / w) * 3.0  # mean episode reward 3
    assert float(cell.mu.get()[0, 0]) == pytest.approx(mu_1)
    assert float(cell.n_ep_steps.get()[0, 0]) == 0.0
    assert float(cell.accum_reward.get()[0, 0]) == 0.0
    # Within the next episode the RPE is reward minus the carried prediction.
    rpes, _ = run_rewards(cell, [1.0])
    assert rpes[0] == pytest.approx(1.0 - mu_1)
    cell.evolve()
    assert float(cell.mu.get()[0, 0]) == pytest.approx((1 - 1 / w) * mu_1 + (1 / w) * 1.0)


def test_online_mode_also_evolves_and_clears_the_episode():
    cell = RewardErrorCell("r", n_units=1, alpha=0.5, ema_window_len=2)
    run_rewards(cell, [1.0, 1.0])  # mu = 0.75, episode mean 1
    cell.evolve()
    assert float(cell.mu.get()[0, 0]) == pytest.approx(0.5 * 0.75 + 0.5 * 1.0)
    assert float(cell.n_ep_steps.get()[0, 0]) == 0.0


def test_evolve_after_reset_leaves_mu_finite_and_unchanged():
    cell = RewardErrorCell("r", n_units=2, alpha=0.5, batch_size=3)
    cell.reset()
    cell.evolve()
    mu = np.asarray(cell.mu.get())
    assert np.all(np.isfinite(mu)) and np.all(mu == 0.0)
    cell.reward.set(jnp.ones((3, 2)))
    cell.advance_state()
    before = np.asarray(cell.mu.get())
    cell.evolve()
    cell.evolve()  # second evolve: n_ep_steps is 0 again, mu must not move
    after_first = np.asarray(cell.mu.get())
    cell.evolve()
    np.testing.assert_allclose(np.asarray(cell.mu.get()), after_first)
    assert not np.allclose(before, after_first)


def test_end_episode_only_touches_the_rows_that_ended():
    cell = RewardErrorCell("r", n_units=1, alpha=0.5, ema_window_len=2, batch_size=2)
    state = cell.set(cell.init_state(2), reward=jnp.asarray([[2.0], [4.0]]))
    state = cell.step(state)
    ended = cell.end_episode(state, done=jnp.asarray([True, False]))
    np.testing.assert_allclose(ended.mu[:, 0], [0.5 * 1.0 + 0.5 * 2.0, 2.0])
    np.testing.assert_allclose(ended.n_ep_steps[:, 0], [0.0, 1.0])
    np.testing.assert_allclose(ended.accum_reward[:, 0], [0.0, 4.0])
    with pytest.raises(ValueError, match="done"):
        cell.end_episode(state, done=jnp.asarray([True, False, True]))


def test_reset_zeroes_everything_including_the_input():
    cell = RewardErrorCell("r", n_units=1, alpha=0.5)
    run_rewards(cell, [1.0, 2.0])
    cell.reset()
    for name in RewardErrorCell.compartments:
        assert np.all(np.asarray(getattr(cell, name).get()) == 0.0), name


def test_nan_reward_is_refused():
    cell = RewardErrorCell("r", n_units=1, alpha=0.5)
    with pytest.raises(ValueError, match=r"reward.*finite"):
        cell.reward.set(jnp.full((1, 1), jnp.nan))
    assert float(cell.reward.get()[0, 0]) == 0.0
