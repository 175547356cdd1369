"""DeepDream: a fast, stoppable engine yielding one frame per gradient step.

``from dreamlab.dream import dream, DreamConfig, DreamFrame, PRESETS``, then
``for frame in dream(image, model, num_octaves=4): ...`` (see :func:`dreamlab.dream.engine.dream`).

This package is itself callable as ``dream``: ``import dreamlab.dream`` makes Python put the
*package* on ``dreamlab.dream`` (a submodule always wins over an attribute of the same name), so
the package and the function must be one object for ``dreamlab.dream(...)`` and
``from dreamlab import dream`` to keep meaning the function. ``dream.__signature__`` and
``dream.__wrapped__`` are the function's, for ``help()`` and ``inspect``.
"""

import inspect as _inspect
import sys as _sys
import types as _types
from typing import Any as _Any

from dreamlab.dream.config import OBJECTIVES, PRESETS, DreamConfig, Preset, make_config
from dreamlab.dream.engine import DreamPlan, DreamRun, resolve_targets
from dreamlab.dream.engine import dream as _dream
from dreamlab.dream.frames import DreamFrame
from dreamlab.dream.store import FrameStore, KeptFrame, thumbnail

__all__ = [
    "OBJECTIVES",
    "PRESETS",
    "DreamConfig",
    "DreamFrame",
    "DreamPlan",
    "DreamRun",
    "FrameStore",
    "KeptFrame",
    "Preset",
    "dream",
    "make_config",
    "resolve_targets",
    "thumbnail",
]


class _CallablePackage(_types.ModuleType):
    """The ``dreamlab.dream`` package, callable as :func:`dreamlab.dream.engine.dream`."""

    def __call__(self, *args: _Any, **kwargs: _Any) -> DreamRun:
        return _dream(*args, **kwargs)


dream = _sys.modules[__name__]
dream.__class__ = _CallablePackage
dream.__signature__ = _inspect.signature(_dream)
dream.__wrapped__ = _dream
