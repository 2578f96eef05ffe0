"""Per-step cost of every cell: object shell, pure step in ``lax.scan``, dispatch floor.

For each cell at ``n_units=128`` and batch 1 and 256, the table gives the median over
repeats of the per-step time of

- ``shell``: one ``advance_state`` per Python call (the interactive API);
- ``scan``: the pure ``step`` rolled inside one jitted ``lax.scan`` (the fast path);
- ``floor``: calling an empty jitted function with the same state (JAX's dispatch cost),

and checks two targets, as ratios measured in this run: shell within 2x of the floor at
batch 1, and LeakyNoiseCell's scan step within 3x of RateCell's at batch 256. Each ratio
is the median of per-repeat ratios, the two sides timed back to back in every repeat.

    python scripts/benchmark_cells.py [--repeats 7] [--steps 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import jax
import numpy as np

from rpe import (
    BernoulliErrorCell,
    GaussianErrorCell,
    LaplacianErrorCell,
    LeakyNoiseCell,
    RateCell,
    RewardErrorCell,
)

N_UNITS = 128
CELLS = {
    "RewardErrorCell": lambda b: RewardErrorCell("r", N_UNITS, alpha=0.1, batch_size=b),
    "RateCell": lambda b: RateCell("z", N_UNITS, tau_m=10.0, batch_size=b),
    "LeakyNoiseCell": lambda b: LeakyNoiseCell("x", N_UNITS, tau_x=10.0, batch_size=b),
    "GaussianErrorCell": lambda b: GaussianErrorCell("g", N_UNITS, batch_size=b),
    "LaplacianErrorCell": lambda b: LaplacianErrorCell("l", N_UNITS, batch_size=b),
    "BernoulliErrorCell": lambda b: BernoulliErrorCell("b", N_UNITS, batch_size=b),
}


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    repeats: int = 11
    steps: int = 200
    batches: tuple[int, ...] = (1, 256)


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
    rows = []
    scans = {}
    for name, build in CELLS.items():
        for batch in config.batches:
            cell = build(batch)
            runs = {
                "shell": shell_run(cell, config.steps),
                "floor": floor_run(cell, config.steps),
            }
            t = _per_step_times(runs, config.steps, config.repeats)
            rows.append(
                {
                    "cell": name,
                    "batch": batch,
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


def targets(rows: list[dict]) -> list[tuple[str, float, float, bool]]:
    at = {(r["cell"], r["batch"]): r for r in rows if "cell" in r}
    checks = []
    for name in CELLS:
        ratio = at[(name, 1)]["shell/floor"]
        checks.append((f"{name} shell / floor at batch 1", ratio, 2.0, ratio <= 2.0))
    noisy = rows[-1]["noise_ratio"]
    checks.append(("LeakyNoiseCell scan / RateCell scan at batch 256", noisy, 3.0, noisy <= 3.0))
    return checks


def format_rows(rows: list[dict]) -> str:
    header = f"{'cell':<20}{'batch':>6}{'shell us':>11}{'scan us':>10}{'floor us':>11}{'shell/floor':>13}"
    lines = [header, "-" * len(header)]
    for r in (r for r in rows if "cell" in r):
        lines.append(
            f"{r['cell']:<20}{r['batch']:>6}{r['shell_us']:>11.1f}{r['scan_us']:>10.2f}"
            f"{r['floor_us']:>11.1f}{r['shell/floor']:>13.2f}"
        )
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=BenchConfig.repeats)
    parser.add_argument("--steps", type=int, default=BenchConfig.steps)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.steps < 1:
        parser.error("--repeats and --steps must be >= 1")
    config = BenchConfig(repeats=args.repeats, steps=args.steps)
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}, n_units={N_UNITS}, "
        f"median of {config.repeats} repeats x {config.steps} steps"
    )
    rows = measure(config)
    print(format_rows(rows))
    print()
    for label, value, limit, ok in targets(rows):
        print(f"{'met ' if ok else 'MISS'}  {label}: {value:.2f} (target <= {limit:g})")
    return rows


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
