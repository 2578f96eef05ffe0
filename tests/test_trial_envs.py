"""Trial envs of neurogym's convention: the TrialsAsEpisodes wrapper (trial boundaries, the
next trial's observation carried over without a reset, the cap, correct), trial_kind,
RewardToCell's evolve at each trial's end (single and vector, against the closed form of the
EMA fold), and `rpe train` on a trial env (one metrics row per trial with `correct`, the
Python path only, budgets in trials and steps, solved by a fraction correct).

TwoAFC below follows neurogym's TrialEnv exactly, without depending on neurogym."""

import csv
import functools
import json
import math
import pathlib
import sys

import gymnasium as gym
import numpy as np
import pytest

from agents.run_folder import solved_at
from agents.training import TrainConfig, Trainer
from envs import RewardToCell, TrialsAsEpisodes, is_trial_env, trial_correct, trial_kind
from envs.trials import DEFAULT_MAX_TRIAL_STEPS
from rpe import RewardErrorCell

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import train as train_script  # noqa: E402

FIXATION, STIMULUS, DECISION = 2, 2, 2  # steps per period
TRIAL_STEPS = FIXATION + STIMULUS + DECISION
REWARDS = {"abort": -0.1, "correct": 1.0, "fail": 0.0}
CAP = 8  # the test env's declared max_trial_steps
FIX, LEFT, RIGHT = 0, 1, 2


class TwoAFC(gym.Env):
    """A two-alternative forced choice in neurogym's convention.

    Observation ``(3,)``: ``[fixation cue, left evidence, right evidence]``; the evidence of the
    correct side (``gt``, 1 or 2) is 1 during the stimulus. Actions: 0 fixate, 1 left,
    2 right. Breaking fixation before the decision period costs ``REWARDS["abort"]`` (the
    trial goes on, neurogym's ``abort=False``); the first response in the decision period ends
    the trial (``new_trial``) with ``REWARDS["correct"]`` or ``REWARDS["fail"]`` on that same
    step; a trial without a response ends after ``TRIAL_STEPS`` steps (neurogym's ``tmax``).
    On a trial's last step ``info["performance"]`` is 1.0 or 0.0 and the observation is the
    next trial's first: the env never terminates. ``info["gt"]`` is the correct action now.
    ``terminate_trials=True`` gives the other kind: one trial per episode, terminated at its end.
    """

    metadata = {"render_modes": [], "max_trial_steps": CAP}
    observation_space = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
    action_space = gym.spaces.Discrete(3)

    def __init__(self, terminate_trials: bool = False):
        self.terminate_trials = terminate_trials
        self.resets = 0  # counted, to check that the wrapper does not reset between trials
        self.trials = 0

    def _new_trial(self):
        self.gt = int(self.np_random.integers(1, 3))
        self.t = 0
        self.performance = 0.0
        self.trials += 1

    def _obs(self) -> np.ndarray:
        obs = np.zeros(3, np.float32)
        obs[0] = float(self.t < FIXATION + STIMULUS)
        if FIXATION <= self.t < FIXATION + STIMULUS:
            obs[self.gt] = 1.0
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.resets += 1
        self._new_trial()
        return self._obs(), {}

    def step(self, action):
        new_trial, reward = False, 0.0
        deciding = self.t >= FIXATION + STIMULUS
        if not deciding and action != FIX:
            reward = REWARDS["abort"]
        elif deciding and action != FIX:
            new_trial = True
            self.performance = float(action == self.gt)
            reward = REWARDS["correct"] if action == self.gt else REWARDS["fail"]
        info = {"new_trial": new_trial, "gt": self.gt if deciding else FIX}
        self.t += 1
        if self.t >= TRIAL_STEPS:
            info["new_trial"] = True  # tmax: the trial ends without a response
        if info["new_trial"]:
            info["performance"] = self.performance
            if self.terminate_trials:
                return self._obs(), reward, True, False, info
            self._new_trial()
        return self._obs(), reward, False, False, info


gym.register("RpeTestTwoAFC-v0", entry_point=TwoAFC)
gym.register(
    "RpeTestTwoAFCEpisodic-v0",
    entry_point=functools.partial(TwoAFC, terminate_trials=True),
    max_episode_steps=TRIAL_STEPS,
)


def respond(env, choice: int, before: int = FIXATION + STIMULUS) -> list[tuple]:
    """Fixate ``before`` steps, then take ``choice``: the steps ``(obs, r, term, trunc, info)``."""
    return [env.step(FIX) for _ in range(before)] + [env.step(choice)]


