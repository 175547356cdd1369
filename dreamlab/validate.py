"""The one place that checks numbers, choices and overrides (configs, the CLI, the kernels).

Every check raises ``ValueError`` with one line that names the setting and the value given, so a
user sees what to change; the CLI turns the same checks into argparse types.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "check_bool",
    "check_choice",
    "check_float",
    "check_int",
    "parse_float",
    "parse_int",
    "with_overrides",
]

C = TypeVar("C")


def check_int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    """A whole number (bools and floats refused) in ``[lo, hi]`` (no upper bound when ``hi`` is None)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if hi is None and value < lo:
        raise ValueError(f"{name} must be at least {lo}, got {value}")
    if hi is not None and not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {value}")
    return int(value)


def check_float(name: str, value: object, lo: float, hi: float, *, open_lo: bool = False) -> float:
    """A finite number in ``[lo, hi]`` (``(lo, hi]`` with ``open_lo``); bools and strings refused."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if open_lo and value <= lo:
        raise ValueError(f"{name} must be above {lo:g} and at most {hi:g}, got {value:g}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo:g} and {hi:g}, got {value:g}")
    return float(value)


def check_choice(name: str, value: object, options: Sequence[str]) -> str:
    """One of ``options``."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(options)}; got {value!r}")
    return value


def check_bool(name: str, value: object) -> bool:
    """True or False (not 0, 1 or a string)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def with_overrides(config: C, overrides: Mapping[str, Any], what: str = "") -> C:
    """A copy of a frozen dataclass ``config`` with some fields changed (and checked again).

    An unknown name is a one-line ``ValueError`` listing the settings: ``what`` names the kind
    ("dream" gives "unknown dream setting 'x'; settings: ...").
    """
    names = {f.name for f in dataclasses.fields(config)}  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - names)
    if unknown:
        kind = f"{what} setting" if what else "setting"
        raise ValueError(f"unknown {kind} {unknown[0]!r}; settings: {', '.join(sorted(names))}")
    return dataclasses.replace(config, **overrides) if overrides else config  # type: ignore[type-var]


def parse_int(text: str, lo: int = 0) -> int:
    """A command-line whole number of at least ``lo``."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"expected a whole number, got {text!r}") from None
    if value < lo:
        raise ValueError(f"expected a number of at least {lo}, got {value}")
    return value


def parse_float(text: str) -> float:
    """A command-line finite number."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {text!r}")
    return value
