"""What the command-line scripts share: a parser whose errors are one line, tables, and the
``rpe`` console command that dispatches to the scripts (``rpe train ...``, ``rpe evaluate
...``)."""

from __future__ import annotations

import argparse
import importlib
import os
import pathlib
import signal
import sys

__all__ = ["COMMANDS", "OneLineParser", "format_table", "main", "quit_on_interrupt", "run_command"]

# rpe <command>: the script module that runs it, and what it does.
COMMANDS = {
    "train": ("train", "train an agent on an env; write a run folder"),
    "evaluate": ("evaluate", "evaluate a checkpoint on the real Gymnasium env"),
    "population": ("population_plot", "RPE and population rasters of a run, before and after training"),
    "bandit": ("bandit_rpe", "RewardErrorCells on a two-armed bandit with a reversal"),
    "conditioning": ("conditioning_rpe", "classical conditioning: the RPE moves from reward to cue"),
    "benchmark": ("benchmark", "speed and memory table of the pg agent on CartPole-v1"),
    "benchmark-cells": ("benchmark_cells", "per-step cost of every cell"),
    "benchmark-learning": ("benchmark_learning", "every agent on its tasks, seeds 0-4"),
    "soak": ("soak", "10^6 env steps: finiteness and resident memory"),
}


class OneLineParser(argparse.ArgumentParser):
    """``argparse`` that reports a bad argument as one line on stderr and exits with 2."""

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def format_table(rows: list[dict], float_format: str = "{:.3f}") -> str:
    """Rows of ``{column: value}`` as right-aligned columns; floats by ``float_format``."""
    header = list(rows[0])
    cells = [[float_format.format(v) if isinstance(v, float) else str(v) for v in r.values()] for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _quit(signum, frame):
    sys.stderr.write("\ninterrupted\n")
    sys.stderr.flush()
    os._exit(130)


def quit_on_interrupt() -> None:
    """Ctrl-C (or SIGTERM) ends the process at once, with one line and status 130: for the
    start of a command (imports, compiling), where there is nothing to save. A training run
    installs its own handler while it runs (``agents.training``)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _quit)


def run_command(main, argv=None) -> None:
    """Run a script's ``main`` with :func:`quit_on_interrupt` in force."""
    quit_on_interrupt()
    main(argv)


def main(argv=None) -> None:
    """``rpe COMMAND [ARGS...]``: the console command (see :data:`COMMANDS`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    listing = "\n".join(f"  {name:<20} {text}" for name, (_, text) in COMMANDS.items())
    if not argv or argv[0] in ("-h", "--help"):
        print(
            f"usage: rpe COMMAND [ARGS...]   (rpe COMMAND --help for its arguments)\n\ncommands:\n{listing}"
        )
        return
    if argv[0] not in COMMANDS:
        sys.stderr.write(f"rpe: error: unknown command {argv[0]!r}; expected one of {', '.join(COMMANDS)}\n")
        raise SystemExit(2)
    quit_on_interrupt()
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    module = importlib.import_module(COMMANDS[argv[0]][0])
    run_command(module.main, argv[1:])


if __name__ == "__main__":
    main()
