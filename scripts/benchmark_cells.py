"""Per-step cost of every cell: as ngc-learn users drive it, in ``lax.scan``, and its noise.

Four tables, at ``n_units=128`` and batch 1 and 256, each figure the median over repeats of
a per-step time in microseconds:

1. every cell: ``workflow`` (set each input compartment, ``advance_state``, read an output:
   how ngc-learn's tutorials drive a cell, once per step), ``shell`` (``advance_state``
   alone), ``scan`` (the pure ``step`` rolled inside one jitted ``lax.scan``) and ``floor``
   (an empty jitted call on the same state: JAX's dispatch cost);
2. with ``--ngclearn-python PATH`` (an interpreter with ngclearn 3.2.3 installed, in its own
   environment), the same workflow side by side with ngc-learn's ``RateCell`` (tanh,
   euler), ``LeakyNoiseCell`` (relu, euler, sigma_pre 0.1, sigma_post 0),
   ``GaussianErrorCell`` and ``RewardErrorCell`` (alpha 0.1). Each (cell, batch) runs in a
   fresh ngc-learn process (its global state holds that one cell), and the two sides take
   turns for ``--rounds`` rounds; the ratio is the median over rounds of ours / theirs.
   ``floor`` times, in the same rounds, one jitted call per step with the step's own
   arguments and as many outputs as it returns, computed trivially: what a step costs as
   one JAX dispatch with no Python around it, so ``floor/ngclearn`` is the best ratio a
   shell of one dispatch per step could reach;
3. the noise draw of LeakyNoiseCell's Euler-Maruyama step inside ``lax.scan``:
   :func:`rpe.noise.normal` against ``jax.random.normal`` with JAX's PRNG implementations
   (``threefry2x32``, the default; ``rbg``; ``unsafe_rbg``);
4. the targets, each a ratio measured in this run: ``met`` or ``MISS``.

    python scripts/benchmark_cells.py [--repeats 11] [--steps 200] [--rounds 20]
        [--ngclearn-python /tmp/ngcvenv/bin/python]

(ngc-learn in a venv: ``python3.12 -m venv /tmp/ngcvenv && /tmp/ngcvenv/bin/pip install
ngclearn==3.2.3``; it is not a dependency of rpe.)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import time

import jax
import jax.numpy as jnp
import numpy as np

from rpe import (
    BernoulliErrorCell,
    GaussianErrorCell,
    LaplacianErrorCell,
    LeakyNoiseCell,
    RateCell,
    RewardErrorCell,
    noise,
)

N_UNITS = 128
N_INPUTS = 8  # distinct input arrays, cycled through by the workflow
CELLS = {
    "RewardErrorCell": lambda b: RewardErrorCell("r", N_UNITS, alpha=0.1, batch_size=b),
    "RateCell": lambda b: RateCell("z", N_UNITS, tau_m=10.0, batch_size=b),
    "LeakyNoiseCell": lambda b: LeakyNoiseCell("x", N_UNITS, tau_x=10.0, batch_size=b),
    "GaussianErrorCell": lambda b: GaussianErrorCell("g", N_UNITS, batch_size=b),
    "LaplacianErrorCell": lambda b: LaplacianErrorCell("l", N_UNITS, batch_size=b),
    "BernoulliErrorCell": lambda b: BernoulliErrorCell("b", N_UNITS, batch_size=b),
}
# The cells compared with ngc-learn, configured as on its side (``NGCLEARN_WORKER``;
# integration_type is euler on both).
NGCLEARN_CELLS = {
    "RateCell": lambda b: RateCell("z", N_UNITS, tau_m=10.0, act_fx="tanh", batch_size=b),
    "LeakyNoiseCell": lambda b: LeakyNoiseCell(
        "x", N_UNITS, tau_x=10.0, act_fx="relu", sigma_pre=0.1, sigma_post=0.0, batch_size=b
    ),
    "GaussianErrorCell": lambda b: GaussianErrorCell("g", N_UNITS, batch_size=b),
    "RewardErrorCell": lambda b: RewardErrorCell("r", N_UNITS, alpha=0.1, batch_size=b),
}
# The workflow of each cell: the inputs set every step and the output read after it.
WORKFLOWS = {
    "RewardErrorCell": (("reward",), "rpe"),
    "RateCell": (("j",), "zF"),
    "LeakyNoiseCell": (("j_input",), "r"),
    "GaussianErrorCell": (("mu", "target"), "dmu"),
    "LaplacianErrorCell": (("shift", "target"), "dshift"),
    "BernoulliErrorCell": (("p", "target"), "dp"),
}
NGCLEARN_TARGET = 0.5  # ours / ngc-learn's per step, at most
PRNG_IMPLS = ("threefry2x32", "rbg", "unsafe_rbg")
PRNG_TOLERANCE = 1.2  # a library generator this close to rpe.noise replaces it

# Runs under the ngc-learn interpreter: builds one cell in a fresh process, then answers
# each "run" line on stdin with the per-step time (us) of `steps` workflow steps.
NGCLEARN_WORKER = r"""
import json, sys, time
import numpy as np, jax, jax.numpy as jnp
import ngclearn
from ngclearn import Context, MethodProcess
from ngclearn.components import GaussianErrorCell, LeakyNoiseCell, RateCell, RewardErrorCell

