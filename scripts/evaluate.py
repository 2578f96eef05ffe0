"""Evaluate a trained agent: load a checkpoint, run N episodes, print mean and std of the return.

rpe evaluate runs/pc-ac-CartPole-v1-seed0/checkpoint.npz --episodes 100 [--greedy] [--member K]
"""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from cli import OneLineParser, quit_on_interrupt, run_command

if __name__ == "__main__":
    quit_on_interrupt()  # Ctrl-C while importing and compiling: stop at once

import jax
import numpy as np

from agents.checkpoint import read_checkpoint, read_meta
from agents.env_spec import make_env, make_env_spec
from agents.population import init_population, unstack
from agents.registry import family, make_agent
from agents.rollout import PythonLoop, python_rollout


def run_config(checkpoint: str) -> dict:
    """The run's ``config.json`` as the checkpoint recorded it (agent, env, seed, ...)."""
    meta, _ = read_meta(checkpoint)
    return meta.get("config") or {}


def load_agent(checkpoint: str, member: int = 0, config: dict | None = None):
    """``(agent, state)`` of member ``member`` of the checkpoint's population; ``config``:
    the checkpoint's :func:`run_config` if already read.

    Raises ``ValueError`` (one line, naming the file) for a checkpoint that cannot be used."""
    config = run_config(checkpoint) if config is None else config
    try:
        name, env_id = config["agent"], config["env"]
        population, seed = int(config["population"]), int(config["seed"])
        agent_config = family(name).config(**config["agent_config"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{checkpoint}: its config cannot be read ({error})") from None
    if not 0 <= member < population:
        raise ValueError(f"member: expected 0 <= member < {population} (the checkpoint's population)")
    max_trial_steps = config.get("max_trial_steps")  # a trial env of neurogym's convention
    agent = make_agent(name, make_env_spec(env_id, max_trial_steps=max_trial_steps), agent_config)
    template = init_population(agent, [seed + k for k in range(population)])
    state, _ = read_checkpoint(checkpoint, template, agent=name)
    return agent, unstack(state, member)


def evaluate(
    checkpoint: str, episodes: int = 100, seed: int = 12345, greedy: bool = False, member: int = 0
) -> np.ndarray:
    """Returns of ``episodes`` episodes of the real Gymnasium env, in batches of 10, without
    learning; ``member`` picks one member of a population checkpoint."""
    config = run_config(checkpoint)
    agent, state = load_agent(checkpoint, member, config)
    loop = PythonLoop(agent, greedy=greedy)
    batch = min(10, episodes)
    envs = [make_env(agent.spec.env_id, config.get("max_trial_steps")) for _ in range(batch)]
    returns = []
    for start in range(0, episodes, batch):
        n = min(batch, episodes - start)
        seeds = [seed + start + i for i in range(n)]
        _, result = python_rollout(loop, envs[:n], state, jax.random.key(seed + start), seeds, learn=False)
        returns.extend(np.asarray(result.returns).tolist())
    return np.asarray(returns)


def main(argv=None) -> np.ndarray:
    parser = OneLineParser(prog="rpe evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", help="a checkpoint.npz written by rpe train")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--greedy", action="store_true", help="take the most likely action")
    parser.add_argument("--member", type=int, default=0, help="member of a population checkpoint")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    if not pathlib.Path(args.checkpoint).is_file():
        parser.error(f"no checkpoint at {args.checkpoint}")
    try:
        returns = evaluate(args.checkpoint, args.episodes, args.seed, args.greedy, args.member)
    except ValueError as error:
        parser.error(str(error).splitlines()[0])
    print(
        f"{len(returns)} episodes: mean return {returns.mean():.1f} +- {returns.std():.1f} (std), "
        f"min {returns.min():.0f}, max {returns.max():.0f}"
    )
    return returns


if __name__ == "__main__":
    run_command(main)
