"""``dreamlab layers MODEL``: a model's layer names, its default marked."""

from __future__ import annotations

import argparse

from dreamlab.cli.args import add_model, load_cli_model

__all__ = ["add", "run"]


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("layers", help="list a model's layer names")
    add_model(p, device=False, positional=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from dreamlab.models import get_spec
    from dreamlab.train.store import register_saved_models

    register_saved_models()
    spec = load_cli_model(args).spec if args.weights else get_spec(args.model)  # --weights: fits
    for layer in spec.layers:
        print(layer + ("\t(default)" if layer == spec.default_layer else ""))
