"""The model pickers: a model (its status, download or own weights), its layer, the shared cache."""

from __future__ import annotations

import hashlib

import streamlit as st

from dreamlab.backend import backend_url
from dreamlab.models import (
    LoadedModel,
    ModelError,
    ModelInfo,
    ModelSpec,
    list_models,
    load_model,
    load_spec,
)
from dreamlab.models.registry import download, load_spec_only, model_cache
from dreamlab.models.spec import DEFAULT_MODEL
from dreamlab.ui.i18n import model_note, model_title, t
from dreamlab.ui.ignored import note_invalid
from dreamlab.ui.parts.layout import device_choice, show_error

__all__ = [
    "add_session_model",
    "cached_model",
    "layer_select",
    "model_key",
    "model_picker",
    "session_models",
]


def model_key(model: LoadedModel) -> str:
    """A cache key for a loaded model (Streamlit's caches cannot hash the module itself)."""
    return f"{model.name}|{model.device}|{model.weights_note}|{id(model)}"


def cached_model(
    name: str,
    device: str,
    weights_digest: str = "",
    _weights: bytes | None = None,
    _spec: ModelSpec | None = None,
) -> LoadedModel:
    """One frozen model per (model, device, weights) shared by every session (read-only), from
    the backend's model cache (least recently used models dropped over the memory budget).

    ``_spec``: a model of this session only (:func:`session_models`); its name holds its
    weights' hash, so the name alone is a safe key.
    """
    if _spec is not None:
        return model_cache().get(
            (name, device, weights_digest),
            lambda: load_spec(_spec, device=device, weights=_weights),
        )
    if _weights is None and backend_url() is not None:  # a thin front end: the backend runs it
        return _thin_model(name, device)
    return model_cache().get(
        (name, device, weights_digest),
        lambda: load_model(name, device=device, weights=_weights),
    )


@st.cache_resource(show_spinner=False, max_entries=8)
def _thin_model(name: str, device: str) -> LoadedModel:
    """A thin front end's model: its spec only, one per (model, device) for every session (its
    weights load, once, only if something runs it here)."""
    return load_spec_only(name, device=device)


_SESSION_MODELS = "session_models"


def add_session_model(spec: ModelSpec) -> None:
    """Offer a model (a network trained in this session) to this browser session's pickers only."""
    st.session_state.setdefault(_SESSION_MODELS, {})[spec.name] = spec


def session_models() -> dict[str, ModelSpec]:
    """This session's own models by name (registered nowhere: other sessions never see them)."""
    return dict(st.session_state.get(_SESSION_MODELS, {}))


def _picker_infos() -> dict[str, ModelInfo]:
    """``list_models()`` then this session's models, by name."""
    infos = {i.name: i for i in list_models()}
    for name, spec in session_models().items():
        status, note = spec.weights.status()
        infos[name] = ModelInfo(name, spec.title, status, spec.input_size, len(spec.layers), note)
    return infos


def _status_label(info_status: str) -> str:
    return t(f"common.status_{info_status}")


def _model_label(name: str, title: str, status: str) -> str:
    """``Title · status``, translated, the status said once (not "(embedded) · embedded")."""
    shown, label = model_title(name, title), _status_label(status)
    for word in {status, label}:
        shown = shown.replace(f" ({word})", "")
    return f"{shown} · {label}"


def _download_with_progress(name: str) -> bool:
    """Download a model's weights with a progress bar; False (and one line) on failure."""
    bar = st.progress(0.0, text=t("common.downloading"))
    try:
        for done, total in download(name):
            frac = done / total if total else 0.0
            bar.progress(min(frac, 1.0), text=t("common.downloading_mb", mb=f"{done / 1e6:.0f}"))
    except ModelError as exc:
        show_error(exc)
        return False
    bar.empty()
    return True


def model_picker(key: str, *, default: str = DEFAULT_MODEL) -> LoadedModel | None:
    """Pick a model (status shown), download or upload its weights, and load it (cached)."""
    infos = _picker_infos()
    names = list(infos)
    if st.session_state.get(f"{key}_model") not in names:
        note_invalid(f"{key}_model")
        st.session_state[f"{key}_model"] = default if default in names else names[0]
    name = st.selectbox(
        t("common.model"),
        names,
        key=f"{key}_model",
        format_func=lambda n: _model_label(infos[n].name, infos[n].title, infos[n].status),
    )
    info = infos[name]
    weights: bytes | None = None
    with st.expander(t("common.own_weights")):
        up = st.file_uploader(
            t("common.own_weights_help"), type=["pt", "pth"], key=f"{key}_weights"
        )
        if up is not None:
            weights = up.getvalue()
    if weights is None and info.status == "unavailable":
        title, reason = model_title(name, info.title), model_note(info.note)
        st.warning(t("common.model_unavailable", title=title, reason=reason))
        return None
    if weights is None and info.status == "downloadable":
        st.info(t("common.model_downloadable", title=model_title(name, info.title)))
        if not st.button(t("common.download"), key=f"{key}_download"):
            return None
        if not _download_with_progress(name):
            return None
    digest = hashlib.sha256(weights).hexdigest() if weights else ""
    try:
        with st.spinner(t("common.loading_model", title=model_title(name, info.title))):
            spec = session_models().get(name)
            model = cached_model(name, device_choice(), digest, weights, spec)
    except (ModelError, ValueError) as exc:
        show_error(exc)
        return None
    if info.note and info.status == "embedded" and not weights:
        st.caption(model_note(info.note))
    return model


def layer_select(
    model: LoadedModel, key: str, *, default: str | None = None, label: str | None = None
) -> str:
    """A slider over the model's layers (dotted names, shallow to deep)."""
    layers = model.layers
    state_key = f"{key}_layer_{model.name}"
    if st.session_state.get(state_key) not in layers:
        note_invalid(state_key)  # a layer the address named that this model lacks: one line
        st.session_state[state_key] = default if default in layers else model.default_layer
    return st.select_slider(label or t("common.layer"), options=layers, key=state_key)
