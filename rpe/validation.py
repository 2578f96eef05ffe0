"""Eager checks of user input: each raises with the argument's name, its value and what is
allowed. Run once, in constructors and in the object shell; never inside traced code."""

from __future__ import annotations

import math
import numbers

__all__ = [
    "check_name",
    "check_named_pair",
    "check_positive_int",
    "check_real",
]


def check_positive_int(name: str, value) -> int:
    """``value`` as an ``int`` >= 1 (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected a positive int, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return int(value)


def check_real(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite ``float`` inside the given bounds (closed unless ``*_open``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name}: expected a value in {left}{lo}, {hi}{right}, got {value!r}")
    return value


def check_name(name: str, value) -> str:
    """A non-empty ``str`` (a cell's name)."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name}: expected a non-empty str, got {value!r}")
    return value


def check_named_pair(name: str, value) -> tuple[str, float]:
    """A ``(str, number)`` pair such as ``prior=("gaussian", 0.)``."""
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not isinstance(value[0], str):
        raise TypeError(f"{name}: expected a (name, value) pair such as ('gaussian', 0.0), got {value!r}")
    return value[0], check_real(f"{name}[1]", value[1])
