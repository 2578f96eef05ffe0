"""Speed and memory of training, as one table: every figure a median over repeats, every
ratio measured in the same run. The pg agent on CartPole-v1.

Rows (each measured in its own subprocess, so that its peak memory is its own):

- ``python``: the Python-loop path on Gymnasium CartPole-v1 (8 envs). Training env steps/s
  and the ratio of its cost per step to raw Gymnasium stepping with a random policy
  (target <= 3).
- ``jit-E`` for E = 1, 64, 1024 parallel envs: training env steps/s of the fully jitted
  path, and the ratio to a jitted random-policy rollout of the same env at the same E
  (target >= 0.3). Steps are *real* env steps: the steps of the episodes, not the padding
  after an episode's end (the reference autoresets, so all its steps are real). ``computed /
  real`` is how many env steps the program computed per real one (a batch runs until its
  longest episode ends: ``E x`` that length); target <= 2.
- ``solve``: wall time to solve CartPole-v1 (mean return >= 475 over 100 consecutive
  episodes) on the jitted path, compile included, median over seeds 0-4, split into compile,
  rollout (acting and env steps), learning (``observe`` and ``learn``) and the rest.

    python scripts/benchmark.py [--repeats 5] [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from cli import OneLineParser, format_table, run_command

ENV_ID = "CartPole-v1"


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _agent():
    """The pg agent with its default hyperparameters for the JAX-native CartPole-v1."""
    from agents.env_spec import make_env_spec
    from agents.registry import make_agent

    return make_agent("pg", make_env_spec(ENV_ID))


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row_python(repeats: int) -> dict:
    """Python-loop training steps/s against raw Gymnasium stepping with random actions."""
    import gymnasium as gym
    import jax
    import numpy as np

    from agents.rollout import PythonLoop, python_rollout
    from envs.gym_ids import make_gym_env

    raw_env = gym.make(ENV_ID)
    raw_env.reset(seed=0)
    raw_env.action_space.seed(0)

    def raw(n=20_000):
        for _ in range(n):
            _, _, terminated, truncated, _ = raw_env.step(raw_env.action_space.sample())
            if terminated or truncated:
                raw_env.reset()

    raw_sps = 20_000 / _median_time(raw, repeats)
    agent = _agent()
    loop = PythonLoop(agent)
    envs = [make_gym_env(ENV_ID) for _ in range(8)]
    state = agent.init(jax.random.key(0), agent.config.numeric_values())
    start = time.perf_counter()
    state, _ = python_rollout(loop, envs, state, jax.random.key(1), range(8))  # compiles what it calls
    first_call = time.perf_counter() - start
    rates = []
    for r in range(repeats):
        start = time.perf_counter()
        steps = 0
        for u in range(3):
            seeds = [8 * (3 * r + u + 1) + i for i in range(8)]
            state, batch = python_rollout(loop, envs, state, jax.random.key(100 * r + u), seeds)
            steps += int(np.sum(batch.lengths))
        rates.append(steps / (time.perf_counter() - start))
    train_sps = statistics.median(rates)
    return {
        "row": "python loop, 8 envs",
        "train steps/s": train_sps,
        "compile s": first_call,
        "reference steps/s": raw_sps,
        "ratio": raw_sps / train_sps,
        "target": "cost ratio <= 3",
        "met": raw_sps / train_sps <= 3,
        "peak MiB": _peak_mib(),
    }


def row_jit(num_envs: int, repeats: int, n_updates: int | None = None) -> dict:
    """Jitted training steps/s against a jitted random-policy rollout at the same width.

    ``n_updates`` per timed call: 4 up to 64 envs, else 1, unless given. ``steps`` is the
    real env steps of one call (the episodes' lengths summed), ``computed`` the env steps it
    computed, ``train s`` and ``reference s`` the median seconds of one call of each, and
    ``compile s`` / ``reference compile s`` the time to compile each program."""
    import jax
    import numpy as np

    from agents.jit_training import make_train
    from envs.functional import env_reset, env_step

    agent = _agent()
    env, horizon = agent.spec.jax_env, agent.spec.horizon
    if n_updates is None:
        n_updates = 4 if num_envs <= 64 else 1
    reference_steps = n_updates * num_envs * horizon
    train = jax.jit(make_train(agent, num_envs, n_updates))

    def random_rollout(key):
        def one(key):
            states, _ = jax.vmap(lambda k: env_reset(env, k))(jax.random.split(key, num_envs))

            def step(states, k):
                key_a, key_e = jax.random.split(k)
                actions = jax.random.bernoulli(key_a, 0.5, (num_envs,)).astype(jax.numpy.int32)
                states, ts = jax.vmap(lambda s, a, kk: env_step(env, s, a, kk))(
                    states, actions, jax.random.split(key_e, num_envs)
                )
                return states, ts.reward + ts.obs.sum()  # depend on the physics: nothing folds away

            return jax.lax.scan(step, states, jax.random.split(key, horizon))[1].sum()

        return jax.lax.map(one, jax.random.split(key, n_updates)).sum()

    random_rollout = jax.jit(random_rollout)
    state = agent.init(jax.random.key(0), agent.config.numeric_values())
    start = time.perf_counter()
    train = train.lower(state, jax.random.key(1)).compile()
    compile_train = time.perf_counter() - start
    start = time.perf_counter()
    random_rollout = random_rollout.lower(jax.random.key(1)).compile()
    compile_random = time.perf_counter() - start
    _, metrics = jax.block_until_ready(train(state, jax.random.key(2)))
    lengths = np.asarray(metrics["lengths"])  # (n_updates, num_envs): the timed call's episodes
    steps = int(lengths.sum())
    computed = int((lengths.max(axis=1) * num_envs).sum())
    t_train = _median_time(lambda: jax.block_until_ready(train(state, jax.random.key(2))), repeats)
    t_random = _median_time(lambda: jax.block_until_ready(random_rollout(jax.random.key(2))), repeats)
    train_sps, random_sps = steps / t_train, reference_steps / t_random
    return {
        "row": f"jit, {num_envs} envs",
        "train steps/s": train_sps,
        "reference steps/s": random_sps,
        "ratio": train_sps / random_sps,
        "target": "speed ratio >= 0.3, computed/real <= 2",
        "met": train_sps / random_sps >= 0.3 and computed / steps <= 2,
        "steps": steps,
        "computed": computed,
        "train s": t_train,
        "reference s": t_random,
        "compile s": compile_train,
        "reference compile s": compile_random,
        "peak MiB": _peak_mib(),
    }


def row_solve(seeds: int) -> dict:
    """Wall time to solve on the jitted path, compile included; where the time goes."""
    import jax
    import numpy as np

    from agents.rollout import jax_rollout
    from agents.training import TrainConfig, Trainer

    walls, compiles, episodes = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            jax.clear_caches()
            config = TrainConfig(agent="pg", seed=seed, out=f"{tmp}/{seed}", checkpoint_every=10_000)
            trainer = Trainer(config)
            start = time.perf_counter()
            result = trainer.run(progress=False)
            walls.append(time.perf_counter() - start)
            episodes.append(result["solved_at"] or float("nan"))
            # Compile time of the same program, measured on its own: the trainer's first call.
            jax.clear_caches()
            agent, num_envs = trainer.agent, trainer.config.num_envs
            fresh = Trainer(config)
            t0 = time.perf_counter()
            fresh.lower_first_call().compile()
            compiles.append(time.perf_counter() - t0)
        # Per update, on the trained weights: acting and env steps alone (a rollout without
        # learning), and the whole update, timed back to back; learning (observe and learn)
        # is the median of their differences, 0 when it is lost in the noise. A rollout costs
        # its batch's longest episode, so it is scaled from the timed batch (trained: long
        # episodes) to the run's batches (from its metrics).
        state = jax.tree.map(jax.numpy.asarray, result["state"])
        rollout = jax.jit(lambda s, k: jax_rollout(agent, s, k, num_envs, learn=False))
        update = jax.jit(lambda s, k: jax_rollout(agent, s, k, num_envs))
        timed_longest = float(np.max(jax.block_until_ready(rollout(state, jax.random.key(1)))[1].lengths))
        jax.block_until_ready(update(state, jax.random.key(0)))
        run_lengths = np.asarray([r["steps"] for r in result["metrics"]], np.float64)
        run_lengths = run_lengths[: len(run_lengths) // num_envs * num_envs].reshape(-1, num_envs)
        rollout_scale = float(run_lengths.max(axis=1).mean()) / timed_longest
        pairs = [
            (
                _median_time(lambda: jax.block_until_ready(rollout(state, jax.random.key(1))), 1),
                _median_time(lambda: jax.block_until_ready(update(state, jax.random.key(1))), 1),
            )
            for _ in range(21)
        ]
        t_roll = statistics.median(r for r, _ in pairs)
        t_learn = max(statistics.median(u - r for r, u in pairs), 0.0)
    wall, compile_s = statistics.median(walls), statistics.median(compiles)
    updates = statistics.median(episodes) / num_envs
    rollout_s, learn_s = updates * t_roll * rollout_scale, updates * t_learn
    return {
        "row": f"solve {ENV_ID}, jit, {num_envs} envs",
        "wall s (median)": wall,
        "compile s": compile_s,
        "rollout s": rollout_s,
        "learn s": learn_s,
        "other s": wall - compile_s - rollout_s - learn_s,
        "episodes": statistics.median(episodes),
        "walls": walls,
        "target": "faster than PPO's ~5 s",
        "met": wall < 5.0,
        "peak MiB": _peak_mib(),
    }


def _run_row(name: str, args) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--row",
        name,
        "--repeats",
        str(args.repeats),
        "--seeds",
        str(args.seeds),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"benchmark row {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


ROWS = ("python", "jit-1", "jit-64", "jit-1024", "solve")


def main(argv=None) -> list[dict]:
    parser = OneLineParser(prog="benchmark.py", description=" ".join(__doc__.split(".")[0].split()) + ".")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5, help="seeds for the time to solve")
    parser.add_argument("--rows", nargs="+", default=list(ROWS), help=f"among {list(ROWS)}")
    parser.add_argument("--row", default=None, help=argparse.SUPPRESS)  # one row, in a subprocess
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.seeds < 1:
        parser.error("--repeats and --seeds must be >= 1")
    if args.row is not None:
        if args.row == "python":
            result = row_python(args.repeats)
        elif args.row.startswith("jit-"):
            result = row_jit(int(args.row.split("-")[1]), args.repeats)
        else:
            result = row_solve(args.seeds)
        print(json.dumps(result))
        return [result]
    unknown = [r for r in args.rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}; choose among {list(ROWS)}")
    results = [_run_row(name, args) for name in args.rows]
    table = []
    for r in results:
        if "wall s (median)" in r:
            figure = (
                f"{r['wall s (median)']:.2f} s to solve (median episodes {r['episodes']:.0f}): compile "
                f"{r['compile s']:.2f} s, rollout {r['rollout s']:.2f} s, learning {r['learn s']:.2f} s, "
                f"other (metrics, checkpoint, plots, Python) {r['other s']:.2f} s"
            )
            table.append({"row": r["row"], "result": figure, "target": r["target"]})
        else:
            figure = f"{r['train steps/s']:,.0f} real steps/s; reference {r['reference steps/s']:,.0f}; "
            figure += f"ratio {r['ratio']:.2f}"
            if "computed" not in r:
                figure += f"; first rollout and learn (compiles them) {r['compile s']:.2f} s"
            else:
                figure += (
                    f"; computed/real {r['computed'] / r['steps']:.2f}; compile {r['compile s']:.2f} s "
                    f"(reference {r['reference compile s']:.2f} s)"
                )
            table.append({"row": r["row"], "result": figure, "target": r["target"]})
        table[-1]["met"] = "met" if r["met"] else "MISS"
        table[-1]["peak MiB"] = f"{r['peak MiB']:.0f}"
    print(
        f"pg on {ENV_ID}, medians of {args.repeats} repeats (solve: {args.seeds} seeds); "
        "each row in its own process"
    )
    print(format_table(table))
    return results


if __name__ == "__main__":
    run_command(main)
