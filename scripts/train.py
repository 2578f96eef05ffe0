"""Train an agent on a Gymnasium env by local, RPE-gated learning; write a run folder.

    rpe train                                       # the tuned agent for CartPole-v1, until solved
    rpe train --env Acrobot-v1                      # agent and values from agents/defaults.toml
    rpe train --agent pg --env Acrobot-v1 --set eta=0.1 --set gamma=0.98
    rpe train --out runs/x --resume                 # continue a stopped run, exactly
    rpe train --population 4 --sweep gamma=0.9,0.95,0.98,0.99
    rpe train --agent ac --list-hyperparameters     # every hyperparameter, its kind and value
    rpe train --env neurogym:PerceptualDecisionMaking-v0 --trials 2000   # a trial env

Without ``--agent``, the env's entry in ``agents/defaults.toml`` picks the agent and its tuned
values (pg with its defaults for an env not listed). ``--set NAME=VALUE`` (repeatable) sets
any hyperparameter of the agent; ``--sweep NAME=v1,...,vN`` gives each of ``--population N``
members (seeds SEED..SEED+N-1, trained at once by vmap on the jitted path) its own value of
any numeric one. Env ids: registered Gymnasium ids, ``module:EnvId`` (imports ``module``
first), and the JAX-native envs.

Trial envs (neurogym's convention: trials end by ``info["new_trial"]``, the env never ends)
train on the Python path, one trial per episode (``envs.trials.TrialsAsEpisodes``, each
trial cut at ``--max-trial-steps``): ``--trials`` (``--episodes``) counts trials, metrics.csv
has one row per trial with ``correct`` (from ``info["performance"]``), and a run is solved
once ``--solved-correct`` of the last 100 trials are correct. ``--max-steps`` bounds the
env steps of any run.

The run folder (``--out``) gets config.json (every hyperparameter), metrics.csv (one row per
episode, every metric the agent reports), learning_curve.png, rpe.png and checkpoint.npz
(data only, atomic). Ctrl-C stops the run: at once while it starts or compiles, else after
the current call, with a checkpoint from which ``--resume`` continues exactly as if it had
never stopped (a second Ctrl-C ends it at once, keeping the last checkpoint).
"""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from cli import OneLineParser, format_table, quit_on_interrupt, run_command

if __name__ == "__main__":
    quit_on_interrupt()  # Ctrl-C while importing and compiling: stop at once

import numpy as np

from agents.checkpoint import CheckpointError
from agents.env_spec import make_env_spec
from agents.registry import AGENTS, env_defaults, family
from agents.training import PATHS, ResumeError, TrainConfig, Trainer, resolve_config


def _pairs(items: list[str], flag: str, parser) -> dict[str, str]:
    pairs = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            parser.error(f"{flag}: expected NAME=VALUE, got {item!r}")
        if name.strip() in pairs:
            parser.error(f"{flag}: {name.strip()} is given twice")
        pairs[name.strip()] = value
    return pairs


def build_parser() -> OneLineParser:
    d = TrainConfig()
    agents = "; ".join(f"{name}: {fam.summary}" for name, fam in sorted(AGENTS.items()))
    parser = OneLineParser(prog="rpe train", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--agent",
        choices=sorted(AGENTS),
        default=None,
        help=f"default: the env's entry in defaults.toml ({agents})",
    )
    parser.add_argument("--env", default=d.env, help=f"a Gymnasium env id or module:EnvId (default {d.env})")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="an agent hyperparameter"
    )
    parser.add_argument(
        "--list-hyperparameters", action="store_true", help="print the agent's hyperparameters and exit"
    )
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument(
        "--episodes",
        "--trials",
        type=int,
        default=d.episodes,
        help="episode (trial) budget (stops early if solved)",
    )
    parser.add_argument("--max-steps", type=int, default=None, help="env-step budget (default: none)")
    parser.add_argument(
        "--max-trial-steps",
        type=int,
        default=None,
        help="a trial env's longest trial, in steps (default: its metadata's, else 1000)",
    )
    parser.add_argument(
        "--solved-correct",
        type=float,
        default=d.solved_correct,
        help=f"fraction of the last 100 trials correct that solves a trial env (default {d.solved_correct})",
    )
    parser.add_argument(
        "--num-envs", type=int, default=None, help="parallel episodes per update (default: the env's, else 8)"
    )
    parser.add_argument("--path", choices=PATHS, default=d.path, help="jitted or Python-loop path")
    parser.add_argument("--out", default=None, help="run folder (default runs/AGENT-ENV-seedSEED)")
    parser.add_argument("--population", type=int, default=d.population, help="members trained at once")
    parser.add_argument(
        "--sweep", action="append", default=[], metavar="NAME=v1,...,vN", help="a value per member"
    )
    parser.add_argument(
        "--updates-per-call", type=int, default=d.updates_per_call, help="updates per jitted call"
    )
    parser.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, help="updates")
    parser.add_argument("--no-stop", action="store_true", help="use the whole budget even once solved")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def parse_args(argv=None) -> tuple[Trainer | None, object]:
    """The checked :class:`Trainer` (None with ``--list-hyperparameters``) and the args.
    Every check happens here, before anything is written."""
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = _pairs(args.set, "--set", parser)
    sweep = []
    for name, values in _pairs(args.sweep, "--sweep", parser).items():
        try:
            sweep.append((name, tuple(float(v) for v in values.split(","))))
        except ValueError:
            parser.error(f"--sweep: expected NAME=v1,...,vN with numbers, got {name}={values}")
    try:
        if args.list_hyperparameters:
            _list_hyperparameters(args, overrides)
            return None, args
        agent = args.agent or env_defaults(args.env).agent
        config = TrainConfig(
            agent=args.agent,
            env=args.env,
            seed=args.seed,
            episodes=args.episodes,
            max_steps=args.max_steps,
            max_trial_steps=args.max_trial_steps,
            solved_correct=args.solved_correct,
            num_envs=args.num_envs,
            path=args.path,
            out=args.out or f"runs/{agent}-{args.env.replace(':', '-')}-seed{args.seed}",
            checkpoint_every=args.checkpoint_every,
            stop_when_solved=not args.no_stop,
            population=args.population,
            sweep=tuple(sweep),
            updates_per_call=args.updates_per_call,
        )
        return Trainer(config, overrides), args
    except (ValueError, TypeError) as error:
        parser.error(str(error).splitlines()[0])


