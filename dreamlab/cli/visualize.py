"""``dreamlab visualize -o OUT.png --layer L``: feature visualization from noise (lucent-style).
Unset options keep FeatureVisConfig's defaults."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from dreamlab.cli.args import (
    CliError,
    add_backend,
    add_model,
    finite_float,
    load_cli_model,
    nonneg_int,
    positive_int,
)

if TYPE_CHECKING:
    from dreamlab.optvis import FeatureVisConfig

__all__ = ["add", "run"]

_CONFIG_DEFAULT = "default: the config's (see FeatureVisConfig)"


def add(sub: argparse._SubParsersAction) -> None:
    from dreamlab.optvis.param import PARAMS

    p = sub.add_parser("visualize", help="feature visualization from noise")
    p.add_argument("-o", "--output", required=True, type=Path)
    add_model(p)
    p.add_argument("--layer", required=True, help="a layer (see `dreamlab layers`), or logits")
    p.add_argument("--channel", type=nonneg_int, default=None)
    p.add_argument("--steps", type=positive_int, default=None, help=_CONFIG_DEFAULT)
    p.add_argument("--size", type=positive_int, default=None, help="image side in pixels")
    p.add_argument("--param", choices=PARAMS, default=None, help=_CONFIG_DEFAULT)
    p.add_argument("--no-decorrelate", action="store_true")
    p.add_argument("--no-transforms", action="store_true")
    p.add_argument("--seed", type=nonneg_int, default=None)
    p.add_argument("--neuron", action="store_true", help="the centre neuron of --channel")
    p.add_argument("--lr", type=finite_float, default=None, help="Adam learning rate")
    p.add_argument(
        "--octaves",
        type=positive_int,
        default=None,
        help="render at N growing sizes, smallest first, the steps shared out",
    )
    p.add_argument(
        "--octave-scale", type=finite_float, default=None, help="size ratio between octaves"
    )
    p.add_argument(
        "--no-upsample",
        action="store_true",
        help="feed the image at --size (faster) instead of the model's input size",
    )
    add_backend(p)
    p.set_defaults(func=run)


def _config(args: argparse.Namespace) -> FeatureVisConfig:
    """The FeatureVisConfig the options make, keeping only the last frame."""
    from dataclasses import replace

    from dreamlab.optvis import FeatureVisConfig

    given = {
        "steps": args.steps,
        "size": args.size,
        "param": args.param,
        "lr": args.lr,
        "seed": args.seed,
        "octaves": args.octaves,
        "octave_scale": args.octave_scale,
    }
    config = FeatureVisConfig(
        decorrelate=not args.no_decorrelate,
        transforms=not args.no_transforms,
        upsample=not args.no_upsample,
        **{k: v for k, v in given.items() if v is not None},
    )
    return replace(config, thresholds=(config.steps,))  # only the last frame is kept


def run(args: argparse.Namespace) -> None:
    from dreamlab.backend import visualize
    from dreamlab.media import png_bytes
    from dreamlab.optvis import as_objective, neuron

    if args.output.suffix.lower() != ".png":
        raise CliError(f"visualize writes a PNG: {args.output.name} should end in .png")
    if not args.output.parent.exists():
        raise CliError(f"cannot write {args.output}: no folder {args.output.parent}")
    if args.neuron and args.channel is None:
        raise CliError("--neuron needs --channel (the neuron is that channel at the centre)")
    config = _config(args)
    model = load_cli_model(args)
    target = args.layer if args.channel is None else f"{args.layer}:{args.channel}"
    objective = neuron(args.layer, args.channel) if args.neuron else as_objective(target)
    frame = list(visualize(model, objective, config))[-1]  # thresholds: only the last frame
    params = {
        "command": "visualize",
        "model": model.name,
        "objective": objective.name,
        "objective_value": frame.loss,
        **config.to_dict(),
    }
    args.output.write_bytes(png_bytes(frame.image, params))
    size, value = f"{config.size}x{config.size}", f"{frame.loss:.4g}"
    print(f"{args.output}\t{size}\t{config.steps} steps\t{objective.name} = {value}")
