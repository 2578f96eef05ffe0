"""Soak test: train an agent for 10^6 env steps on the jitted path and check that no weight or
compartment ever becomes NaN or Inf and that memory does not grow.

The run goes in chunks of ``--updates-per-call`` updates. After each chunk, every leaf of
the agent's state (weights, observation statistics, the RewardErrorCell's compartments...)
and every metric is checked for finiteness, and the process's resident memory is sampled.
Memory "did not grow" when the last quarter of the samples stays within ``--rss-slack-mib``
of the samples taken after the first chunk (compilation and warm-up come before that).

    python scripts/soak.py [--agent pg] [--env CartPole-v1] [--steps 1000000]
"""

from __future__ import annotations

import os
import pathlib
import resource
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import jax
import numpy as np
from cli import OneLineParser, run_command
from tqdm import tqdm

from agents.env_spec import make_env_spec
from agents.jit_training import make_train
from agents.registry import AGENTS, make_agent
from envs.registry import JAX_ENVS


def rss_mib() -> float:
    """Current resident memory of this process (Linux ``/proc``; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def non_finite_leaves(tree) -> list[str]:
    """The paths (``jax.tree_util.keystr``) of the leaves of ``tree`` holding a NaN or an Inf."""
    bad = []
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        if not np.all(np.isfinite(np.asarray(leaf))):
            bad.append(jax.tree_util.keystr(path))
    return bad


def soak(
    agent_name: str, env_id: str, steps: int, num_envs: int, per_call: int, seed: int, progress=True
) -> dict:
    """Train ``agent_name`` (its default hyperparameters) on ``env_id``'s JAX-native twin for
    at least ``steps`` env steps, in jitted calls of ``per_call`` updates of ``num_envs``
    episodes; stop at the first non-finite leaf. Returns the counts, the non-finite paths, the
    resident memory after every call (MiB) and the last call's mean return."""
    agent = make_agent(agent_name, make_env_spec(env_id))
    horizon = agent.spec.horizon
    train = jax.jit(make_train(agent, num_envs, per_call))
    key = jax.random.key(seed)  # for init and training, as the train command does
    state = agent.init(key, agent.config.numeric_values())
    done_steps, update, rss, bad, start = 0, 0, [], [], time.perf_counter()
    returns = []
    with tqdm(total=steps, unit="step", disable=not progress, desc=f"soak {agent_name} {env_id}") as bar:
        while done_steps < steps and not bad:
            state, metrics = train(state, key, update)
            metrics = jax.tree.map(np.asarray, metrics)
            update += per_call
            # Every env step computed counts (episodes are padded to the time limit).
            n = per_call * num_envs * horizon
            done_steps += n
            returns.append(float(metrics["returns"][-1].mean()))
            bad = non_finite_leaves(state) + [f"metrics{p}" for p in non_finite_leaves(metrics)]
            rss.append(rss_mib())
            bar.update(n)
    return {
        "steps": done_steps,
        "updates": update,
        "seconds": time.perf_counter() - start,
        "non_finite": bad,
        "rss": rss,
        "last_return": returns[-1],
    }


def memory_grew(rss: list[float], slack_mib: float) -> tuple[bool, float, float]:
    """Compare the last quarter of the samples with the first sample after warm-up."""
    baseline = rss[0]
    tail = rss[-max(1, len(rss) // 4) :]
    return max(tail) - baseline > slack_mib, baseline, max(tail)


def main(argv=None) -> dict:
    parser = OneLineParser(prog="soak.py", description=" ".join(__doc__.split(".")[0].split()) + ".")
    parser.add_argument("--agent", default="pg", help=f"one of {sorted(AGENTS)}")
    parser.add_argument("--env", default="CartPole-v1", help=f"a JAX-native env: {sorted(JAX_ENVS)}")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--updates-per-call", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rss-slack-mib", type=float, default=20.0, help="allowed drift of resident memory")
    args = parser.parse_args(argv)
    if args.agent not in AGENTS:
        parser.error(f"unknown agent {args.agent!r}; choose one of {sorted(AGENTS)}")
    if args.env not in JAX_ENVS:
        parser.error(f"unknown env {args.env!r}; the soak runs the jitted path: {sorted(JAX_ENVS)}")
    for name in ("steps", "num_envs", "updates_per_call"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    result = soak(args.agent, args.env, args.steps, args.num_envs, args.updates_per_call, args.seed)
    grew, first, last = memory_grew(result["rss"], args.rss_slack_mib)
    finite = not result["non_finite"]
    print(
        f"{args.agent} on {args.env}: {result['steps']:,} env steps in {result['updates']} updates, "
        f"{result['seconds']:.1f} s; last mean return {result['last_return']:.1f}"
    )
    print(
        "finite: every weight, compartment and metric after every chunk"
        if finite
        else f"NOT FINITE: {', '.join(result['non_finite'])}"
    )
    print(
        f"memory: {first:.0f} MiB after the first chunk, at most {last:.0f} MiB in the last quarter "
        f"({'GREW' if grew else 'no growth'} beyond {args.rss_slack_mib:g} MiB)"
    )
    if not finite or grew:
        raise SystemExit(1)
    return result


if __name__ == "__main__":
    run_command(main)