def _list_hyperparameters(args, overrides) -> None:
    make_env_spec(args.env, args.max_trial_steps)  # an unknown env is an error here too
    config = resolve_config(TrainConfig(agent=args.agent, env=args.env), overrides)
    fields = family(config.agent).config.__dataclass_fields__
    rows = [
        {
            "name": name,
            "kind": f.metadata.get("kind", ""),
            "value": repr(getattr(config.agent_config, name)),
            "meaning": f.metadata.get("doc", ""),
        }
        for name, f in fields.items()
    ]
    print(f"{config.agent} on {config.env} (numeric ones can be swept):")
    print(format_table(rows))


def main(argv=None) -> dict | None:
    trainer, args = parse_args(argv)
    if trainer is None:
        return None
    enable_compilation_cache()
    try:
        result = trainer.run(resume=args.resume, progress=not args.quiet, hard_exit=True)
    except (CheckpointError, ResumeError) as error:  # a run folder that cannot be resumed
        print(f"rpe train: error: {str(error).splitlines()[0]}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as error:  # the run folder cannot be written (disk full, ...)
        print(f"rpe train: error: {trainer.out}: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    population = trainer.config.population
    first = result["metrics"][0] if population > 1 else result["metrics"]
    unit = "trials" if trainer.trials or (first and "correct" in first[0]) else "episodes"
    if result["trials_cut"]:
        print(
            f"rpe train: {result['trials_cut']} trials reached max_trial_steps "
            f"({trainer.spec.horizon}) and were cut (correct: nan); raise --max-trial-steps",
            file=sys.stderr,
        )
    if result["interrupted"]:
        print(
            f"interrupted after {len(first)} {unit}; checkpoint saved in {trainer.out}. "
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
    print(
        f"{trainer.config.agent} on {trainer.config.env}: {_outcome(trainer, result)}; {len(rows)} {unit}, "
        f"{sum(r['steps'] for r in rows)} env steps, {result['seconds']:.1f} s ({trainer.path} path)"
    )
    print(
        f"run folder: {trainer.out}  (config.json, metrics.csv, learning_curve.png, rpe.png, checkpoint.npz)"
    )
    return result


def _outcome(trainer: Trainer, result: dict) -> str:
    """``solved at ... (criterion); <the score of the last 100 episodes or trials>``."""
    rows, solved = result["metrics"], result["solved_at"]
    last = rows[-100:]
    if rows and "correct" in rows[0]:
        status = f"solved at trial {solved}" if solved else "not solved"
        fraction = np.mean(np.nan_to_num([r["correct"] for r in last]))
        mean = np.mean([r["return"] for r in last])
        return (
            f"{status} (fraction correct {trainer.config.solved_correct:g}); "
            f"{fraction:.2f} of the last 100 trials correct, mean return {mean:.2f}"
        )
    status = f"solved at episode {solved}" if solved else "not solved"
    threshold = "" if trainer.threshold is None else f" (threshold {trainer.threshold:g})"
    mean = np.mean([r["return"] for r in last]) if rows else float("nan")
    return f"{status}{threshold}; mean return of the last 100 episodes {mean:.1f}"


def enable_compilation_cache() -> None:
    """Keep compiled programs on disk (``RPE_JAX_CACHE``, default ``~/.cache/rpe/jax``): a
    repeated run skips most of its compile time, which dominates short runs on CPU."""
    import os

    import jax

    path = os.environ.get("RPE_JAX_CACHE", str(pathlib.Path.home() / ".cache" / "rpe" / "jax"))
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


if __name__ == "__main__":
    run_command(main)
