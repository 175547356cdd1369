"""``dreamlab models``: every model, and whether its weights are here."""

from __future__ import annotations

import argparse

__all__ = ["add", "run"]


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list models and whether their weights are here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from dreamlab.models import get_spec, list_models
    from dreamlab.models.weights import NoWeights
    from dreamlab.train.store import register_saved_models

    register_saved_models()
    for info in list_models():
        # random weights ship with the code but are not "embedded" weights: say "untrained"
        untrained = isinstance(get_spec(info.name).weights, NoWeights)
        status = "untrained" if untrained else info.status
        print(f"{info.name}\t{status}\t{info.input_size}\t{info.num_layers} layers\t{info.note}")
