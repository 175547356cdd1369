"""``dreamlab dream CLIP -o OUT.mp4|gif``: a clip dreamed frame by frame, with one progress line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dreamlab.cli.args import CliError, load_cli_model
from dreamlab.cli.dream_common import dream_settings, within_memory

__all__ = ["run"]


def run(args: argparse.Namespace) -> None:
    """Dream a clip frame by frame to an MP4 (audio kept) or a GIF, with a progress line."""
    from dreamlab.backend import dream
    from dreamlab.dream.export import dream_model_name
    from dreamlab.dream.video import VideoConfig, dream_video, dream_video_to_file

    if args.output.suffix.lower() not in (".mp4", ".gif"):
        raise CliError(f"a video dream writes a .mp4 or .gif, not {args.output.name}")
    if args.zoom_frames:
        raise CliError("--zoom-frames is for photos: a video's frames come from the clip")
    video = VideoConfig(
        coherence=args.coherence,
        blend=args.blend if args.blend is not None else VideoConfig.blend,
        start=args.start,
        end=args.end,
        fps=args.fps,
        max_side=args.max_side or VideoConfig.max_side,
    )
    args.model = dream_model_name(args.model, args.preset)
    model = load_cli_model(args)
    config = dream_settings(args, model.name)
    run = dream_video(Path(args.image), model, config, video, dreamer=within_memory(dream))
    progress = _VideoProgress(run.total)
    try:
        path, frames = dream_video_to_file(
            run, args.output, audio_from=Path(args.image), audio_start=video.start,
            on_frame=progress,
        )  # fmt: skip
    except KeyboardInterrupt:
        progress.end()
        done = progress.frames
        print(f"stopped: {args.output} keeps the {done} frame(s) made", file=sys.stderr)
        raise
    progress.end()
    h, w = (run.info.height, run.info.width)
    print(f"{path}\t{frames} frame(s)\t{run.fps:g} fps\tfrom {Path(args.image).name} ({w}x{h})")


class _VideoProgress:
    """The one progress line of a video dream on stderr: frames done, speed, time left."""

    def __init__(self, total: int) -> None:
        self.total, self.frames = total, 0
        self._tty = sys.stderr.isatty()

    def __call__(self, step: Any) -> None:
        self.frames = step.frames_done
        eta = step.eta
        left = f"{int(eta // 60)}:{int(eta % 60):02d} left" if eta is not None else ""
        line = f"frame {step.frames_done}/{step.total}  {step.fps:.2f} fps  {left}"
        print(("\r" + line) if self._tty else line, end="" if self._tty else "\n", file=sys.stderr)
        sys.stderr.flush()

    def end(self) -> None:
        if self._tty and self.frames:
            print(file=sys.stderr)
