"""The train command: run folder, checkpoints (data only, atomic, round trip), exact resume
after an interrupt, a SIGINT or a kill, evaluation, bad input, and learning that clearly
beats chance."""

import csv
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from agents import PolicyGradientConfig
from agents.checkpoint import read_meta
from agents.training import TrainConfig, Trainer

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
        [
            "--agent",
            "pg",
            "--episodes",
            "24",
            "--out",
            str(out),
            "--quiet",
            "--no-stop",
            "--set",
            "gamma=0.98",
        ]
    )
    printed = capsys.readouterr().out
    assert "pg on CartPole-v1" in printed and "run folder" in printed
    for name in ("config.json", "metrics.csv", "learning_curve.png", "rpe.png", "checkpoint.npz"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["env"] == "CartPole-v1" and config["seed"] == 0 and config["agent"] == "pg"
    # Every hyperparameter is recorded, the one set on the command line with its value.
    assert config["agent_config"] == {**PolicyGradientConfig().as_dict(), "gamma": 0.98}
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [int(r["episode"]) for r in rows] == list(range(1, 25))
    assert set(rows[0]) == {"episode", "steps", "return", "mean_abs_rpe", "reward_prediction"}
    assert all(float(r["return"]) == float(r["steps"]) for r in rows)  # CartPole pays 1 per step
    assert len(result["metrics"]) == 24
    np.testing.assert_allclose(float(result["state"].hp["gamma"]), 0.98, rtol=1e-6)


def test_every_metric_the_agent_reports_reaches_metrics_csv(tmp_path):
    config = TrainConfig(
        agent="ac", env="MountainCar-v0", episodes=8, out=str(tmp_path), stop_when_solved=False
    )
    Trainer(config).run(progress=False)
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert "epistemic_reward" in rows[0] and len(rows) == 8
    assert all(0.0 < float(r["epistemic_reward"]) <= 1.0 for r in rows)  # in (0, curiosity]


def test_python_loop_path_on_a_real_gymnasium_env(tmp_path):
    config = TrainConfig(
        agent="pg", path="python", episodes=6, num_envs=3, out=str(tmp_path / "py"), stop_when_solved=False
    )
    result = Trainer(config).run(progress=False)
    assert len(result["metrics"]) == 6 and all(r["steps"] >= 8 for r in result["metrics"])


def test_checkpoint_round_trip_and_evaluation(tmp_path, capsys):
    config = TrainConfig(agent="pg", episodes=16, out=str(tmp_path / "rt"), stop_when_solved=False)
    result = Trainer(config).run(progress=False)
    meta, _ = read_meta(tmp_path / "rt" / "checkpoint.npz")
    assert meta["update"] == 2 and len(meta["metrics"][0]) == 16 and meta["agent"] == "pg"
    _, state = evaluate_script.load_agent(str(tmp_path / "rt" / "checkpoint.npz"))
    assert_same_state(state, result["state"])
    returns = evaluate_script.main([str(tmp_path / "rt" / "checkpoint.npz"), "--episodes", "5"])
    assert len(returns) == 5 and "mean return" in capsys.readouterr().out


@pytest.mark.parametrize("path", ["jit", "python"])
def test_resume_after_an_interrupt_equals_an_uninterrupted_run(tmp_path, path):
    kwargs = {"episodes": 24, "num_envs": 4, "path": path, "stop_when_solved": False, "checkpoint_every": 2}
    whole = Trainer(TrainConfig(agent="pg", out=str(tmp_path / "whole"), **kwargs)).run(progress=False)
    part = TrainConfig(agent="pg", out=str(tmp_path / "part"), **kwargs)
    stopped = Trainer(part).run(progress=False, stop_after=3)
    assert stopped["interrupted"] and len(stopped["metrics"]) == 12
    resumed = Trainer(part).run(progress=False, resume=True)
    assert_same_state(resumed["state"], whole["state"])
    assert resumed["metrics"] == whole["metrics"]


def test_resume_refuses_a_checkpoint_of_another_configuration_naming_the_fields(tmp_path):
    Trainer(TrainConfig(agent="pg", episodes=8, out=str(tmp_path / "r"), stop_when_solved=False)).run(
        progress=False
    )
    with pytest.raises(ValueError, match=r"eta: 0.05 -> 0.1; seed: 0 -> 1"):
        Trainer(TrainConfig(agent="pg", episodes=8, seed=1, out=str(tmp_path / "r")), {"eta": "0.1"}).run(
            progress=False, resume=True
        )
    # A change of env or population is named too, before the arrays (of other shapes) are read.
    with pytest.raises(ValueError, match=r"env: 'CartPole-v1' -> 'Acrobot-v1'"):
        Trainer(TrainConfig(agent="pg", env="Acrobot-v1", episodes=8, out=str(tmp_path / "r"))).run(
            progress=False, resume=True
        )
    with pytest.raises(ValueError, match=r"population: 1 -> 2"):
        Trainer(TrainConfig(agent="pg", episodes=8, population=2, out=str(tmp_path / "r"))).run(
            progress=False, resume=True
        )
    # A larger budget is not a different run: it resumes.
    longer = Trainer(TrainConfig(agent="pg", episodes=16, out=str(tmp_path / "r"), stop_when_solved=False))
    assert len(longer.run(progress=False, resume=True)["metrics"]) == 16


def test_a_failed_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    trainer = Trainer(TrainConfig(agent="pg", episodes=8, out=str(tmp_path / "a"), stop_when_solved=False))
    trainer.run(progress=False)
    before = (tmp_path / "a" / "checkpoint.npz").read_bytes()

    def crash(_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        trainer._save(trainer.initial_state, 99, [[]])
    assert (tmp_path / "a" / "checkpoint.npz").read_bytes() == before
    assert read_meta(tmp_path / "a" / "checkpoint.npz")[0]["update"] == 1
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.endswith(".tmp")]


def _run(argv, **kwargs):
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "train.py"),
            *([] if "--agent" in argv else ["--agent", "pg"]),
            *argv,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        **kwargs,
    )