# ---------------------------------------------------------------------------- the test env
def test_the_test_env_follows_neurogyms_convention():
    env = TwoAFC()
    env.reset(seed=0)
    gt = env.gt
    steps = respond(env, gt)
    assert [s[4]["new_trial"] for s in steps] == [False] * 4 + [True]
    assert all(not s[2] and not s[3] for s in steps)  # never terminated or truncated
    assert steps[-1][1] == REWARDS["correct"] and steps[-1][4]["performance"] == 1.0  # same step
    assert [s[4]["gt"] for s in steps] == [FIX] * 4 + [gt]
    assert "performance" not in steps[0][4]
    assert env.trials == 2 and env.t == 0 and env.resets == 1  # the next trial started by itself
    steps = [env.step(FIX) for _ in range(TRIAL_STEPS)]  # no response: ends at tmax, incorrect
    assert steps[-1][4]["new_trial"] and steps[-1][4]["performance"] == 0.0


# ---------------------------------------------------------------------------- trial_kind
def test_trial_kind_probes_the_convention_or_reads_a_declaration():
    assert trial_kind(TwoAFC()) == "continuing" and is_trial_env(gym.make("RpeTestTwoAFC-v0"))
    assert trial_kind(TwoAFC(terminate_trials=True)) == "episodic"
    assert trial_kind(gym.make("CartPole-v1")) is None and not is_trial_env(gym.make("CartPole-v1"))
    assert trial_kind(TrialsAsEpisodes(TwoAFC())) == "episodic"  # declared by the wrapper
    declared = TwoAFC()
    declared.metadata = {"trials": "continuing"}
    assert trial_kind(declared) == "continuing" and declared.resets == 0  # not probed
    declared.metadata = {"trials": "sometimes"}
    with pytest.raises(ValueError, match=r"^metadata\['trials'\]: expected one of .*'sometimes'"):
        trial_kind(declared)


# ---------------------------------------------------------------------------- the wrapper
def test_a_trial_end_is_an_episode_end_and_the_next_trial_is_carried_over_without_reset():
    env = TrialsAsEpisodes(TwoAFC())
    obs, _ = env.reset(seed=3)
    inner = env.unwrapped
    assert inner.resets == 1 and obs[0] == 1.0
    gt = inner.gt
    steps = respond(env, gt)
    assert [(s[2], s[3]) for s in steps] == [(False, False)] * 4 + [(True, False)]  # terminated
    last_obs, reward, _, _, info = steps[-1]
    assert reward == REWARDS["correct"] and trial_correct(info) == 1.0
    next_obs, reset_info = env.reset()
    assert next_obs is last_obs and reset_info == {}  # the next trial's first observation
    assert inner.resets == 1 and inner.trials == 2 and inner.t == 0  # the env went on
    wrong = LEFT if inner.gt == RIGHT else RIGHT
    steps = respond(env, wrong)
    assert steps[-1][2] and trial_correct(steps[-1][4]) == 0.0 and steps[-1][1] == REWARDS["fail"]
    env.reset(seed=4)  # a seed resets the env
    assert inner.resets == 2


def test_stepping_on_after_a_trial_end_continues_into_the_next_trial():
    env = TrialsAsEpisodes(TwoAFC())
    env.reset(seed=0)
    respond(env, env.unwrapped.gt)
    steps = respond(env, env.unwrapped.gt)  # no reset in between: neurogym's way
    assert steps[-1][2] and env.unwrapped.resets == 1 and env.unwrapped.trials == 3


def test_a_trial_longer_than_the_cap_is_cut_counted_and_reported():
    env = TrialsAsEpisodes(TwoAFC(), max_trial_steps=3)
    assert env.spec.max_episode_steps == 3 and env.max_trial_steps == 3
    env.reset(seed=0)
    steps = [env.step(FIX) for _ in range(3)]
    assert [(s[2], s[3]) for s in steps] == [(False, False)] * 2 + [(False, True)]  # truncated
    assert steps[-1][4]["trial_cut"] and math.isnan(trial_correct(steps[-1][4]))
    assert env.trials_cut == 1
    env.reset()  # after a cut trial the env is reset: the next episode is a whole trial
    assert env.unwrapped.resets == 2


def test_the_cap_comes_from_the_argument_the_env_metadata_or_the_default():
    assert TrialsAsEpisodes(TwoAFC()).spec.max_episode_steps == CAP
    plain = TwoAFC()
    plain.metadata = {}
    assert TrialsAsEpisodes(plain).max_trial_steps == DEFAULT_MAX_TRIAL_STEPS
    registered = TrialsAsEpisodes(gym.make("RpeTestTwoAFC-v0"), max_trial_steps=5)
    assert registered.spec.id == "RpeTestTwoAFC-v0" and registered.spec.max_episode_steps == 5
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match=rf"^max_trial_steps: expected an int >= 1, got {bad!r}$"):
            TrialsAsEpisodes(TwoAFC(), max_trial_steps=bad)
    plain.metadata = {"max_trial_steps": -1}
    with pytest.raises(ValueError, match=r"^metadata\['max_trial_steps'\]: expected an int >= 1"):
        TrialsAsEpisodes(plain)