name, batch, n_units, steps, n_inputs, kind = sys.argv[1:7]
batch, n_units, steps, n_inputs = int(batch), int(n_units), int(steps), int(n_inputs)
with Context("bench") as ctx:
    if name == "RateCell":
        cell = RateCell("z", n_units=n_units, tau_m=10.0, act_fx="tanh", integration_type="euler",
                        batch_size=batch)
        inputs, output = [cell.j], cell.zF
    elif name == "LeakyNoiseCell":
        cell = LeakyNoiseCell("x", n_units=n_units, tau_x=10.0, act_fx="relu", integration_type="euler",
                              batch_size=batch, sigma_pre=0.1, sigma_post=0.0, key=jax.random.PRNGKey(0))
        inputs, output = [cell.j_input], cell.r
    elif name == "GaussianErrorCell":
        cell = GaussianErrorCell("g", n_units=n_units, batch_size=batch)
        inputs, output = [cell.mu, cell.target], cell.dmu
    else:
        cell = RewardErrorCell("r", n_units=n_units, alpha=0.1, batch_size=batch)
        inputs, output = [cell.reward], cell.rpe
    advance = MethodProcess("advance") >> cell.advance_state
    reset = MethodProcess("reset") >> cell.reset
reset.run()
times = {"t": 0.0, "dt": 1.0}
kwargs = {k: times[k] for k in advance.get_keywords()}
rng = np.random.default_rng(0)
xs = [rng.normal(size=(batch, n_units)).astype(np.float32) for _ in range(n_inputs)]
if kind == "jax":
    xs = [jnp.asarray(x) for x in xs]

def run(n):
    for i in range(n):
        x = xs[i % n_inputs]
        for compartment in inputs:
            compartment.set(x)
        advance.run(**kwargs)
        y = output.get()
    jax.block_until_ready(y)

run(steps)
print(json.dumps({"ngclearn": ngclearn.__version__, "jax": jax.__version__}), flush=True)
for line in sys.stdin:
    if line.strip() != "run":
        break
    t0 = time.perf_counter()
    run(steps)
    print((time.perf_counter() - t0) / steps * 1e6, flush=True)
