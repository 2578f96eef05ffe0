"""Scripts, smoke-tested with tiny budgets; the bandit's RPE facts checked with numbers."""

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

SCRIPTS = pathlib.Path(__file__).resolve().parents[1] / "scripts"


def load(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def test_bandit_learns_the_rates_and_the_reversal_gives_negative_rpes(tmp_path, capsys):
    bandit = load("bandit_rpe")
    log = bandit.main(["--trials", "1200", "--block", "300", "--alpha", "0.05", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert "mean|rpe|" in printed and (tmp_path / "bandit_rpe.png").stat().st_size > 10_000
    reversal = 600
    # Before the reversal the good arm (0, rate 0.8) is predicted and chosen.
    assert abs(log["mu"][reversal - 1, 0] - 0.8) < 0.15
    assert np.mean(log["choice"][300:reversal] == 0) > 0.9
    # Once predicted, arm 0's RPE averages ~0; right after the reversal (rate now 0.2)
    # its pulls give strongly negative RPEs ...
    before = slice(reversal - 100, reversal)
    assert abs(np.mean(log["rpe"][before][log["choice"][before] == 0])) < 0.15
    after = slice(reversal, reversal + 100)
    rpe_0 = log["rpe"][after][log["choice"][after] == 0][:20]
    assert len(rpe_0) == 20 and np.mean(rpe_0) < -0.3
    # ... its prediction falls and choices follow the new good arm.
    assert log["mu"][-1, 0] < 0.5
    assert np.mean(log["choice"][-300:] == 1) > 0.9


def test_bandit_is_reproducible_by_seed(tmp_path):
    bandit = load("bandit_rpe")
    a = bandit.run(bandit.BanditConfig(trials=50, seed=3, out=str(tmp_path)))
    b = bandit.run(bandit.BanditConfig(trials=50, seed=3, out=str(tmp_path)))
    np.testing.assert_array_equal(a["choice"], b["choice"])
    np.testing.assert_array_equal(a["mu"], b["mu"])


def test_bandit_rejects_bad_arguments(tmp_path):
    bandit = load("bandit_rpe")
    with pytest.raises(SystemExit) as info:
        bandit.main(["--temperature", "0", "--out", str(tmp_path)])
    assert info.value.code == 2


@pytest.mark.slow
def test_benchmark_cells_prints_its_table(capsys):
    import time

    bench = load("benchmark_cells")
    result = bench.main(["--repeats", "1", "--steps", "2"])
    out = capsys.readouterr().out
    assert "workflow us" in out and "shell/floor" in out and "target <= 3" in out
    cells = [r for r in result["rows"] if "cell" in r]
    assert len(cells) == 12 and all(r["scan_us"] > 0 and r["workflow_us"] > 0 for r in cells)
    # One table line per (cell, batch), and a verdict line per target (no ngc-learn here).
    assert sum(line.split()[0] in bench.CELLS for line in out.splitlines() if line.strip()) == 12
    assert len([line for line in out.splitlines() if line.startswith(("met ", "MISS"))]) == 7
    assert result["pairs"] == [] and len(result["noise"]) == 2
    assert sum(line.startswith(("keep rpe.noise", "switch to")) for line in out.splitlines()) == 1
    # Per-step times are in microseconds per step: a run that sleeps 2 ms over 4 steps
    # takes at least 500 us a step (and not ten times that).
    times = bench._per_step_times({"sleep": lambda: time.sleep(0.002)}, steps=4, repeats=2)
    assert all(500.0 <= t < 5000.0 for t in times["sleep"])
    # The verdicts follow the measured ratios: planted rows, one of each verdict.
    planted = [
        {"cell": name, "batch": 1, "shell/floor": 2.5 if name == "RateCell" else 1.5} for name in bench.CELLS
    ]
    planted.append({"noise_ratio": 3.5})
    pairs = [
        {"cell": "RateCell", "batch": 1, "ratio": 0.4},
        {"cell": "RewardErrorCell", "batch": 256, "ratio": 0.6},
    ]
    verdicts = {label: ok for label, _, _, ok in bench.targets(planted, pairs)}
    assert not verdicts["RateCell shell / floor at batch 1"]
    assert verdicts["RewardErrorCell shell / floor at batch 1"]
    assert not verdicts["LeakyNoiseCell scan / RateCell scan at batch 256"]
    assert verdicts["RateCell workflow / ngc-learn at batch 1"]
    assert not verdicts["RewardErrorCell workflow / ngc-learn at batch 256"]
    # rpe.noise is kept unless a library generator is within 1.2x of it at every batch.
    ratios = {"threefry2x32": (1.0, 3.7), "rbg": (2.0, 15.0), "unsafe_rbg": (2.1, 14.0)}
    rows = [
        {"batch": b, **{f"{g}/rpe.noise": r[i] for g, r in ratios.items()}} for i, b in enumerate((1, 256))
    ]
    assert bench.noise_decision(rows).startswith(
        "keep rpe.noise: the fastest library generator, threefry2x32"
    )
    rows[1]["threefry2x32/rpe.noise"] = 1.1
    assert bench.noise_decision(rows).startswith("switch to jax.random.normal with threefry2x32")


def test_conditioning_rpe_moves_from_reward_to_cue_and_omission_is_negative(tmp_path, capsys):
    cond = load("conditioning_rpe")
    result = cond.main(["--trials", "200", "--eta", "0.1", "--alpha", "0.1", "--out", str(tmp_path)])
    assert "omission" in capsys.readouterr().out
    assert (tmp_path / "conditioning_rpe.png").stat().st_size > 10_000
    gamma, delay = 0.98, 15 - 5
    # First trial: the whole RPE sits at the unpredicted reward, none at the cue.
    assert result["td_at_reward"][0] == pytest.approx(1.0, abs=1e-6)
    assert result["cell_at_reward"][0] == pytest.approx(1.0, abs=1e-6)
    assert abs(result["td_at_cue"][0]) < 1e-6
    # Late trials: the reward is predicted (RPE ~ 0 there) and the RPE sits at the cue,
    # approaching the discounted reward gamma^delay.
    assert np.all(np.abs(result["td_at_reward"][-20:]) < 0.01)
    assert np.all(np.abs(result["cell_at_reward"][-20:]) < 0.01)
    assert 0.6 < result["td_at_cue"][-1] <= gamma**delay + 1e-4
    # The RPE at the reward shrinks monotonically while it is being learned.
    assert np.all(np.diff(result["cell_at_reward"][:50]) < 0)
    # Omitting the expected reward: a negative RPE at the time it was due.
    assert result["probe_td_at_reward"] < -0.9 and result["probe_cell_at_reward"] < -0.9
    assert abs(result["probe_td"][result["cue_index"]] - result["td_at_cue"][-1]) < 0.05


def test_conditioning_rejects_an_impossible_trial(tmp_path):
    cond = load("conditioning_rpe")
    with pytest.raises(SystemExit) as info:
        cond.main(["--cue-step", "15", "--reward-step", "5", "--out", str(tmp_path)])
    assert info.value.code == 2


def test_benchmark_learning_prints_its_table(capsys):
    bench = load("benchmark_learning")
    rows = bench.main(["--seeds", "1", "--episodes", "16", "--envs", "CartPole-v1"])
    out = capsys.readouterr().out
    assert "final median" in out and "CartPole-v1" in out
    # 16 episodes cannot fill the 100-episode window, so nothing is solved; a fresh CartPole
    # policy lasts 8 to a few dozen steps per episode, far from the 500 cap.
    assert rows[0]["solved"] == "0/1" and rows[0]["episodes"] == "-"
    assert 8.0 <= float(rows[0]["final median"]) < 100.0


@pytest.mark.slow
def test_benchmark_learning_scores_the_trial_agent_in_percent_correct(capsys):
    bench = load("benchmark_learning")
    rows = bench.main(["--seeds", "1", "--agents", "np-rnn", "--trials", "800"])
    assert rows[0]["env"] == "PerceptualDecision-v0" and rows[0]["target"] == ">= 90%"
    assert 0.0 <= float(rows[0]["final median"]) <= 100.0


def test_soak_checks_finiteness_and_memory(capsys):
    from typing import NamedTuple

    soak = load("soak")
    result = soak.main(["--steps", "20000", "--num-envs", "4", "--updates-per-call", "5"])
    out = capsys.readouterr().out
    assert "finite: every weight" in out and "no growth" in out
    # Two calls of 5 updates x 4 episodes padded to CartPole's 500 steps; a memory sample each.
    assert (result["steps"], result["updates"], len(result["rss"])) == (20000, 10, 2)
    assert result["non_finite"] == [] and all(m > 0 for m in result["rss"])

    # A NaN and an Inf planted deep in a NamedTuple state are found, by their paths.
    class Stats(NamedTuple):
        mean: np.ndarray
        m2: np.ndarray

    class State(NamedTuple):
        weights: np.ndarray
        stats: Stats
        hp: dict

    state = State(
        np.ones((2, 3)),
        Stats(np.zeros(3), np.array([1.0, np.inf])),
        {"eta": np.float32(np.nan), "gamma": 1.0},
    )
    assert soak.non_finite_leaves(state) == [".stats.m2", ".hp['eta']"]
    assert soak.non_finite_leaves(state._replace(stats=Stats(np.zeros(3), np.ones(2)), hp={})) == []
    # Memory: a flat series (and one within the slack) did not grow; a rising tail did.
    assert soak.memory_grew([300.0] * 8, 20.0) == (False, 300.0, 300.0)
    assert not soak.memory_grew([300.0, 310.0, 305.0, 315.0], 20.0)[0]
    assert soak.memory_grew([100.0, 101.0, 180.0, 190.0], 20.0) == (True, 100.0, 190.0)


@pytest.mark.slow
def test_benchmark_rows_run_and_report_ratios():
    import statistics
    import time

    import jax

    from agents.env_spec import make_env_spec
    from agents.jit_training import make_train
    from agents.registry import make_agent
    from agents.rollout import jax_rollout

    bench = load("benchmark")
    row = bench.row_jit(2, repeats=5, n_updates=1)
    # Steps: the real env steps of the timed call (key 2), counted here from the episodes'
    # own record; computed: 2 envs x the longer episode (the batch stops when both ended).
    agent = make_agent("pg", make_env_spec("CartPole-v1"))
    state = agent.init(jax.random.key(0), agent.config.numeric_values())
    _, batch = jax_rollout(agent, state, jax.random.fold_in(jax.random.key(2), 0), 2)
    alive = np.asarray(batch.traj.alive)
    assert row["steps"] == int(alive.sum()) < 2 * 500  # a fresh policy ends far before 500 steps
    assert row["computed"] == 2 * int(alive.sum(axis=1).max())
    # Steps/s agrees, within a loose factor, with timing the same work here.
    train = jax.jit(make_train(agent, 2, 1))
    jax.block_until_ready(train(state, jax.random.key(1)))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        jax.block_until_ready(train(state, jax.random.key(2)))
        times.append(time.perf_counter() - start)
    assert 0.2 < row["train steps/s"] / (row["steps"] / statistics.median(times)) < 5.0
    assert row["compile s"] > 0 and row["reference compile s"] > 0
    # The reference does less work per step than training (random actions, no learning); a
    # reference folded away would be ~100x faster.
    assert row["train s"] > 0 and row["reference s"] > 0
    assert 0.02 < row["ratio"] < 3.0


def test_benchmark_learning_anchor_statistics_by_hand():
    bench = load("benchmark_learning")
    to_500 = bench.Anchor("CartPole-v1", "episodes_to", 500, 170, "x", 1000)
    returns = np.r_[np.full(30, 20.0), np.full(120, 500.0)]
    assert to_500.score(returns) == 130.0  # the window of episodes 31..130 is the first all-500 one
    assert to_500.score(np.full(150, 499.0)) == np.inf and not to_500.met(np.inf)
    first = bench.Anchor("Acrobot-v1", "mean_first", 4, -100, "x", 500)
    assert first.score(np.asarray([-200.0, -100.0, -60.0, -40.0, -500.0])) == -100.0
    assert first.met(-100.0) and not first.met(-100.5) and to_500.met(170.0)


def test_benchmark_learning_best_window_by_hand():
    bench = load("benchmark_learning")
    returns = np.r_[np.zeros(100), np.ones(50)]
    assert bench.best_window(returns) == 0.5  # episodes 51..150
    assert bench.best_window(np.asarray([1.0, 3.0]), window=100) == 2.0  # fewer than a window


def test_benchmark_learning_hands_the_cognitive_rows_to_benchmark_cognitive(monkeypatch):
    bench = load("benchmark_learning")
    import benchmark_cognitive

    calls = []
    monkeypatch.setattr(benchmark_cognitive, "main", lambda argv: calls.append(argv) or [])
    bench.main(["--cognitive", "--seeds", "2", "--envs", "DelayedNonMatch-v0"])
    assert calls == [["--seeds", "2", "--envs", "DelayedNonMatch-v0"]]
