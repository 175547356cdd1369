"""What every command shares: one-line usage errors, the option types, the model and device
options, and the model those options name."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from dreamlab.validate import parse_float, parse_int

if TYPE_CHECKING:
    from dreamlab.models import LoadedModel

__all__ = [
    "CliError",
    "Parser",
    "add_backend",
    "add_device",
    "add_model",
    "finite_float",
    "load_cli_model",
    "nonneg_float",
    "nonneg_int",
    "padding",
    "positive_float",
    "positive_int",
    "vector",
]


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (no usage dump), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _checked(parse: Callable[..., Any], *args: Any) -> Any:
    """A :mod:`dreamlab.validate` parser whose one-line error argparse shows as is."""
    try:
        return parse(*args)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    return _checked(parse_int, text, 1)


def nonneg_int(text: str) -> int:
    return _checked(parse_int, text, 0)


def finite_float(text: str) -> float:
    return _checked(parse_float, text)


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


def nonneg_float(text: str) -> float:
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of at least 0, got {text!r}")
    return value


def vector(text: str) -> list[float]:
    """A JSON list of numbers, or a .json / .npy file holding one (a direction)."""
    path = Path(text)
    try:
        if path.suffix.lower() == ".npy" and path.is_file():
            import numpy as np

            data = np.load(path, allow_pickle=False).ravel().tolist()
        else:
            data = json.loads(path.read_text(encoding="utf-8") if path.is_file() else text)
        return [parse_float(str(float(v))) for v in data]
    except (ValueError, TypeError, OSError):
        raise argparse.ArgumentTypeError(
            f"expected a JSON list of numbers or a .json/.npy file, got {text!r}"
        ) from None


def padding(text: str) -> int | str:
    if text in ("same", "valid"):
        return text
    return nonneg_int(text)


def add_device(p: argparse.ArgumentParser, default: str | None = "auto") -> None:
    """--device: the one spelling of the option every command that runs a model takes."""
    what = "auto (the default), cpu, cuda or mps" if default is None else "auto, cpu, cuda or mps"
    p.add_argument("--device", default=default, help=what)


def add_model(p: argparse.ArgumentParser, *, device: bool = True, positional: bool = False) -> None:
    """--model (or a positional MODEL), --weights FILE and --device."""
    from dreamlab.models import DEFAULT_MODEL

    what = "model name (see `dreamlab models`, saved models included)"
    if positional:
        p.add_argument("model", help=what)
    else:
        p.add_argument("--model", default=DEFAULT_MODEL, help=what)
    p.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="a state dict for this architecture (e.g. from `dreamlab train -o`), "
        "read with weights_only=True",
    )
    if device:
        add_device(p)


def add_backend(p: argparse.ArgumentParser) -> None:
    """--backend URL: a heavy command run by a `dreamlab serve` service."""
    p.add_argument(
        "--backend", default=None, help="a `dreamlab serve` URL (default: DREAMLAB_BACKEND)"
    )


def load_cli_model(args: argparse.Namespace) -> LoadedModel:
    """The model --model names (saved models registered first) with --weights' weights; a
    DreamLab checkpoint's class names replace the architecture's."""
    from dreamlab.models import load_model
    from dreamlab.train.store import register_saved_models, trained_classes

    register_saved_models()
    model = load_model(args.model, device=getattr(args, "device", "cpu"), weights=args.weights)
    model.categories = (trained_classes(args.weights) if args.weights else None) or model.categories
    return model