"""


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    repeats: int = 11
    steps: int = 200
    rounds: int = 20
    batches: tuple[int, ...] = (1, 256)
    inputs: str = "jax"  # the arrays the workflow sets: "jax" or "numpy"
    ngclearn_python: str | None = None


def _per_step_times(runs: dict, steps: int, repeats: int) -> dict[str, list[float]]:
    """Per-step wall times (us) of each ``run()``, the runs interleaved in every repeat so
    that ratios between them compare the same moments of a shared, noisy machine."""
    for run in runs.values():
        run()  # compile and warm up
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - t0) / steps * 1e6)
    return times


def workflow_inputs(batch: int, kind: str) -> list:
    """The input arrays both sides set, cycled through step by step (same seed for both)."""
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(batch, N_UNITS)).astype(np.float32) for _ in range(N_INPUTS)]
    return [jnp.asarray(x) for x in xs] if kind == "jax" else xs


def workflow_run(cell, name: str, steps: int, kind: str):
    """Set every input, advance, read the output: ``steps`` times, as ngc-learn users do."""
    input_names, output_name = WORKFLOWS[name]
    inputs = [getattr(cell, n) for n in input_names]
    output = getattr(cell, output_name)
    xs = workflow_inputs(cell.batch_size, kind)
    if name == "BernoulliErrorCell":  # probabilities in (0, 1)
        xs = [jax.nn.sigmoid(x) if kind == "jax" else 1 / (1 + np.exp(-x)) for x in xs]

    def run():
        for i in range(steps):
            x = xs[i % N_INPUTS]
            for compartment in inputs:
                compartment.set(x)
            cell.advance_state(dt=1.0)
            y = output.get()
        jax.block_until_ready(y)

    return run


def shell_run(cell, steps: int):
    def run():
        for _ in range(steps):
            cell.advance_state(dt=1.0)
        jax.block_until_ready(cell.state)

    return run


def floor_run(cell, steps: int):
    empty = jax.jit(lambda state, key, dt: (state, key))

    def run():
        state, key = cell.state, cell.key
        for _ in range(steps):
            state, key = empty(state, key, 1.0)
        jax.block_until_ready(state)

    return run


def written_compartments(cell) -> list[str]:
    """The compartments ``cell.step`` changes (traced once, abstractly)."""
    names: list[str] = []

    def probe(state):
        new = cell.step(state, 1.0, jax.random.key(0) if cell.stochastic else None)
        pairs = zip(state._fields, state, new, strict=True)
        names.extend(n for n, old, changed in pairs if changed is not old)
        return new

    jax.eval_shape(probe, cell.state)
    return names


def dispatch_floor_run(cell, steps: int):
    """One jitted call per step taking every compartment (and a key, for a stochastic cell)
    and returning, computed trivially, as many arrays of the same shapes as the step
    returns: the least a step of this cell can cost as one JAX dispatch, Python aside."""
    names = written_compartments(cell)
    key = jax.random.key_data(jax.random.key(0)) if cell.stochastic else None

    def trivial(state, key, dt):
        outputs = tuple(getattr(state, n) * dt for n in names)
        return outputs, (None if key is None else key + 1)

    call = jax.jit(trivial)
    dt = jnp.float32(1.0)

    def run():
        state = cell.state
        for _ in range(steps):
            outputs, _ = call(state, key, dt)
        jax.block_until_ready(outputs)

    return run


def scan_run(cell, steps: int):
    if cell.stochastic:

        def body(carry, _):
            state, key = carry
            key, key_step = jax.random.split(key)
            return (cell.step(state, 1.0, key_step), key), None

        init = (cell.state, jax.random.key(0))
    else:

        def body(state, _):
            return cell.step(state, 1.0), None

        init = cell.state
    rollout = jax.jit(lambda carry: jax.lax.scan(body, carry, None, length=steps)[0])
    return lambda: jax.block_until_ready(rollout(init))


def measure(config: BenchConfig) -> list[dict]:
    """Table 1: workflow, shell, floor (interleaved per cell) and scan (all interleaved)."""
    rows = []
    scans = {}
    for name, build in CELLS.items():
        for batch in config.batches:
            cell = build(batch)
            runs = {
                "workflow": workflow_run(build(batch), name, config.steps, config.inputs),
                "shell": shell_run(cell, config.steps),
                "floor": floor_run(cell, config.steps),
            }
            t = _per_step_times(runs, config.steps, config.repeats)
            rows.append(
                {
                    "cell": name,
                    "batch": batch,
                    "workflow_us": statistics.median(t["workflow"]),
                    "shell_us": statistics.median(t["shell"]),
                    "floor_us": statistics.median(t["floor"]),
                    "shell/floor": statistics.median(
                        s / f for s, f in zip(t["shell"], t["floor"], strict=True)
                    ),
                }
            )
            scans[(name, batch)] = scan_run(cell, config.steps)
    # The scan steps of all cells, interleaved too: their ratios are what the targets compare.
    t = _per_step_times(scans, config.steps, config.repeats)
    for row in rows:
        row["scan_us"] = statistics.median(t[(row["cell"], row["batch"])])
    noisy, rate = t[("LeakyNoiseCell", 256)], t[("RateCell", 256)]
    rows.append({"noise_ratio": statistics.median(n / r for n, r in zip(noisy, rate, strict=True))})
    return rows


class NgclearnWorker:
    """One ngc-learn cell in its own process, timed on request (see ``NGCLEARN_WORKER``)."""

    def __init__(self, python: str, name: str, batch: int, steps: int, kind: str):
        sizes = [str(batch), str(N_UNITS), str(steps), str(N_INPUTS)]
        args = [python, "-c", NGCLEARN_WORKER, name, *sizes, kind]
        self.process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        line = self.process.stdout.readline()
        if not line:
            error = self.process.stderr.read().strip().splitlines()
            raise RuntimeError(f"ngc-learn worker failed: {error[-1] if error else 'no output'}")
        self.versions = json.loads(line)

    def run(self) -> float:
        self.process.stdin.write("run\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def side_by_side(config: BenchConfig) -> tuple[list[dict], dict]:
    """Table 2: our workflow against ngc-learn's, the two sides taking turns every round."""
    rows, versions = [], {}
    for name, build in NGCLEARN_CELLS.items():
        for batch in config.batches:
            worker = NgclearnWorker(config.ngclearn_python, name, batch, config.steps, config.inputs)
            versions = worker.versions
            ours_run = workflow_run(build(batch), name, config.steps, config.inputs)
            floor = dispatch_floor_run(build(batch), config.steps)
            ours_run()  # compile and warm up
            floor()
            ours, theirs, floors = [], [], []
            try:
                for _ in range(config.rounds):
                    t0 = time.perf_counter()
                    ours_run()
                    ours.append((time.perf_counter() - t0) / config.steps * 1e6)
                    theirs.append(worker.run())
                    t0 = time.perf_counter()
                    floor()
                    floors.append((time.perf_counter() - t0) / config.steps * 1e6)
            finally:
                worker.close()
            rows.append(
                {
                    "cell": name,
                    "batch": batch,
                    "ours_us": statistics.median(ours),
                    "ngclearn_us": statistics.median(theirs),
                    "ratio": statistics.median(o / t for o, t in zip(ours, theirs, strict=True)),
                    "floor_us": statistics.median(floors),
                    "floor_ratio": statistics.median(f / t for f, t in zip(floors, theirs, strict=True)),
                }
            )
    return rows, versions


