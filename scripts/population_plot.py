"""The population of a trained agent, before and after training: the RPE through one episode
and a raster of each hidden population's rates.

rpe population runs/pc-ac-CartPole-v1-seed0 [--seed 0] [--out FILE]

Loads the run's checkpoint (after training) and rebuilds the run's initial state (before
training: the same seed), plays one episode of the Gymnasium env with each (actions sampled
as in training, no learning), and asks the agent for its populations' activity along the
way (``Agent.activity``). The RPE is the critic's TD error of each step, ``r_t + gamma (1 -
terminated) V(s_t+1) - V(s_t)``. Writes ``population.png`` into the run folder (or
``--out``). Agents without an ``activity`` (pg, ac, np-rnn) are refused with one line.
"""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from cli import OneLineParser, quit_on_interrupt, run_command

if __name__ == "__main__":
    quit_on_interrupt()

import jax
import numpy as np

from agents.env_spec import make_env
from agents.population import init_population, unstack
from agents.rollout import PythonLoop


def play(agent, state, seed: int):
    """One sampled episode of the Gymnasium env: observations ``(T + 1, D)`` (the last one
    reached), rewards ``(T,)`` and whether it ended by termination."""
    loop = PythonLoop(agent)
    env = make_env(agent.spec.env_id)
    obs, _ = env.reset(seed=seed)
    carry = loop.begin(state, 1)
    key = jax.random.key(seed)
    observations, rewards, terminated = [np.asarray(obs, np.float32)], [], False
    impl = jax.random.key_impl(key)
    for t in range(agent.spec.horizon):
        key_data = jax.random.key_data(jax.random.fold_in(key, t))
        _, carry, bounded = loop.act(state, carry, np.asarray(obs, np.float32)[None], key_data, impl)
        obs, reward, terminated, truncated, _ = env.step(agent.spec.to_env(np.asarray(bounded)[0]))
        observations.append(np.asarray(obs, np.float32))
        rewards.append(float(reward))
        if terminated or truncated:
            break
    env.close()
    return np.stack(observations), np.asarray(rewards), bool(terminated)


def record(agent, state, seed: int) -> dict:
    """The episode's observations ``(T + 1, D)``, rewards and RPE ``(T,)``, whether it
    terminated, and every population's rates ``(T, n)``."""
    obs, rewards, terminated = play(agent, state, seed)
    activity = {k: np.asarray(v) for k, v in jax.jit(agent.activity)(state, obs).items()}
    populations = {k: v[:-1] for k, v in activity.items() if k != "value"}
    out = {"obs": obs, "rewards": rewards, "terminated": terminated, "populations": populations}
    if "value" in activity:
        value = activity["value"]
        gamma = float(getattr(agent.config, "gamma", 1.0))
        discount = np.full(len(rewards), gamma)
        discount[-1] *= 0.0 if terminated else 1.0
        out["rpe"] = rewards + discount * value[1:] - value[:-1]
    return out


def plot(before: dict, after: dict, title: str, path: str) -> None:
    """Two columns (before, after training): the RPE, then one raster per population."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(after["populations"])
    rows = 1 + len(names)
    fig, axes = plt.subplots(rows, 2, figsize=(11, 1.2 + 2.0 * rows), squeeze=False, sharex="col")
    for col, (label, rec) in enumerate((("before training", before), ("after training", after))):
        ax = axes[0, col]
        if "rpe" in rec:
            ax.plot(rec["rpe"], lw=0.8, color="tab:purple")
            ax.axhline(0.0, color="grey", lw=0.5)
        ax.set_title(f"{label}: return {rec['rewards'].sum():.0f} in {len(rec['rewards'])} steps", fontsize=9)
        ax.set_ylabel("RPE (TD error)", fontsize=8)
        for row, name in enumerate(names, start=1):
            rates = rec["populations"][name]
            order = np.argsort(-after["populations"][name].mean(0))  # units by mean rate after training
            image = axes[row, col].imshow(
                rates[:, order].T, aspect="auto", interpolation="nearest", cmap="viridis", origin="lower"
            )
            axes[row, col].set_ylabel(f"{name}\nunit", fontsize=8)
            fig.colorbar(image, ax=axes[row, col], pad=0.01, label="rate")
        axes[-1, col].set_xlabel("step of the episode")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> str:
    parser = OneLineParser(prog="rpe population", description=__doc__.split("\n")[0])
    parser.add_argument("run", help="a run folder written by rpe train (or its checkpoint.npz)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the episode played")
    parser.add_argument("--out", default=None, help="image to write (default RUN/population.png)")
    args = parser.parse_args(argv)
    run = pathlib.Path(args.run)
    checkpoint = run if run.suffix == ".npz" else run / "checkpoint.npz"
    if not checkpoint.is_file():
        parser.error(f"no checkpoint at {checkpoint}")
    if args.seed < 0:
        parser.error("--seed must be >= 0")
    from evaluate import load_agent, run_config

    try:
        config = run_config(str(checkpoint))
        agent, after = load_agent(str(checkpoint), config=config)
    except ValueError as error:
        parser.error(str(error))
    if agent.activity is None:
        parser.error(f"the {agent.name} agent shows no population activity; pc-ac does")
    before = unstack(init_population(agent, [int(config["seed"])]), 0)
    out = args.out or str(checkpoint.parent / "population.png")
    title = f"{agent.name} on {agent.spec.env_id}: one episode before and after training"
    plot(record(agent, before, args.seed), record(agent, after, args.seed), title, out)
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    run_command(main)
