"""``dreamlab benchmark``: DreamLab's engine against the seed's loop on this machine."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dreamlab.cli.args import CliError

__all__ = ["add", "run"]


def add(sub: argparse._SubParsersAction) -> None:
    from dreamlab.benchmark.engine import PARTS

    p = sub.add_parser("benchmark", help="measure DreamLab's engine against the seed's loop")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    p.add_argument(
        "--only",
        choices=PARTS,
        default=None,
        help="run only the engine-vs-seed cases, the contention case, or the video dream's "
        "speed and flicker",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from dreamlab.benchmark.engine import run_benchmark, summary_lines

    if args.json is not None and not args.json.parent.exists():
        raise CliError(f"cannot write {args.json}: the folder {args.json.parent} does not exist")
    result = run_benchmark(
        args.device,
        quick=args.quick,
        progress=lambda msg: print(f"... {msg}", file=sys.stderr),
        only=args.only,
    )
    for line in summary_lines(result):
        print(line)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
