"""``dreamlab dream IMAGE|noise|CLIP -o OUT``: DeepDream a photo (or noise) to a PNG, GIF or MP4,
or a clip frame by frame. Choices and defaults are DreamConfig's and VideoConfig's own."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dreamlab.cli import dream_video
from dreamlab.cli.args import (
    add_backend,
    add_model,
    finite_float,
    load_cli_model,
    nonneg_float,
    nonneg_int,
    positive_float,
    positive_int,
    vector,
)
from dreamlab.cli.dream_common import dream_settings, is_video, within_memory

__all__ = ["add", "run"]


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dream", help="DeepDream a photo (or noise), or a video frame by frame")
    p.add_argument("image", help="an image file, `noise`, or a clip (.mp4 .webm .mov .gif)")
    p.add_argument("-o", "--output", required=True, type=Path, help=".png, .gif or .mp4")
    add_model(p)
    p.set_defaults(model=None)  # None: the preset's own network, else the default model
    _add_settings(p)
    _add_video(p)
    _add_objective(p)
    add_backend(p)
    p.set_defaults(func=run)


def _add_settings(p: argparse.ArgumentParser) -> None:
    """The dream's own settings (None: the preset's, else DreamConfig's)."""
    from dreamlab.dream.config import PRESETS

    presets = [name for name in PRESETS if name != "default"]
    p.add_argument("--layer", default=None)
    p.add_argument("--channel", type=nonneg_int, default=None)
    p.add_argument("--preset", default=None, help=", ".join(presets[:-1]) + " or " + presets[-1])
    p.add_argument("--octaves", type=positive_int, default=None)
    p.add_argument("--octave-scale", type=finite_float, default=None)
    p.add_argument("--iterations", type=positive_int, default=None)
    p.add_argument("--lr", type=finite_float, default=None)
    p.add_argument("--jitter", type=nonneg_int, default=None)
    p.add_argument(
        "--smoothing", type=finite_float, default=None, help="gradient smoothing (0 = off)"
    )
    p.add_argument("--max-side", type=positive_int, default=None)
    p.add_argument("--seed", type=nonneg_int, default=None)
    p.add_argument("--guide", type=Path, default=None, help="guide image (guided dream)")
    p.add_argument("--zoom-frames", type=nonneg_int, default=0, help="zoom loop: extra frames")
    p.add_argument("--zoom", type=finite_float, default=None, help="zoom per loop frame (1.05)")
    p.add_argument("--rotate", type=finite_float, default=None, help="degrees per loop frame")
    p.add_argument(
        "--fps",
        type=positive_float,
        default=None,
        help="frames per second of a GIF/MP4 (default 10); of a video dream: at most the clip's "
        "(default: the clip's)",
    )


def _add_video(p: argparse.ArgumentParser) -> None:
    """A clip's options (VideoConfig's defaults)."""
    from dreamlab.dream.coherence import METHODS
    from dreamlab.dream.video import VideoConfig

    p.add_argument(
        "--start", type=nonneg_float, default=VideoConfig.start, help="video: start, in seconds"
    )
    p.add_argument("--end", type=nonneg_float, default=None, help="video: end, in seconds")
    p.add_argument(
        "--coherence",
        choices=METHODS,
        default=VideoConfig.coherence,
        help="video: carry the dream along the optical flow (flow), mix in the last dreamed "
        "frame (blend), or dream each frame alone (none)",
    )
    p.add_argument(
        "--blend",
        type=finite_float,
        default=None,
        help=f"video: share of the dream carried ({VideoConfig.blend:g})",
    )


def _add_objective(p: argparse.ArgumentParser) -> None:
    """The precision, what the dream makes grow (DreamConfig.objective), the feature-vis
    transforms."""
    from dreamlab.dream.config import OBJECTIVES, PRECISIONS

    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=None,
        help="auto: bf16/fp16 on CUDA, fp32 elsewhere; bf16 speeds up VGG on CPUs "
        "with native bf16 (AVX512-BF16, AMX)",
    )

    p.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default=None,
        help="layer (default: the layer's norm, or --channel's), neuron (--channel "
        "at the centre), direction (--direction) or logit (--logit)",
    )
    p.add_argument("--neuron", action="store_true", help="dream the centre neuron of --channel")
    p.add_argument(
        "--logit",
        type=nonneg_int,
        default=None,
        help="dream class N's logit (e.g. 281, tabby cat, on ImageNet models)",
    )
    p.add_argument(
        "--direction",
        type=vector,
        default=None,
        help="a JSON list (or .json/.npy file) of one number per channel of --layer",
    )
    p.add_argument(
        "--transforms",
        action="store_true",
        help="also apply feature visualization's transforms (pad, jitter, scale, "
        "rotate) at each step",
    )


def run(args: argparse.Namespace) -> None:
    from dreamlab.backend import dream
    from dreamlab.dream.config import PRESETS
    from dreamlab.dream.export import check_output, dream_model_name, dream_to_file
    from dreamlab.images import load_image

    check_output(args.output)  # before any work
    if is_video(args.image, args.output):
        return dream_video.run(args)
    noise = args.image == "noise"
    image = "noise" if noise else load_image(Path(args.image), max_side=None).array
    args.model = dream_model_name(args.model, args.preset)  # unset: the preset's own network
    model = load_cli_model(args)
    config = dream_settings(
        args,
        model.name,
        max_side=args.max_side,
        zoom_frames=args.zoom_frames or None,
        zoom=args.zoom,
        rotate=args.rotate,
    )
    result = dream_to_file(
        image,
        model,
        args.output,
        config,
        source="noise" if noise else Path(args.image).name,
        fps=args.fps or 10,
        dreamer=within_memory(dream),
        preset=PRESETS[args.preset].label_for(model.name) if args.preset else None,
    )
    if result.note:
        print(f"note: {result.note}", file=sys.stderr)
    h, w = result.size
    print(f"{result.path}\t{w}x{h}\t{result.steps} steps\t{result.frames} frame(s)")
