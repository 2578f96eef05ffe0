"""What the command-line scripts share: an argument parser whose errors are one line."""

from __future__ import annotations

import argparse
import sys

__all__ = ["OneLineParser"]


class OneLineParser(argparse.ArgumentParser):
    """``argparse`` that reports a bad argument as one line on stderr and exits with 2."""

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)
