"""``python -m dreamlab`` / ``dreamlab``: the same backend API as the web app, from a shell.

Bad input of any kind exits with status 2 and one line ``error: ...`` on stderr (set
``DREAMLAB_DEBUG=1`` to see the traceback of an unexpected failure).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

__all__ = ["CliError", "build_parser", "main"]


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (no usage dump), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of at least 0, got {value}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _padding(text: str) -> int | str:
    if text in ("same", "valid"):
        return text
    return _nonneg_int(text)


# ---------------------------------------------------------------- commands


def _cmd_models(args: argparse.Namespace) -> None:
    from dreamlab.models import list_models

    for info in list_models():
        print(
            f"{info.name}\t{info.status}\t{info.input_size}\t{info.num_layers} layers\t{info.note}"
        )


def _cmd_layers(args: argparse.Namespace) -> None:
    from dreamlab.models import get_spec

    spec = get_spec(args.model)
    for layer in spec.layers:
        print(layer + ("\t(default)" if layer == spec.default_layer else ""))


def _cmd_classify(args: argparse.Namespace) -> None:
    from dreamlab.images import load_image
    from dreamlab.models import load_model

    image = load_image(args.image)
    model = load_model(args.model, device=args.device)
    for label, prob in model.classify(image.array, top=args.top):
        print(f"{label}\t{prob:.4f}")


def _cmd_convolve(args: argparse.Namespace) -> None:
    raise CliError("convolve is not implemented yet")


def _cmd_dream(args: argparse.Namespace) -> None:
    raise CliError("dream is not implemented yet")


def _cmd_visualize(args: argparse.Namespace) -> None:
    raise CliError("visualize is not implemented yet")


def _cmd_train(args: argparse.Namespace) -> None:
    raise CliError("train is not implemented yet")


def _cmd_benchmark(args: argparse.Namespace) -> None:
    raise CliError("benchmark is not implemented yet")


# ---------------------------------------------------------------- parser


def _add_common_model(p: argparse.ArgumentParser, *, device: bool = True) -> None:
    p.add_argument(
        "--model", default="efficientnet_lite0", help="model name (see `dreamlab models`)"
    )
    if device:
        p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, as in DESIGN.md."""
    from dreamlab import __version__

    parser = _Parser(prog="dreamlab", description="See inside convolutional networks.")
    parser.add_argument("--version", action="version", version=f"dreamlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("models", help="list models and whether their weights are here").set_defaults(
        func=_cmd_models
    )
    p = sub.add_parser("layers", help="list a model's layer names")
    p.add_argument("model")
    p.set_defaults(func=_cmd_layers)

    p = sub.add_parser("classify", help="top ImageNet classes of an image")
    p.add_argument("image", type=Path)
    _add_common_model(p)
    p.add_argument("--top", type=_positive_int, default=5)
    p.set_defaults(func=_cmd_classify)

    p = sub.add_parser("convolve", help="convolve an image with a kernel")
    p.add_argument("image", type=Path)
    p.add_argument("--kernel", required=True, help="a preset name or a JSON list of rows")
    p.add_argument("-o", "--output", required=True, type=Path)
    p.add_argument("--stride", type=_positive_int, default=1)
    p.add_argument("--padding", type=_padding, default=0, help="pixels, same or valid")
    p.add_argument("--dilation", type=_positive_int, default=1)
    p.add_argument("--mode", choices=("correlate", "convolve"), default="correlate")
    p.add_argument(
        "--boundary", choices=("zeros", "reflect", "replicate", "circular"), default="zeros"
    )
    p.add_argument("--view", choices=("abs", "signed", "clip"), default="abs",
                   help="how signed outputs become pixels")  # fmt: skip
    p.add_argument("--gray", action="store_true", help="convolve the grayscale image")
    p.set_defaults(func=_cmd_convolve)

    p = sub.add_parser("dream", help="DeepDream a photo (or noise)")
    p.add_argument("image", help="an image file, or `noise`")
    p.add_argument("-o", "--output", required=True, type=Path, help=".png, .gif or .mp4")
    _add_common_model(p)
    p.add_argument("--layer", default=None)
    p.add_argument("--channel", type=_nonneg_int, default=None)
    p.add_argument("--preset", default=None, help="seed, google2015 or gordic")
    p.add_argument("--octaves", type=_positive_int, default=None)
    p.add_argument("--octave-scale", type=_finite_float, default=None)
    p.add_argument("--iterations", type=_positive_int, default=None)
    p.add_argument("--lr", type=_finite_float, default=None)
    p.add_argument("--jitter", type=_nonneg_int, default=None)
    p.add_argument(
        "--smoothing", type=_finite_float, default=None, help="gradient smoothing (0 = off)"
    )
    p.add_argument("--max-side", type=_positive_int, default=None)
    p.add_argument("--seed", type=_nonneg_int, default=None)
    p.add_argument("--guide", type=Path, default=None, help="guide image (guided dream)")
    p.add_argument("--zoom-frames", type=_nonneg_int, default=0, help="zoom loop: extra frames")
    p.add_argument("--fps", type=_positive_int, default=10)
    p.set_defaults(func=_cmd_dream)

    p = sub.add_parser("visualize", help="feature visualization from noise")
    p.add_argument("-o", "--output", required=True, type=Path)
    _add_common_model(p)
    p.add_argument("--layer", required=True)
    p.add_argument("--channel", type=_nonneg_int, default=None)
    p.add_argument("--steps", type=_positive_int, default=256)
    p.add_argument("--size", type=_positive_int, default=128)
    p.add_argument("--param", choices=("fft", "pixel"), default="fft")
    p.add_argument("--no-decorrelate", action="store_true")
    p.add_argument("--no-transforms", action="store_true")
    p.add_argument("--seed", type=_nonneg_int, default=0)
    p.set_defaults(func=_cmd_visualize)

    p = sub.add_parser("train", help="train the seed's small CNN")
    p.add_argument(
        "--dataset", choices=("shapes", "cifar10", "mnist", "fashion_mnist"), default="shapes"
    )
    p.add_argument("--epochs", type=_positive_int, default=None)
    p.add_argument("--lr", type=_finite_float, default=None)
    p.add_argument("--batch-size", type=_positive_int, default=None)
    p.add_argument("--optimizer", choices=("sgd", "adam"), default=None)
    p.add_argument("--seed", type=_nonneg_int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("-o", "--output", required=True, type=Path)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("benchmark", help="measure DreamLab's engine against the seed's loop")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    p.set_defaults(func=_cmd_benchmark)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types whose message is meant for the user."""
    from dreamlab.images import ImageError
    from dreamlab.models import ModelError

    return (CliError, ImageError, ModelError, ValueError, FileNotFoundError, PermissionError)


def _fail(message: str) -> int:
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"error: {first}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 0 on success, 2 on bad input (one line on stderr)."""
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], None] = args.func
    try:
        func(args)
    except KeyboardInterrupt:
        return 130
    except _user_errors() as exc:
        return _fail(str(exc))
    except Exception as exc:  # never a traceback for the user, unless asked
        if os.environ.get("DREAMLAB_DEBUG"):
            raise
        return _fail(f"{type(exc).__name__}: {exc}")
    return 0


def _json_arg(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"not valid JSON: {exc.msg} at position {exc.pos}") from None


if __name__ == "__main__":
    raise SystemExit(main())
