"""Evaluate a trained agent: load a checkpoint, run N episodes, print mean and std of the return.

python scripts/evaluate.py runs/pg-CartPole-v1-seed0/checkpoint.pkl --episodes 100
"""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import gymnasium as gym
import jax
import numpy as np
from cli import OneLineParser

from agents.population import unstack
from agents.registry import make_agent
from agents.rollout import python_rollout
from agents.training import load_checkpoint


def evaluate(
    checkpoint: str, episodes: int = 100, seed: int = 12345, greedy: bool = False, member: int = 0
) -> np.ndarray:
    """Returns of ``episodes`` episodes of the real Gymnasium env, in batches of 10;
    ``member`` picks one member of a population checkpoint."""
    ckpt = load_checkpoint(checkpoint)
    population = ckpt["config"].get("population", 1)
    if not 0 <= member < population:
        raise ValueError(f"member: expected 0 <= member < {population} (the checkpoint's population)")
    env_id = ckpt["config"]["env"]
    probe = gym.make(env_id)
    agent = make_agent(
        ckpt["config"]["agent"],
        probe.observation_space,
        probe.action_space,
        env=env_id,
        horizon=probe.spec.max_episode_steps,
    )
    state = ckpt["state"] if population == 1 else unstack(ckpt["state"], member)
    act = jax.jit(lambda s, o, k: agent.greedy(s, o)) if greedy else jax.jit(agent.act)
    batch = min(10, episodes)
    envs = [gym.make(env_id) for _ in range(batch)]
    returns = []
    for start in range(0, episodes, batch):
        n = min(batch, episodes - start)
        seeds = [seed + start + i for i in range(n)]
        _, r, _ = python_rollout(agent, envs[:n], state, jax.random.key(seed + start), seeds, act=act)
        returns.extend(np.asarray(r).tolist())
    return np.asarray(returns)


def main(argv=None) -> np.ndarray:
    parser = OneLineParser(prog="evaluate.py", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", help="a checkpoint.pkl written by train.py")
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
        parser.error(str(error))
    print(
        f"{len(returns)} episodes: mean return {returns.mean():.1f} +- {returns.std():.1f} (std), "
        f"min {returns.min():.0f}, max {returns.max():.0f}"
    )
    return returns


if __name__ == "__main__":
    main()