def test_correct_is_the_performance_on_the_trials_last_step():
    assert trial_correct({"performance": 1}) == 1.0 and trial_correct({"performance": 0.0}) == 0.0
    assert math.isnan(trial_correct({})) and math.isnan(trial_correct({"performance": None}))


# ---------------------------------------------------------------------------- RewardToCell
WINDOW = 4.0


def episodic_mu(trial_means: list[float]) -> float:
    """The closed form of the EMA fold: mu_n = sum_k (1/W) (1 - 1/W)^(n-k) m_k, from mu_0 = 0."""
    n = len(trial_means)
    return sum((1 / WINDOW) * (1 - 1 / WINDOW) ** (n - 1 - k) * m for k, m in enumerate(trial_means))


@pytest.mark.parametrize("wrapped", [False, True], ids=["raw", "trials-as-episodes"])
def test_reward_to_cell_evolves_at_each_trial_end_once(wrapped):
    cell = RewardErrorCell("rpe", 1, alpha=0.5, ema_window_len=WINDOW, use_online_predictor=False)
    task = TwoAFC()
    env = RewardToCell(TrialsAsEpisodes(task) if wrapped else task, cell)
    env.reset(seed=0)
    # Trial 1: correct (reward 1 on the trial's last step, fifth step): mean 1/5.
    steps = respond(env, task.gt)
    assert [s[4]["mu"] for s in steps[:-1]] == [0.0] * 4  # mu moves only at the trial's end
    assert steps[-1][4]["rpe"] == pytest.approx(1.0)  # the reward against the old prediction
    assert steps[-1][4]["mu"] == pytest.approx(episodic_mu([0.2]))
    if wrapped:
        env.reset()
    # Trial 2: breaks fixation once (-0.1), then no response: ends at tmax, mean -0.1/6.
    env.step(LEFT)
    steps = [env.step(FIX) for _ in range(TRIAL_STEPS - 1)]
    assert steps[-1][4]["new_trial"] and not steps[-2][4]["new_trial"]
    assert steps[-2][4]["mu"] == pytest.approx(episodic_mu([0.2]))
    assert steps[-1][4]["mu"] == pytest.approx(episodic_mu([0.2, -0.1 / TRIAL_STEPS]), rel=1e-5)
    assert float(cell.n_ep_steps.get()[0, 0]) == 0.0 and float(cell.accum_reward.get()[0, 0]) == 0.0


def test_vector_reward_to_cell_folds_only_the_rows_whose_trial_ended():
    envs = gym.vector.SyncVectorEnv([TwoAFC, TwoAFC])
    cell = RewardErrorCell(
        "rpe", 1, alpha=0.5, ema_window_len=WINDOW, use_online_predictor=False, batch_size=2
    )
    env = RewardToCell(envs, cell)
    env.reset(seed=[0, 1])
    gt0 = envs.envs[0].gt
    env.step(np.array([FIX, LEFT]))  # row 1 breaks fixation: -0.1
    for _ in range(FIXATION + STIMULUS - 1):
        env.step(np.array([FIX, FIX]))
    _, _, terminated, truncated, info = env.step(np.array([gt0, FIX]))  # row 0's trial ends
    assert not terminated.any() and not truncated.any()
    np.testing.assert_allclose(info["mu"], [episodic_mu([0.2]), 0.0], rtol=1e-5)
    _, _, _, _, info = env.step(np.array([FIX, FIX]))  # row 1's trial ends at tmax
    np.testing.assert_allclose(info["mu"], [episodic_mu([0.2]), episodic_mu([-0.1 / TRIAL_STEPS])], rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(cell.n_ep_steps.get())[:, 0], [1.0, 0.0])  # row 0 goes on


# ---------------------------------------------------------------------------- the train command
def read_rows(out: pathlib.Path) -> list[dict]:
    return list(csv.DictReader((out / "metrics.csv").open()))


