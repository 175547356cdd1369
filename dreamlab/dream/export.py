"""Dream straight to a file (what ``dreamlab dream`` does) and the parameters a PNG carries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dreamlab.ascent.tiles import reproduction
from dreamlab.dream.config import PRESETS, DreamConfig, make_config
from dreamlab.dream.engine import DreamPlan, dream
from dreamlab.media import VIDEO_SUFFIXES, write_media
from dreamlab.models.registry import LoadedModel
from dreamlab.models.spec import DEFAULT_MODEL

__all__ = [
    "DreamResult",
    "build_config",
    "check_output",
    "dream_model_name",
    "dream_params",
    "dream_to_file",
]


_SUFFIXES = (".png", *VIDEO_SUFFIXES)


def build_config(model_name: str, preset: str | None = None, **settings: Any) -> DreamConfig:
    """A config from a preset (its own layer only on its own network) and the settings given.

    ``None`` settings are left at the preset's (or default) value, as a CLI's unset options are.
    """
    given = {k: v for k, v in settings.items() if v is not None}
    if preset is None:
        return make_config(**given)
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    return PRESETS[preset].config_for(model_name, **given)


def dream_model_name(model: str | None, preset: str | None = None) -> str:
    """The network a dream runs on: ``model`` if given, else the preset's own, else the default.

    A preset's own network whose weights are not here is refused with one line naming the
    weights and how to get them (a preset's dream never runs silently on another network).
    """
    if model is not None:
        return model
    spec = PRESETS.get(preset) if preset is not None else None
    if spec is None or spec.model is None:
        return DEFAULT_MODEL
    from dreamlab.models.registry import get_spec, model_status

    weights = get_spec(spec.model).weights
    status, note = model_status(get_spec(spec.model))
    if status in ("embedded", "cached"):
        return spec.model
    file = getattr(weights, "file", None)
    where = f"{file.name} from {weights.url} into {file.parent}" if file else "them"
    fb = spec.fallback
    closest = f", or pass --model {fb.model} for the closest recipe ({fb.layer})" if fb else ""
    raise ValueError(
        f"preset {preset} needs the {spec.model} weights, which are not here ({note}): "
        f"download {where}{closest}"
    )


def dream_params(
    model: LoadedModel,
    config: DreamConfig,
    plan: DreamPlan,
    *,
    source: str,
    steps: int,
    preset: str | None = None,
) -> dict[str, Any]:
    """Everything needed to make the image again (stored as JSON in the PNG)."""
    return {
        "command": "dream",
        "source": source,
        "model": model.name,
        "weights": model.weights_note or "default",
        "preset": preset,
        "targets": [[name, weight] for name, weight in plan.targets],
        "octave_sizes": [list(s) for s in plan.sizes],
        "steps": steps,
        "steps_planned": plan.total,
        "precision": plan.precision,
        "config": config.to_dict(),
        "reproduce": reproduction(plan.device),  # what the same bytes need besides the seed
    }


@dataclass(frozen=True)
class DreamResult:
    """What :func:`dream_to_file` wrote."""

    path: Path
    size: tuple[int, int]  # (H, W) of the final image
    steps: int
    frames: int  # frames in the file (1 for a PNG)
    note: str | None


def check_output(path: Path) -> None:
    """Refuse an output name DreamLab cannot write, before any work is done."""
    if path.suffix.lower() not in _SUFFIXES:
        raise ValueError(f"cannot write {path.name}: use a .png, .gif or .mp4 file name")
    if not path.parent.exists():
        raise ValueError(f"cannot write {path}: the folder {path.parent} does not exist")


def dream_to_file(
    image: Any,
    model: LoadedModel,
    output: str | Path,
    config: DreamConfig,
    *,
    source: str,
    preset: str | None = None,
    fps: float = 10,
    dreamer: Any = None,
) -> DreamResult:
    """Dream and write a PNG (the final image, parameters in its metadata), a GIF or an MP4.

    A video shows the progression, one frame per step (every frame resized to the final size);
    with a zoom loop it shows the loop instead, one frame per zoom step. ``dreamer`` replaces
    :func:`dream` (the CLI passes :func:`dreamlab.backend.dream` to use a ``--backend``).
    """
    path = Path(output)
    check_output(path)
    run = (dreamer or dream)(image, model, config)
    video = path.suffix.lower() in VIDEO_SUFFIXES
    kept: list[np.ndarray] = []
    last = None
    for frame in run:
        last = frame
        loop_end = frame.last_of_octave and frame.octave == frame.num_octaves - 1
        if video and (config.zoom_frames == 0 or loop_end):
            kept.append(frame.image)
    assert last is not None
    frames = kept if video else [last.image]
    params = dream_params(
        model, config, run.plan, source=source, steps=last.step + 1, preset=preset
    )
    write_media(path, frames, params, fps)
    return DreamResult(path, run.plan.size, last.step + 1, len(frames), run.plan.note)
