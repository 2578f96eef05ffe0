"""Train an agent on a Gymnasium env by local, RPE-gated learning; write a run folder.

    python scripts/train.py                                  # pg on CartPole-v1 until solved
    python scripts/train.py --agent pg --env Acrobot-v1 --seed 1 --episodes 3000
    python scripts/train.py --out runs/x --resume            # continue a stopped run
    python scripts/train.py --population 8 --sweep eta=0.02,0.03,0.05,0.07,0.1,0.14,0.2,0.3

``--population N`` trains N members (seeds SEED..SEED+N-1) at once by vmap on the jitted path,
sharded over all visible devices; ``--sweep name=v1,...,vN`` gives each member its own value
of a hyperparameter that is a leaf of the agent's state (pg: eta). A population writes
metrics-member<k>.csv per member and summary.csv.

The run folder (``--out``) gets config.json, metrics.csv (one row per episode),
learning_curve.png, rpe.png and checkpoint.pkl (atomic; Ctrl-C saves one too). Envs with a
JAX-native twin train on the fully jitted path unless ``--path python``.
"""

from __future__ import annotations

import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import gymnasium as gym
import numpy as np
from cli import OneLineParser, format_table

from agents.registry import AGENTS
from agents.training import PATHS, TrainConfig, Trainer


def parse_args(argv=None) -> tuple[TrainConfig, bool]:
    d = TrainConfig()
    parser = OneLineParser(prog="train.py", description=__doc__.split("\n")[0])
    parser.add_argument("--agent", default=d.agent, help=f"one of {sorted(AGENTS)} (default {d.agent})")
    parser.add_argument("--env", default=d.env, help=f"a Gymnasium env id (default {d.env})")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument(
        "--episodes", type=int, default=d.episodes, help="episode budget (stops early if solved)"
    )
    parser.add_argument("--num-envs", type=int, default=d.num_envs, help="parallel episodes per update")
    parser.add_argument("--path", default=d.path, help=f"one of {list(PATHS)}: jitted or Python-loop path")
    parser.add_argument("--out", default=None, help="run folder (default runs/AGENT-ENV-seedSEED)")
    parser.add_argument("--population", type=int, default=d.population, help="members trained at once")
    parser.add_argument("--sweep", action="append", default=[], help="NAME=v1,...,vN: a value per member")
    parser.add_argument(
        "--updates-per-call", type=int, default=d.updates_per_call, help="updates per jitted call"
    )
    parser.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, help="updates")
    parser.add_argument("--no-stop", action="store_true", help="use the whole budget even once solved")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pkl")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.agent not in AGENTS:
        parser.error(f"unknown agent {args.agent!r}; choose one of {sorted(AGENTS)}")
    if args.path not in PATHS:
        parser.error(f"unknown path {args.path!r}; choose one of {list(PATHS)}")
    try:
        gym.spec(args.env)
    except gym.error.Error:
        parser.error(f"unknown env {args.env!r}; any registered Gymnasium id, e.g. CartPole-v1, Acrobot-v1")
    sweep = []
    for item in args.sweep:
        name, _, values = item.partition("=")
        try:
            sweep.append((name, tuple(float(v) for v in values.split(","))))
        except ValueError:
            parser.error(f"--sweep: expected NAME=v1,...,vN with numbers, got {item!r}")
    for name in ("episodes", "num_envs", "checkpoint_every", "population", "updates_per_call"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    out = args.out or f"runs/{args.agent}-{args.env}-seed{args.seed}"
    config = TrainConfig(
        agent=args.agent,
        env=args.env,
        seed=args.seed,
        episodes=args.episodes,
        num_envs=args.num_envs,
        path=args.path,
        out=out,
        checkpoint_every=args.checkpoint_every,
        stop_when_solved=not args.no_stop,
        population=args.population,
        sweep=tuple(sweep),
        updates_per_call=args.updates_per_call,
    )
    try:
        trainer = Trainer(config)
    except ValueError as error:
        parser.error(str(error))
    return trainer, args


def enable_compilation_cache() -> None:
    """Keep compiled programs on disk (``RPE_JAX_CACHE``, default ``~/.cache/rpe/jax``): a
    repeated run skips most of its compile time, which dominates short runs on CPU."""
    import jax

    path = os.environ.get("RPE_JAX_CACHE", str(pathlib.Path.home() / ".cache" / "rpe" / "jax"))
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def main(argv=None) -> dict:
    trainer, args = parse_args(argv)
    enable_compilation_cache()
    result = trainer.run(resume=args.resume, progress=not args.quiet)
    population = trainer.config.population
    if result["interrupted"]:
        done = len(result["metrics"][0] if population > 1 else result["metrics"])
        print(
            f"interrupted after {done} episodes; checkpoint saved in {trainer.out}. "
            "Resume: run the same command with --resume",
            file=sys.stderr,
        )
        raise SystemExit(130)
    if population > 1:
        summary = trainer.summary(result["metrics"])
        print(
            format_table(
                [{k: f"{v:.4g}" if isinstance(v, float) else v for k, v in r.items()} for r in summary]
            )
        )
        print(f"{result['seconds']:.1f} s ({trainer.path} path); run folder: {trainer.out} (summary.csv)")
        return result
    rows = result["metrics"]
    last = np.mean([r["return"] for r in rows[-100:]]) if rows else float("nan")
    out = trainer.out
    solved = result["solved_at"]
    status = f"solved at episode {solved}" if solved else "not solved"
    threshold = "" if trainer.threshold is None else f" (threshold {trainer.threshold:g})"
    print(
        f"{trainer.config.agent} on {trainer.config.env}: {status}{threshold}; "
        f"mean return of the last 100 episodes {last:.1f}; {len(rows)} episodes, "
        f"{sum(r['steps'] for r in rows)} env steps, {result['seconds']:.1f} s ({trainer.path} path)"
    )
    print(f"run folder: {out}  (config.json, metrics.csv, learning_curve.png, rpe.png, checkpoint.pkl)")
    return result


if __name__ == "__main__":
    main()
