"""The train command: run folder, checkpoints (atomic, round trip), exact resume after an
interrupt or a kill, evaluation, bad input, and learning that clearly beats chance."""

import csv
import json
import os
import pathlib
import pickle
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents.training import TrainConfig, Trainer, load_checkpoint

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import evaluate as evaluate_script  # noqa: E402
import train as train_script  # noqa: E402


def assert_same_state(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_train_command_writes_the_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    result = train_script.main(
        ["--episodes", "24", "--num-envs", "8", "--out", str(out), "--quiet", "--no-stop"]
    )
    printed = capsys.readouterr().out
    assert "pg on CartPole-v1" in printed and "run folder" in printed
    for name in ("config.json", "metrics.csv", "learning_curve.png", "rpe.png", "checkpoint.pkl"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["env"] == "CartPole-v1" and config["seed"] == 0
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [int(r["episode"]) for r in rows] == list(range(1, 25))
    assert set(rows[0]) == {"episode", "steps", "return", "mean_abs_rpe", "reward_prediction"}
    assert all(float(r["return"]) == float(r["steps"]) for r in rows)  # CartPole pays 1 per step
    assert len(result["metrics"]) == 24


def test_python_loop_path_on_a_real_gymnasium_env(tmp_path):
    config = TrainConfig(
        env="CartPole-v1",
        path="python",
        episodes=6,
        num_envs=3,
        out=str(tmp_path / "py"),
        stop_when_solved=False,
    )
    result = Trainer(config).run(progress=False)
    assert len(result["metrics"]) == 6 and all(r["steps"] >= 8 for r in result["metrics"])


def test_checkpoint_round_trip_and_evaluation(tmp_path, capsys):
    config = TrainConfig(episodes=16, out=str(tmp_path / "rt"), stop_when_solved=False)
    result = Trainer(config).run(progress=False)
    ckpt = load_checkpoint(tmp_path / "rt" / "checkpoint.pkl")
    assert ckpt["update"] == 2 and len(ckpt["metrics"]) == 16
    assert_same_state(ckpt["state"], result["state"])
    returns = evaluate_script.main([str(tmp_path / "rt" / "checkpoint.pkl"), "--episodes", "5"])
    assert len(returns) == 5 and "mean return" in capsys.readouterr().out


@pytest.mark.parametrize("path", ["jit", "python"])
def test_resume_after_an_interrupt_equals_an_uninterrupted_run(tmp_path, path):
    kwargs = {"episodes": 24, "num_envs": 4, "path": path, "stop_when_solved": False, "checkpoint_every": 2}
    whole = Trainer(TrainConfig(out=str(tmp_path / "whole"), **kwargs)).run(progress=False)
    part = TrainConfig(out=str(tmp_path / "part"), **kwargs)
    stopped = Trainer(part).run(progress=False, stop_after=3)
    assert stopped["interrupted"] and len(stopped["metrics"]) == 12
    resumed = Trainer(part).run(progress=False, resume=True)
    assert_same_state(resumed["state"], whole["state"])
    assert resumed["metrics"] == whole["metrics"]


def test_resume_refuses_a_checkpoint_of_another_configuration(tmp_path):
    Trainer(TrainConfig(episodes=8, out=str(tmp_path / "r"), stop_when_solved=False)).run(progress=False)
    with pytest.raises(ValueError, match="different configuration"):
        Trainer(TrainConfig(episodes=8, seed=1, out=str(tmp_path / "r"))).run(progress=False, resume=True)


def test_a_kill_mid_run_resumes_to_the_same_weights(tmp_path):
    args = ["--episodes", "800", "--num-envs", "8", "--no-stop", "--quiet", "--checkpoint-every", "1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "train.py"), *args, "--out", str(killed)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (killed / "checkpoint.pkl").exists():
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = load_checkpoint(killed / "checkpoint.pkl")  # readable: written atomically
    assert 0 < partial["update"] < 100
    resumed = train_script.main([*args, "--out", str(killed), "--resume"])
    whole = train_script.main([*args, "--out", str(tmp_path / "whole")])
    assert_same_state(resumed["state"], whole["state"])
    assert resumed["metrics"] == whole["metrics"]


def test_a_failed_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    trainer = Trainer(TrainConfig(episodes=8, out=str(tmp_path / "a"), stop_when_solved=False))
    trainer.run(progress=False)
    before = (tmp_path / "a" / "checkpoint.pkl").read_bytes()

    def crash(_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        stacked = jax.tree.map(
            lambda x: x[None], trainer.agent.init(jax.random.key(1))
        )  # a population of one
        trainer._save(stacked, 99, [[]])
    assert (tmp_path / "a" / "checkpoint.pkl").read_bytes() == before
    assert pickle.loads(before)["update"] == 1
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "NoSuchEnv-v0"], "unknown env 'NoSuchEnv-v0'"),
        (["--agent", "dqn"], "unknown agent 'dqn'; choose one of ['ac', 'pg']"),
        (["--env", "FrozenLake-v1"], "FrozenLake-v1: the pg agent needs a 1-D Box observation space"),
        (["--env", "Blackjack-v1"], "Blackjack-v1"),
        (["--path", "gpu"], "unknown path 'gpu'"),
        (["--episodes", "0"], "--episodes must be >= 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(argv, message, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), *argv, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr


def test_pg_clearly_beats_a_random_policy_on_cartpole(tmp_path):
    result = Trainer(TrainConfig(episodes=480, out=str(tmp_path / "learn"), stop_when_solved=False)).run(
        progress=False
    )
    returns = np.asarray([r["return"] for r in result["metrics"]])
    random_policy_mean = 22.0  # CartPole-v1 under uniformly random actions
    assert returns[:16].mean() < 2 * random_policy_mean
    assert returns[-48:].mean() > 3 * random_policy_mean


def test_ac_clearly_beats_a_random_policy_on_mountain_car(tmp_path):
    """A random policy never reaches the flag in 200 steps (return -200 every episode)."""
    config = TrainConfig(agent="ac", env="MountainCar-v0", episodes=480, out=str(tmp_path))
    result = Trainer(config).run(progress=False)
    returns = np.asarray([r["return"] for r in result["metrics"]])
    assert returns[:8].mean() < -195
    assert returns[-96:].mean() > -185
    assert all(np.isfinite(r["mean_abs_rpe"]) for r in result["metrics"])


def test_tile_code_activates_one_tile_per_tiling_and_generalises_locally():
    from agents.tile_coding import tile_code, tile_encode

    code = tile_code([-1.0, 0.0], [1.0, 2.0], tiles=4, n_tilings=3)
    phi = np.asarray(tile_encode(code, jnp.asarray([[0.1, 1.0], [0.12, 1.01], [-0.9, 0.1]])))
    assert phi.shape == (3, code.n_features)
    np.testing.assert_allclose(phi.sum(axis=1), 1.0, rtol=1e-6)  # n_tilings entries of 1/n_tilings
    assert np.count_nonzero(phi[0]) == 3
    assert phi[0] @ phi[1] > phi[0] @ phi[2]  # near points share more tiles than far ones
    hashed = tile_code(np.zeros(6), np.ones(6), tiles=10, n_tilings=2, max_tiles=64)
    assert hashed.hashed and hashed.n_features == 128
    assert np.count_nonzero(np.asarray(tile_encode(hashed, jnp.full((6,), 0.5)))) == 2
    with pytest.raises(ValueError, match="finite bounds"):
        tile_code([0.0], [np.inf])
