"""What the photo and the video dream share: the DreamConfig the options make, the objective they
imply, whether the source is a clip, and the memory check before the first step."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["dream_objective", "dream_settings", "is_video", "within_memory"]


def is_video(source: str, output: Path) -> bool:
    """A clip to dream frame by frame (a GIF is one unless the output is a PNG)."""
    from dreamlab.media import VIDEO_INPUT_SUFFIXES

    suffix = Path(source).suffix.lower()
    return suffix in VIDEO_INPUT_SUFFIXES and not (
        suffix == ".gif" and output.suffix.lower() == ".png"
    )


def dream_settings(args: argparse.Namespace, model_name: str, **extra: Any) -> Any:
    """The DreamConfig the dream options make (a preset's settings under them), with ``extra``."""
    from dreamlab.dream.export import build_config
    from dreamlab.images import load_image

    guide = load_image(args.guide, max_side=None).array if args.guide else None
    return build_config(
        model_name,
        args.preset,
        layer=args.layer,
        channel=args.channel,
        num_octaves=args.octaves,
        octave_scale=args.octave_scale,
        iterations=args.iterations,
        lr=args.lr,
        jitter=args.jitter,
        smoothing=args.smoothing,
        seed=args.seed,
        guide=guide,
        precision=args.precision,
        objective=dream_objective(args),
        logit=args.logit,
        direction=args.direction,
        transforms=args.transforms or None,
        **extra,
    )


def within_memory(dreamer: Any) -> Any:
    """``dreamer``, refusing (one line, exit 2) a dream this machine's memory budget cannot hold."""
    from dreamlab.runtime.budget import shared_budget
    from dreamlab.runtime.job_costs import dream_run_cost

    def checked(image: Any, model: Any, config: Any = None, **kw: Any) -> Any:
        run = dreamer(image, model, config, **kw)
        refused = shared_budget().refusal(dream_run_cost(model, run))
        if refused is not None:
            run.close()
            raise refused
        return run

    return checked


def dream_objective(args: argparse.Namespace) -> str | None:
    """--objective, or the one that --logit, --direction or --neuron imply (None: the config's)."""
    if args.objective is not None:
        return args.objective
    if args.logit is not None:
        return "logit"
    if args.direction is not None:
        return "direction"
    return "neuron" if args.neuron else None
