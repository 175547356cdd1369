"""Media at the edges: images and animations out (:mod:`~dreamlab.media.export`: PNG with its
parameters, JPEG, GIF, MP4) and video clips in and out as streams (:mod:`~dreamlab.media.video`)."""

from dreamlab.media.export import (
    METADATA_KEY,
    VIDEO_SUFFIXES,
    fit_frames,
    gif_bytes,
    jpeg_bytes,
    mp4_bytes,
    png_bytes,
    read_png_params,
    write_media,
)
from dreamlab.media.video import (
    MIN_VIDEO_SIDE,
    VIDEO_INPUT_SUFFIXES,
    VIDEO_OUTPUT_SUFFIXES,
    VideoCaps,
    VideoError,
    VideoInfo,
    VideoWriter,
    check_video,
    fit_side,
    probe_video,
    read_frames,
)

__all__ = [
    "METADATA_KEY",
    "MIN_VIDEO_SIDE",
    "VIDEO_INPUT_SUFFIXES",
    "VIDEO_OUTPUT_SUFFIXES",
    "VIDEO_SUFFIXES",
    "VideoCaps",
    "VideoError",
    "VideoInfo",
    "VideoWriter",
    "check_video",
    "fit_frames",
    "fit_side",
    "gif_bytes",
    "jpeg_bytes",
    "mp4_bytes",
    "png_bytes",
    "probe_video",
    "read_frames",
    "read_png_params",
    "write_media",
]