BAD_INPUT = [
    (["--env", "NoSuchEnv-v0"], "unknown env 'NoSuchEnv-v0'"),
    (["--agent", "dqn"], "invalid choice: 'dqn' (choose from 'ac', "),
    (["--env", "FrozenLake-v1"], "FrozenLake-v1: the pg agent needs a 1-D Box observation space"),
    (["--path", "gpu"], "invalid choice: 'gpu'"),
    (["--episodes", "0"], "episodes: expected an int >= 1, got 0"),
    (
        ["--set", "etaa=0.1"],
        "etaa: not a hyperparameter of PolicyGradientConfig; expected one of ['action_sigma'",
    ),
    (["--set", "eta=fast"], "eta: expected float, got 'fast'"),
    (["--set", "gamma=1.5"], "gamma: expected a value in [0, 1], got 1.5"),
    (["--set", "eta"], "--set: expected NAME=VALUE, got 'eta'"),
    (["--population", "2", "--sweep", "gamma=0.9"], "sweep: gamma has 1 values for a population of 2"),
    (
        ["--population", "2", "--sweep", "nope=1,2"],
        "sweep: 'nope' is not a hyperparameter of agent 'pg'; sweepable: eta",
    ),
    (
        ["--agent", "ac", "--env", "MountainCar-v0", "--population", "2", "--sweep", "n_tilings=4,8"],
        "structural",
    ),
    (["--population", "2", "--sweep", "gamma=0.9,7"], "gamma: expected a value in [0, 1], got 7.0"),
    (["--env", "no_such_module_xyz:Env-v0"], "needs the module 'no_such_module_xyz'"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("argv", "message"), BAD_INPUT)
def test_bad_input_is_one_line_and_exit_status_2_and_writes_nothing(argv, message, tmp_path):
    out = tmp_path / "run"
    proc = _run([*argv, "--out", str(out)])
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert not out.exists()


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT)
def test_bad_input_is_reported_before_anything_is_written(argv, message, tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as info:
        train_script.parse_args([*([] if "--agent" in argv else ["--agent", "pg"]), *argv, "--out", str(out)])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


def test_box2d_envs_train_or_say_what_to_install(tmp_path, capsys):
    try:
        import Box2D  # noqa: F401
    except ImportError:
        with pytest.raises(SystemExit) as info:
            train_script.parse_args(["--env", "LunarLander-v3", "--out", str(tmp_path)])
        assert info.value.code == 2
        assert 'pip install -e ".[box2d]"' in capsys.readouterr().err
        return
    config = TrainConfig(
        agent="pg", env="LunarLander-v3", episodes=2, num_envs=2, out=str(tmp_path), stop_when_solved=False
    )
    result = Trainer(config).run(progress=False)
    assert len(result["metrics"]) == 2


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[: len(b) // 2], "not a readable checkpoint"),
        (lambda b: b"not a zip at all", "not a readable checkpoint"),
    ],
)
def test_a_damaged_checkpoint_is_one_line_naming_the_file(tmp_path, damage, message, capsys):
    out = tmp_path / "d"
    Trainer(TrainConfig(agent="pg", episodes=8, out=str(out), stop_when_solved=False)).run(progress=False)
    path = out / "checkpoint.npz"
    path.write_bytes(damage(path.read_bytes()))
    for command in (
        lambda: evaluate_script.main([str(path), "--episodes", "1"]),
        lambda: train_script.main(
            ["--agent", "pg", "--episodes", "8", "--out", str(out), "--resume", "--quiet"]
        ),
    ):
        with pytest.raises(SystemExit) as info:
            command()
        assert info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(path) in err[0] and message in err[0]