def noise_draw_run(generator: str, batch: int, steps: int):
    """LeakyNoiseCell's noise draw ``x + c * N(0, 1)`` with a fresh key per step, in a scan."""
    impl = "threefry2x32" if generator == "rpe.noise" else generator
    draw = noise.normal if generator == "rpe.noise" else jax.random.normal

    def body(carry, _):
        x, key = carry
        key, key_step = jax.random.split(key)
        return (x + 0.045 * draw(key_step, x.shape), key), None

    rollout = jax.jit(lambda carry: jax.lax.scan(body, carry, None, length=steps)[0])
    init = (jnp.zeros((batch, N_UNITS), jnp.float32), jax.random.key(0, impl=impl))
    return lambda: jax.block_until_ready(rollout(init))


def measure_noise(config: BenchConfig) -> list[dict]:
    """Table 3: rpe.noise against JAX's PRNG implementations, interleaved per batch; each
    ratio is the median of per-repeat ratios to rpe.noise."""
    rows = []
    for batch in config.batches:
        runs = {g: noise_draw_run(g, batch, config.steps) for g in ("rpe.noise", *PRNG_IMPLS)}
        t = _per_step_times(runs, config.steps, config.repeats)
        row = {"batch": batch, **{g: statistics.median(t[g]) for g in runs}}
        for g in PRNG_IMPLS:
            pairs = zip(t[g], t["rpe.noise"], strict=True)
            row[f"{g}/rpe.noise"] = statistics.median(a / b for a, b in pairs)
        rows.append(row)
    return rows


def targets(rows: list[dict], pairs: list[dict] = ()) -> list[tuple[str, float, float, bool]]:
    at = {(r["cell"], r["batch"]): r for r in rows if "cell" in r}
    checks = []
    for name in CELLS:
        ratio = at[(name, 1)]["shell/floor"]
        checks.append((f"{name} shell / floor at batch 1", ratio, 2.0, ratio <= 2.0))
    noisy = rows[-1]["noise_ratio"]
    checks.append(("LeakyNoiseCell scan / RateCell scan at batch 256", noisy, 3.0, noisy <= 3.0))
    for r in pairs:
        label = f"{r['cell']} workflow / ngc-learn at batch {r['batch']}"
        checks.append((label, r["ratio"], NGCLEARN_TARGET, r["ratio"] <= NGCLEARN_TARGET))
    return checks


