"""What the command-line scripts share: a parser whose errors are one line, and tables."""

from __future__ import annotations

import argparse
import sys

__all__ = ["OneLineParser", "format_table"]


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
