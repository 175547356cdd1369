"""``dreamlab train``: train the seed's small CNN, to a checkpoint file and/or saved for everyone.
Choices come from the data sets and TrainConfig; unset options keep TrainConfig's defaults."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dreamlab.cli.args import CliError, add_device, finite_float, nonneg_int, positive_int

if TYPE_CHECKING:
    from dreamlab.train.config import TrainConfig

__all__ = ["add", "run"]


def add(sub: argparse._SubParsersAction) -> None:
    from dreamlab.train.config import OPTIMIZERS, TrainConfig
    from dreamlab.train.datasets import dataset_names

    p = sub.add_parser("train", help="train the seed's small CNN")
    p.add_argument("--dataset", choices=dataset_names(), default=TrainConfig.dataset)
    p.add_argument("--epochs", type=positive_int, default=None)
    p.add_argument("--lr", type=finite_float, default=None)
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=None)
    p.add_argument(
        "--momentum",
        type=finite_float,
        default=None,
        help=f"SGD momentum ({TrainConfig.momentum:g})",
    )
    p.add_argument("--train-size", type=positive_int, default=None, help="training images")
    p.add_argument("--seed", type=nonneg_int, default=None)
    add_device(p, default=None)
    p.add_argument("-o", "--output", type=Path, default=None, help="write the checkpoint here")
    p.add_argument(
        "--save",
        default=None,
        metavar="NAME",
        help="save for everyone as the model NAME (then --model NAME)",
    )
    p.set_defaults(func=run)


def _config(args: argparse.Namespace) -> TrainConfig:
    from dreamlab.train.config import TrainConfig

    settings = {
        "epochs": args.epochs,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "optimizer": args.optimizer,
        "momentum": args.momentum,
        "train_size": args.train_size,
        "seed": args.seed,
        "device": args.device,
    }
    return TrainConfig(dataset=args.dataset, **{k: v for k, v in settings.items() if v is not None})


def _check_outputs(args: argparse.Namespace) -> None:
    """Fail before training: nowhere to put the model, a missing folder, a taken name."""
    from dreamlab.train import store

    if args.output is None and args.save is None:
        raise CliError("say where the trained model goes: -o FILE, --save NAME, or both")
    if args.output is not None and not args.output.parent.is_dir():
        raise CliError(f"folder {args.output.parent} does not exist")
    if args.save is not None:
        store.register_saved_models()
        store.check_new_name(args.save)


def run(args: argparse.Namespace) -> None:
    from dreamlab.train import store
    from dreamlab.train.datasets import dataset_status, download_dataset
    from dreamlab.train.loop import EvalResult, train

    config = _config(args)
    _check_outputs(args)
    if dataset_status(config.dataset)[0] == "downloadable":
        for done, _total in download_dataset(config.dataset):
            print(f"\rdownloading {config.dataset}: {done / 1e6:.0f} MB", end="", file=sys.stderr)
        print(file=sys.stderr)
    final, step = None, None
    for item in train(config):
        if not isinstance(item, EvalResult):
            step = item
            continue
        done = f"train loss {step.running_loss:.4f}  acc {step.accuracy:.4f}  " if step else ""
        print(f"epoch {item.epoch}/{config.epochs}  {done}test acc {item.accuracy:.4f}", flush=True)
        final = item if item.final else final
    if args.output is not None:
        store.save_trained(args.output, final)
        print(f"saved {args.output} (test accuracy {final.accuracy:.1%}, {config.dataset})")
    if args.save is not None:
        store.save_model(final, args.save)
        print(f"saved for everyone as the model {args.save} (use --model {args.save})")
