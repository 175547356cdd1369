"""DreamLab: see inside convolutional networks.

The public API is re-exported here lazily (importing ``dreamlab`` loads no model, picks no device
and imports no heavy module until a name is used).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "DEFAULT_MODEL": "dreamlab.models",
    "list_models": "dreamlab.models",
    "load_model": "dreamlab.models",
    "LoadedModel": "dreamlab.models",
    "ModelInfo": "dreamlab.models",
    "ModelError": "dreamlab.models",
    "UnknownLayerError": "dreamlab.models",
    "register_model": "dreamlab.models",
    "load_image": "dreamlab.images",
    "ImageError": "dreamlab.images",
    "convolve": "dreamlab.convolution",
    "dream": "dreamlab.dream",
    "DreamConfig": "dreamlab.dream",
    "DreamFrame": "dreamlab.dream",
    "visualize": "dreamlab.optvis",
    "FeatureVisConfig": "dreamlab.optvis",
    "VisFrame": "dreamlab.optvis",
    "train": "dreamlab.train",
    "TrainConfig": "dreamlab.train",
    "TrainStep": "dreamlab.train",
    "EvalResult": "dreamlab.train",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Import the public names on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dreamlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
