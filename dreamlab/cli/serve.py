"""``dreamlab serve``: the backend as a Ray Serve service (pip install dreamlab[serve]). The
limits' defaults are the service's own (:class:`dreamlab.serve.service.Caps`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from dreamlab.cli.args import CliError, add_device, nonneg_float, positive_int

__all__ = ["add", "run", "serve_token"]


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="run the backend as a Ray Serve service (pip install dreamlab[serve])"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=positive_int, default=8000)
    add_device(p)
    p.add_argument(
        "--address", default=None, help="a Ray cluster (default: RAY_ADDRESS, else local)"
    )
    p.add_argument(
        "--batching",
        choices=("auto", "on", "off"),
        default="auto",
        help="batch concurrent dreams' steps (auto: on a GPU only)",
    )
    p.add_argument(
        "--token-file",
        type=Path,
        default=None,
        help="a file holding the token clients must send (default: DREAMLAB_SERVE_TOKEN)",
    )
    p.add_argument(
        "--replicas", type=positive_int, default=1, help="Ray Serve replicas (one GPU each)"
    )
    _add_caps(p)
    p.set_defaults(func=run)


def _add_caps(p: argparse.ArgumentParser) -> None:
    """The service's limits that a command line may change (Caps' defaults)."""
    from dreamlab.serve.service import Caps

    p.add_argument(
        "--max-batch",
        type=positive_int,
        default=Caps.max_batch,
        help="most dream steps in one batch (lowered by itself if the device runs out of memory)",
    )
    p.add_argument(
        "--queue",
        type=positive_int,
        default=Caps.max_waiting,
        help="most jobs waiting for a seat (503 beyond)",
    )
    p.add_argument(
        "--gather",
        type=nonneg_float,
        default=Caps.gather_s,
        help="with batching, the most seconds a dream waits to start in step with others "
        "(the dreams pressed with it, or after the ones running now; 0: never)",
    )


def run(args: argparse.Namespace) -> None:
    try:  # optional: pip install "dreamlab[serve]"
        import fastapi  # noqa: F401
        import ray  # noqa: F401
    except ImportError:
        raise CliError('dreamlab serve needs Ray Serve: pip install "dreamlab[serve]"') from None
    from dreamlab.serve.app import serve_forever
    from dreamlab.serve.service import Caps

    token = serve_token(args.token_file)
    caps = Caps(max_batch=args.max_batch, max_waiting=args.queue, gather_s=args.gather)
    ready = lambda url: print(f"DreamLab backend on {url} (Ctrl-C stops it)", flush=True)  # noqa: E731
    batching = {"auto": None, "on": True, "off": False}[args.batching]
    serve_forever(
        args.host,
        args.port,
        args.device,
        args.address,
        ready,
        batching,
        replicas=args.replicas,
        token=token,
        caps=caps,
    )


def serve_token(path: Path | None) -> str | None:
    """The service's bearer token: the file's first line (``--token-file``), else
    DREAMLAB_SERVE_TOKEN, else None (open to anyone who reaches the port)."""
    if path is None:
        return os.environ.get("DREAMLAB_SERVE_TOKEN", "").strip() or None
    try:
        lines = path.read_text(encoding="utf-8").strip().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read the token file ({exc})") from None
    if not lines or not lines[0].strip():
        raise CliError(f"{path}: the token file is empty")
    return lines[0].strip()