def test_a_pickle_checkpoint_is_never_opened_and_a_file_is_no_run_folder(tmp_path, capsys):
    (tmp_path / "checkpoint.pkl").write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")  # would run code
    with pytest.raises(SystemExit) as info:
        train_script.main(["--agent", "pg", "--episodes", "8", "--out", str(tmp_path), "--resume", "--quiet"])
    assert info.value.code == 2 and "a pickle checkpoint of an older rpe" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    with pytest.raises(SystemExit) as info:
        train_script.parse_args(["--out", str(tmp_path / "afile" / "run")])
    assert info.value.code == 2 and "is a file, not a folder" in capsys.readouterr().err


def test_a_checkpoint_for_another_agent_or_format_version_is_refused(tmp_path, capsys, monkeypatch):
    from agents import checkpoint
    from agents.registry import make_agent

    config = TrainConfig(
        agent="pg", env="MountainCar-v0", episodes=8, out=str(tmp_path), stop_when_solved=False
    )
    trainer = Trainer(config)
    trainer.run(progress=False)
    argv = ["--agent", "ac", "--env", "MountainCar-v0", "--episodes", "8", "--out", str(tmp_path), "--resume"]
    with pytest.raises(SystemExit):
        train_script.main(["--agent", "pg", *argv, "--quiet"])
    assert "agent: 'pg' -> 'ac'" in capsys.readouterr().err
    path = tmp_path / "checkpoint.npz"
    ac = make_agent("ac", trainer.spec)
    template = jax.vmap(ac.init)(
        jax.random.split(jax.random.key(0), 1), jax.tree.map(lambda x: x[None], ac.config.numeric_values())
    )
    with pytest.raises(
        checkpoint.CheckpointError, match=r"checkpoint\.npz: a checkpoint of agent 'pg', not 'ac'"
    ):
        checkpoint.read_checkpoint(path, template, agent="ac")
    monkeypatch.setattr(checkpoint, "FORMAT_VERSION", 99)
    with pytest.raises(SystemExit) as info:
        evaluate_script.main([str(path), "--episodes", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1
    assert f"{path}: checkpoint format version 3, this rpe reads version 99" in err[0]


TRAIN = [
    sys.executable,
    str(ROOT / "scripts" / "train.py"),
    "--agent",
    "pg",
    "--seed",
    "7",
    "--no-stop",
    "--quiet",
]


def _metrics(path):
    return list(csv.DictReader((path / "metrics.csv").open()))


def _leaves(path):
    with np.load(path / "checkpoint.npz") as archive:
        return {k: archive[k] for k in archive.files if k != "__meta__"}


def _update_count(out: pathlib.Path) -> int:
    try:
        return read_meta(out / "checkpoint.npz")[0]["update"]
    except ValueError:
        return -1  # not written yet


MOMENTS = {  # when to send SIGINT, judged from what the run folder shows
    "importing": lambda out, t: t > 0.3,
    "compiling": lambda out, t: (out / "config.json").exists(),
    "first checkpoint": lambda out, t: _update_count(out) >= 4,
    "a third in": lambda out, t: _update_count(out) >= 32,
    "two thirds in": lambda out, t: _update_count(out) >= 64,
}


@pytest.mark.slow
def test_sigint_at_any_moment_then_resume_equals_the_uninterrupted_run(tmp_path):
    """Ctrl-C while importing, while compiling, and at several moments of a jitted run: the
    run stops promptly (status 130, one line, no traceback) and resuming gives the
    uninterrupted run's episodes and weights exactly."""
    args = [
        *("--env", "Acrobot-v1", "--agent", "pg", "--num-envs", "64", "--episodes", "6144"),
        *("--checkpoint-every", "4", "--updates-per-call", "2"),
    ]
    env = {**os.environ, "RPE_JAX_CACHE": str(tmp_path / "cache")}
    whole = tmp_path / "whole"
    assert subprocess.run([*TRAIN, *args, "--out", str(whole)], env=env, timeout=600).returncode == 0
    for moment, reached in MOMENTS.items():
        out = tmp_path / moment.replace(" ", "-")
        proc = subprocess.Popen(
            [*TRAIN, *args, "--out", str(out)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        begin = time.time()
        while proc.poll() is None and not reached(out, time.time() - begin):
            time.sleep(0.01)
        sent = time.time()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert time.time() - sent < 20, f"{moment}: stopping took {time.time() - sent:.1f} s"
        assert proc.returncode == 130 and "Traceback" not in err, (moment, proc.returncode, err)
        done = len(_metrics(out)) if (out / "metrics.csv").exists() else 0
        assert done < 6144, f"{moment}: the run had already finished"
        resumed = subprocess.run([*TRAIN, *args, "--out", str(out), "--resume"], env=env, timeout=600)
        assert resumed.returncode == 0
        assert _metrics(out) == _metrics(whole), moment
        a, b = _leaves(out), _leaves(whole)
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), moment


@pytest.mark.slow
def test_a_kill_mid_run_resumes_to_the_same_weights(tmp_path):
    args = ["--episodes", "800", "--num-envs", "8", "--checkpoint-every", "1"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [*TRAIN, *args, "--out", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (killed / "checkpoint.npz").exists():
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial, _ = read_meta(killed / "checkpoint.npz")  # readable: written atomically
    assert 0 < partial["update"] < 100
    subprocess.run([*TRAIN, *args, "--out", str(killed), "--resume"], timeout=600, check=True)
    subprocess.run([*TRAIN, *args, "--out", str(tmp_path / "whole")], timeout=600, check=True)
    assert _metrics(killed) == _metrics(tmp_path / "whole")
    a, b = _leaves(killed), _leaves(tmp_path / "whole")
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_pg_clearly_beats_a_random_policy_on_cartpole(tmp_path):
    result = Trainer(TrainConfig(agent="pg", episodes=480, out=str(tmp_path), stop_when_solved=False)).run(
        progress=False
    )
    returns = np.asarray([r["return"] for r in result["metrics"]])
    random_policy_mean = 22.0  # CartPole-v1 under uniformly random actions
    assert returns[:16].mean() < 2 * random_policy_mean
    assert returns[-48:].mean() > 3 * random_policy_mean


@pytest.mark.slow
def test_ac_clearly_beats_a_random_policy_on_mountain_car(tmp_path):
    """A random policy never reaches the flag in 200 steps (return -200 every episode)."""
    config = TrainConfig(agent="ac", env="MountainCar-v0", episodes=480, out=str(tmp_path))
    result = Trainer(config).run(progress=False)
    returns = np.asarray([r["return"] for r in result["metrics"]])
    assert returns[:8].mean() < -195
    assert returns[-96:].mean() > -185
    assert all(np.isfinite(r["mean_abs_rpe"]) for r in result["metrics"])


def test_tile_code_activates_one_tile_per_tiling_and_generalises_locally():
    import jax.numpy as jnp

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


def test_the_rpe_command_dispatches_to_the_scripts(tmp_path, capsys):
    import tomllib

    import cli

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"rpe": "scripts.cli:main"}
    cli.main(["--help"])
    listing = capsys.readouterr().out
    assert all(name in listing for name in cli.COMMANDS)
    with pytest.raises(SystemExit) as info:
        cli.main(["trian"])
    assert info.value.code == 2 and "unknown command 'trian'" in capsys.readouterr().err
    cli.main(["train", "--episodes", "8", "--out", str(tmp_path), "--quiet", "--no-stop"])
    assert "pc-ac on CartPole-v1" in capsys.readouterr().out and (tmp_path / "checkpoint.npz").is_file()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # cli installed its own
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