def noise_decision(noise_rows: list[dict]) -> str:
    """Switch to a library generator if one is as fast as rpe.noise (within the tolerance)
    at every batch; otherwise keep rpe.noise and say by how much it wins."""
    worst = {g: max(r[f"{g}/rpe.noise"] for r in noise_rows) for g in PRNG_IMPLS}
    best = min(PRNG_IMPLS, key=worst.get)
    per_batch = ", ".join(f"{r[f'{best}/rpe.noise']:.2f}x at batch {r['batch']}" for r in noise_rows)
    if worst[best] <= PRNG_TOLERANCE:
        return f"switch to jax.random.normal with {best}: {per_batch} the time of rpe.noise"
    return (
        f"keep rpe.noise: the fastest library generator, {best}, takes {per_batch} its time "
        f"(switch if within {PRNG_TOLERANCE:g}x at every batch)"
    )


def format_rows(rows: list[dict]) -> str:
    header = (
        f"{'cell':<20}{'batch':>6}{'workflow us':>13}{'shell us':>10}{'scan us':>9}"
        f"{'floor us':>10}{'shell/floor':>13}"
    )
    lines = [header, "-" * len(header)]
    for r in (r for r in rows if "cell" in r):
        lines.append(
            f"{r['cell']:<20}{r['batch']:>6}{r['workflow_us']:>13.1f}{r['shell_us']:>10.1f}"
            f"{r['scan_us']:>9.2f}{r['floor_us']:>10.1f}{r['shell/floor']:>13.2f}"
        )
    return "\n".join(lines)


def format_pairs(pairs: list[dict]) -> str:
    header = (
        f"{'cell':<20}{'batch':>6}{'ours us/step':>14}{'ngclearn us/step':>18}{'ratio':>8}"
        f"{'floor us':>10}{'floor/ngclearn':>16}"
    )
    lines = [header, "-" * len(header)]
    for r in pairs:
        lines.append(
            f"{r['cell']:<20}{r['batch']:>6}{r['ours_us']:>14.1f}{r['ngclearn_us']:>18.1f}{r['ratio']:>8.2f}"
            f"{r['floor_us']:>10.1f}{r['floor_ratio']:>16.2f}"
        )
    return "\n".join(lines)


def format_noise(noise_rows: list[dict]) -> str:
    header = f"{'batch':>5}{'rpe.noise us':>14}" + "".join(f"{g + ' us':>17}" for g in PRNG_IMPLS)
    header += "".join(f"{g + '/rpe.noise':>24}" for g in PRNG_IMPLS)
    lines = [header, "-" * len(header)]
    for r in noise_rows:
        times = "".join(f"{r[g]:>17.2f}" for g in PRNG_IMPLS)
        ratios = "".join(f"{r[g + '/rpe.noise']:>24.2f}" for g in PRNG_IMPLS)
        lines.append(f"{r['batch']:>5}{r['rpe.noise']:>14.2f}{times}{ratios}")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=BenchConfig.repeats)
    parser.add_argument("--steps", type=int, default=BenchConfig.steps)
    parser.add_argument("--rounds", type=int, default=BenchConfig.rounds, help="turns of each side")
    parser.add_argument("--inputs", choices=("jax", "numpy"), default=BenchConfig.inputs)
    parser.add_argument("--ngclearn-python", metavar="PATH", help="an interpreter with ngclearn 3.2.3")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.steps < 1 or args.rounds < 1:
        parser.error("--repeats, --steps and --rounds must be >= 1")
    config = BenchConfig(
        repeats=args.repeats,
        steps=args.steps,
        rounds=args.rounds,
        inputs=args.inputs,
        ngclearn_python=args.ngclearn_python,
    )
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}, n_units={N_UNITS}, "
        f"median of {config.repeats} repeats x {config.steps} steps, {config.inputs} inputs"
    )
    rows = measure(config)
    print(format_rows(rows))
    pairs: list[dict] = []
    if config.ngclearn_python:
        pairs, versions = side_by_side(config)
        print()
        print(
            f"side by side with ngclearn {versions['ngclearn']} (jax {versions['jax']}), "
            f"median of {config.rounds} alternating rounds x {config.steps} steps"
        )
        print(format_pairs(pairs))
    noise_rows = measure_noise(config)
    print()
    print("noise draw of LeakyNoiseCell's step inside lax.scan (us per step)")
    print(format_noise(noise_rows))
    print(noise_decision(noise_rows))
    print()
    for label, value, limit, ok in targets(rows, pairs):
        print(f"{'met ' if ok else 'MISS'}  {label}: {value:.2f} (target <= {limit:g})")
    return {"rows": rows, "pairs": pairs, "noise": noise_rows}


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
