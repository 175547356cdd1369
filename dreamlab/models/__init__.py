"""Model registry: ``list_models()``, ``load_model()`` and the specs behind them."""

from dreamlab.models.registry import (
    LayerNotReachedError,
    LoadedModel,
    ModelError,
    ModelInfo,
    ModelSpec,
    Status,
    UnknownLayerError,
    download,
    get_spec,
    list_models,
    load_model,
    load_spec,
    load_state_dict_bytes,
    register_model,
    registered_names,
    unregister_model,
)
from dreamlab.models.spec import DEFAULT_MODEL

__all__ = [
    "DEFAULT_MODEL",
    "LayerNotReachedError",
    "LoadedModel",
    "ModelError",
    "ModelInfo",
    "ModelSpec",
    "Status",
    "UnknownLayerError",
    "download",
    "get_spec",
    "list_models",
    "load_model",
    "load_spec",
    "load_state_dict_bytes",
    "register_model",
    "registered_names",
    "unregister_model",
]
