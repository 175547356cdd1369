"""``dreamlab classify IMAGE``: the top classes, as ``label<TAB>probability`` lines."""

from __future__ import annotations

import argparse
from pathlib import Path

from dreamlab.cli.args import add_backend, add_model, load_cli_model, positive_int

__all__ = ["add", "run"]


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="top ImageNet classes of an image")
    p.add_argument("image", type=Path)
    add_model(p)
    p.add_argument("--top", type=positive_int, default=5)
    add_backend(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from dreamlab.backend import classify
    from dreamlab.images import load_image

    image = load_image(args.image)
    model = load_cli_model(args)
    for label, prob in classify(model, image.array, top=args.top):
        print(f"{label}\t{prob:.4f}")