def test_rpe_train_on_a_trial_env_writes_one_row_per_trial_with_correct(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--env", "RpeTestTwoAFC-v0", "--trials", "12", "--num-envs", "4", "--out", str(out)]
    result = train_script.main([*argv, "--quiet", "--no-stop"])
    printed = capsys.readouterr().out
    assert "pg on RpeTestTwoAFC-v0" in printed and "12 trials" in printed and "python path" in printed
    assert "of the last 100 trials correct" in printed
    rows = read_rows(out)
    assert [int(r["episode"]) for r in rows] == list(range(1, 13))
    assert set(rows[0]) == {"episode", "steps", "return", "correct", "mean_abs_rpe", "reward_prediction"}
    for row in rows:
        steps, ret, correct = int(row["steps"]), float(row["return"]), float(row["correct"])
        assert 1 <= steps <= TRIAL_STEPS and correct in (0.0, 1.0)
        # The reward of a correct response comes on the trial's last step, in the trial's row.
        assert (ret > 0.4) == (correct == 1.0)
    config = json.loads((out / "config.json").read_text())
    assert config["path"] == "python" and config["max_trial_steps"] is None
    assert result["trials_cut"] == 0


def test_a_trial_env_trains_on_the_python_path_only(capsys):
    with pytest.raises(SystemExit):
        train_script.parse_args(["--env", "RpeTestTwoAFC-v0", "--path", "jit"])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "path: RpeTestTwoAFC-v0 has no JAX-native twin; use --path python" in err[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-trial-steps", "5"], "max_trial_steps: CartPole-v1 is not a trial env"),
        (["--env", "Bandit-v0", "--max-trial-steps", "5"], "max_trial_steps: Bandit-v0 is not a trial env"),
        (["--env", "RpeTestTwoAFC-v0", "--max-trial-steps", "0"], "max_trial_steps: expected an int >= 1"),
        (["--solved-correct", "1.5"], "solved_correct: expected a fraction in (0, 1], got 1.5"),
        (["--max-steps", "0"], "max_steps: expected an int >= 1, got 0"),
        (["--trials", "0"], "episodes: expected an int >= 1, got 0"),
    ],
)
def test_bad_trial_arguments_are_one_line_errors_naming_the_argument(argv, message, tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as info:
        train_script.parse_args([*argv, "--out", str(out)])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_trials_cut_at_the_cap_have_no_correct_and_are_reported(tmp_path, capsys):
    argv = ["--env", "RpeTestTwoAFC-v0", "--trials", "4", "--num-envs", "4", "--max-trial-steps", "3"]
    result = train_script.main([*argv, "--out", str(tmp_path / "cut"), "--quiet"])
    rows = read_rows(tmp_path / "cut")
    assert all(int(r["steps"]) == 3 and math.isnan(float(r["correct"])) for r in rows)
    assert result["trials_cut"] == 4
    assert "4 trials reached max_trial_steps (3) and were cut" in capsys.readouterr().err


def test_the_step_budget_stops_a_run(tmp_path):
    config = TrainConfig(
        env="RpeTestTwoAFC-v0", episodes=1000, max_steps=10, num_envs=4, out=str(tmp_path / "steps")
    )
    rows = Trainer(config).run(progress=False)["metrics"]
    assert len(rows) == 4 and sum(r["steps"] for r in rows) >= 10  # checked after each update


def test_one_trial_episodes_report_correct_on_the_python_path(tmp_path):
    config = TrainConfig(
        env="RpeTestTwoAFCEpisodic-v0", episodes=4, num_envs=4, out=str(tmp_path / "episodic")
    )
    trainer = Trainer(config)
    assert trainer.path == "python" and trainer.trials and trainer.spec.horizon == TRIAL_STEPS
    rows = trainer.run(progress=False)["metrics"]
    assert len(rows) == 4 and all(r["correct"] in (0.0, 1.0) for r in rows)


def test_solved_means_a_fraction_correct_over_the_window():
    rows = [{"return": 0.0, "correct": c} for c in [0, 1, 1, math.nan, 1, 1, 1]]
    assert solved_at(rows, None, 4, correct=0.5) == 4
    assert solved_at(rows, None, 4, correct=0.75) == 5  # trials 2-5: three correct, one unknown
    assert solved_at(rows, None, 4, correct=1.0) is None  # the unknown counts as not correct
    assert solved_at(rows, 100.0, 4) is None  # without a fraction: by return, as before
    assert solved_at([{"return": 1.0}] * 4, 1.0, 4, correct=0.5) == 4  # no correct column


@pytest.mark.slow
def test_a_trial_run_resumes_exactly(tmp_path):
    kwargs = {"env": "RpeTestTwoAFC-v0", "episodes": 16, "num_envs": 4, "stop_when_solved": False}
    whole = Trainer(TrainConfig(out=str(tmp_path / "whole"), **kwargs)).run(progress=False)
    part = TrainConfig(out=str(tmp_path / "part"), checkpoint_every=1, **kwargs)
    Trainer(part).run(progress=False, stop_after=2)
    resumed = Trainer(part).run(progress=False, resume=True)
    assert resumed["metrics"] == whole["metrics"]
