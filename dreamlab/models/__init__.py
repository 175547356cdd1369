"""Model registry: ``list_models()``, ``load_model()`` and the specs behind them."""

from dreamlab.models.registry import (
    LoadedModel,
    ModelError,
    ModelInfo,
    ModelSpec,
    UnknownLayerError,
    download,
    get_spec,
    list_models,
    load_model,
    load_state_dict_bytes,
    register_model,
    registered_names,
    unregister_model,
)

__all__ = [
    "LoadedModel",
    "ModelError",
    "ModelInfo",
    "ModelSpec",
    "UnknownLayerError",
    "download",
    "get_spec",
    "list_models",
    "load_model",
    "load_state_dict_bytes",
    "register_model",
    "registered_names",
    "unregister_model",
]
