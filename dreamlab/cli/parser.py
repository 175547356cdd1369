"""The command line assembled from one module per command, and ``main``: run one command.

Bad input of any kind exits with status 2 and one line ``error: ...`` on stderr (set
``DREAMLAB_DEBUG=1`` to see the traceback of an unexpected failure).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from dreamlab.cli import (
    benchmark,
    classify,
    convolve,
    dream,
    layers,
    models,
    serve,
    train,
    visualize,
)
from dreamlab.cli.args import CliError, Parser

__all__ = ["COMMANDS", "build_parser", "main"]

# In the order ``dreamlab --help`` lists them; each module adds its parser and its ``run``.
COMMANDS = (models, layers, classify, convolve, dream, visualize, train, benchmark, serve)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, one subcommand per module of :data:`COMMANDS`."""
    from dreamlab import __version__

    parser = Parser(prog="dreamlab", description="See inside convolutional networks.")
    parser.add_argument("--version", action="version", version=f"dreamlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add(sub)
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
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (2), --help and --version (0): a status, as documented
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    func: Callable[[argparse.Namespace], None] = args.func
    try:
        from dreamlab.backend import backend_for

        with backend_for(getattr(args, "backend", None)):  # --backend: for this command only
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
