"""RPE dynamics in classical conditioning: a cue, then a reward, trial after trial.

Two reward-prediction-error signals watch the same trials of ``envs.Conditioning``:

- a ``RewardErrorCell`` with one unit per time step of the trial, advanced once per trial
  with the trial's reward vector (Rescorla-Wagner-like): its RPE at the reward time
  starts at the reward and shrinks as the reward becomes predicted;
- a TD critic (``agents.LinearTDCritic``: a ``TDErrorCell`` and a three-factor rule, over
  a complete serial compound of time since the cue): its RPE moves from the reward to
  the cue, as dopamine neurons' do (Schultz, Dayan & Montague 1997).

After training, an omission probe (the reward withheld, no learning) gives a negative RPE
at the time the reward was expected in both.

Prints one row per block of trials and the probe, and writes ``conditioning_rpe.png``.

    python scripts/conditioning_rpe.py --trials 300 --out runs/conditioning
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from agents.td_critic import LinearTDCritic
from envs import Conditioning, ConditioningParams, env_reset, env_step
from rpe import RewardErrorCell


@dataclasses.dataclass(frozen=True)
class ConditioningConfig:
    trials: int = 300
    trial_length: int = 20
    cue_step: int = 5
    reward_step: int = 15
    gamma: float = 0.98
    eta: float = 0.05
    alpha: float = 0.05
    block: int = 30
    seed: int = 0
    out: str = "runs/conditioning"


def _features(time_since_cue: jax.Array, n_features: int) -> jax.Array:
    """Complete serial compound: one-hot of the time since the cue, zeros before it."""
    return jnp.where(time_since_cue >= 0, jax.nn.one_hot(time_since_cue, n_features), 0.0)


def make_trial(task: Conditioning, critic: LinearTDCritic, n_features: int):
    """A jitted function running one trial; returns (weights, deltas (T,), rewards (T,))."""

    def trial(weights, key, params, learn):
        key_reset, key_steps = jax.random.split(key)
        state, obs = env_reset(task, key_reset, params)
        tsc = jnp.where(obs[0] > 0, 0, -1)

        def step(carry, key_step):
            weights, state, tsc = carry
            state, ts = env_step(task, state, 0, key_step, params)
            next_tsc = jnp.where(ts.final_obs[0] > 0, 0, jnp.where(tsc >= 0, tsc + 1, -1))
            x, x_next = _features(tsc, n_features)[None], _features(next_tsc, n_features)[None]
            new_weights, delta = critic.update(weights, x, ts.reward[None], x_next, ts.terminated[None])
            weights = jnp.where(learn, new_weights, weights)
            return (weights, state, next_tsc), (delta[0], ts.reward)

        keys = jax.random.split(key_steps, task.trial_length)
        (weights, _, _), (deltas, rewards) = jax.lax.scan(step, (weights, state, tsc), keys)
        return weights, deltas, rewards

    return jax.jit(trial)


def run(config: ConditioningConfig) -> dict[str, np.ndarray]:
    """Train, then probe; per-trial RPEs at the cue and the reward, and probe traces."""
    task = Conditioning(config.trial_length, config.cue_step, config.reward_step)
    n_features = config.trial_length - config.cue_step + 1
    critic = LinearTDCritic(n_features, gamma=config.gamma, eta=config.eta)
    per_time = RewardErrorCell("per_time", n_units=config.trial_length, alpha=config.alpha)
    trial = make_trial(task, critic, n_features)
    rewarded = ConditioningParams(reward_prob=1.0, reward_size=1.0)
    omitted = ConditioningParams(reward_prob=0.0, reward_size=1.0)
    cue_i, reward_i = config.cue_step - 1, config.reward_step - 1  # transitions into those steps
    weights = critic.init()
    key = jax.random.key(config.seed)
    td_traces, cell_rpe = [], []
    for _ in tqdm(range(config.trials), desc="conditioning", unit="trial", leave=False):
        key, key_trial = jax.random.split(key)
        weights, deltas, rewards = trial(weights, key_trial, rewarded, True)
        per_time.reward.set(np.asarray(rewards)[None])
        per_time.advance_state(dt=1.0)
        td_traces.append(np.asarray(deltas))
        cell_rpe.append(np.asarray(per_time.rpe.get())[0])
    _, probe_deltas, probe_rewards = trial(weights, key, omitted, False)
    probe_state = per_time.step(per_time.set(per_time.state, reward=np.asarray(probe_rewards)[None]))
    td = np.stack(td_traces)
    cell = np.stack(cell_rpe)
    return {
        "td": td,
        "cell": cell,
        "td_at_cue": td[:, cue_i],
        "td_at_reward": td[:, reward_i],
        "cell_at_reward": cell[:, reward_i],
        "probe_td": np.asarray(probe_deltas),
        "probe_td_at_reward": float(probe_deltas[reward_i]),
        "probe_cell_at_reward": float(probe_state.rpe[0, reward_i]),
        "cue_index": cue_i,
        "reward_index": reward_i,
    }


def format_table(config: ConditioningConfig, result: dict) -> str:
    lines = [f"{'trials':>10}  {'TD rpe @cue':>11}  {'TD rpe @reward':>14}  {'cell rpe @reward':>16}"]
    for start in range(0, config.trials, config.block):
        sl = slice(start, min(start + config.block, config.trials))
        lines.append(
            f"{f'{sl.start + 1}-{sl.stop}':>10}  {np.mean(result['td_at_cue'][sl]):>11.3f}  "
            f"{np.mean(result['td_at_reward'][sl]):>14.3f}  {np.mean(result['cell_at_reward'][sl]):>16.3f}"
        )
    probe_td, probe_cell = result["probe_td_at_reward"], result["probe_cell_at_reward"]
    lines.append(f"{'omission':>10}  {'':>11}  {probe_td:>14.3f}  {probe_cell:>16.3f}")
    return "\n".join(lines)


def plot(config: ConditioningConfig, result: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_n) = plt.subplots(1, 2, figsize=(11, 4))
    steps = np.arange(1, config.trial_length + 1)
    for trial, color in (
        (0, "tab:red"),
        (config.trials // 10, "tab:orange"),
        (config.trials - 1, "tab:green"),
    ):
        ax_t.plot(steps, result["td"][trial], color=color, label=f"trial {trial + 1}")
    ax_t.plot(steps, result["probe_td"], color="k", ls="--", label="omission probe")
    for step, name in ((config.cue_step, "cue"), (config.reward_step, "reward")):
        ax_t.axvline(step, color="grey", lw=0.8, ls=":")
        ax_t.text(step, ax_t.get_ylim()[1] * 0.95, name, ha="center", fontsize=8)
    ax_t.set_xlabel("time step in trial")
    ax_t.set_ylabel("TD error (RPE)")
    ax_t.set_title("TD critic: the RPE moves from reward to cue")
    ax_t.legend(fontsize=8)
    trials = np.arange(1, config.trials + 1)
    ax_n.plot(trials, result["td_at_cue"], label="TD RPE at cue")
    ax_n.plot(trials, result["td_at_reward"], label="TD RPE at reward")
    ax_n.plot(trials, result["cell_at_reward"], label="RewardErrorCell RPE at reward", ls="--")
    ax_n.set_xlabel("trial")
    ax_n.set_ylabel("RPE")
    ax_n.set_title("Across trials")
    ax_n.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv=None) -> ConditioningConfig:
    d = ConditioningConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for field in dataclasses.fields(ConditioningConfig):
        parser.add_argument(
            f"--{field.name.replace('_', '-')}",
            type=type(getattr(d, field.name)),
            default=getattr(d, field.name),
        )
    args = parser.parse_args(argv)
    if args.trials < 1 or args.block < 1:
        parser.error("--trials and --block must be >= 1")
    try:
        Conditioning(args.trial_length, args.cue_step, args.reward_step)
        LinearTDCritic(1, gamma=args.gamma, eta=args.eta)
        RewardErrorCell("check", 1, alpha=args.alpha)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    return ConditioningConfig(**vars(args))


def main(argv=None) -> dict:
    config = parse_args(argv)
    result = run(config)
    print(format_table(config, result))
    out = pathlib.Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(config, result, out / "conditioning_rpe.png")
    print(f"plot: {out / 'conditioning_rpe.png'}")
    return result


if __name__ == "__main__":
    main()
