"""The Convolution page's controls: the kernel (preset, size, sigma, the editable weights,
normalise, reset) and the geometry (stride, padding, boundary, dilation, correlate/convolve)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from dreamlab.convolution import (
    BOUNDARIES,
    MODES,
    PRESETS,
    ConvConfig,
    KernelError,
    default_sigma,
    kernel_sum,
    normalize_sum,
    preset_kernel,
)
from dreamlab.ui.i18n import num, t
from dreamlab.ui.ignored import note_invalid as query_note
from dreamlab.ui.parts.convolution_draw import preset_label
from dreamlab.ui.parts.layout import advanced_controls
from dreamlab.ui.theme import presenting

__all__ = [
    "CUSTOM",
    "PENDING_WEIGHTS",
    "current_config",
    "geometry_controls",
    "kernel_controls",
    "seed_padding",
]

CUSTOM = "custom"
PENDING_WEIGHTS = "conv_pending_weights"  # weights from the address, for the kernel editor
Callback = Callable[[], None] | None  # a widget's on_change (None: the default rerun)
_NARROW_EDITOR = 5  # kernels up to 5 x 5 are edited in the kernel column, larger ones full width


def _size_and_sigma(preset: str, changed: Callback) -> tuple[int, float | None]:
    """The kernel size (odd) and, for Gaussians, sigma; only the controls the preset needs."""
    info = PRESETS.get(preset)
    size = 3
    if preset == CUSTOM or (info is not None and info.sized):
        options = [1, 3, 5, 7, 9, 11] if preset == CUSTOM else [3, 5, 7, 9, 11]
        key = "conv_custom_size" if preset == CUSTOM else "conv_size"
        if st.session_state.get(key) not in options:
            st.session_state[key] = 3
        size = st.select_slider(
            t("convolution.size"),
            options=options,
            key=key,
            format_func=lambda k: f"{k}×{k}",
            on_change=changed,
        )
    sigma = None
    if info is not None and info.sigma:
        with advanced_controls():
            sigma = st.slider(
                t("convolution.sigma"),
                0.3,
                5.0,
                round(default_sigma(size), 1),
                0.1,
                key=f"conv_sigma_{size}",
                help=t("convolution.sigma_help"),
                on_change=changed,
            )
    return size, sigma


def _base_kernel(preset: str, size: int, sigma: float | None) -> np.ndarray:
    """The preset's weights, or a centred 1 (the identity) for a new custom kernel."""
    if preset != CUSTOM:
        return preset_kernel(preset, size, sigma)
    base = np.zeros((size, size), dtype=np.float32)
    base[size // 2, size // 2] = 1.0
    return base


def _kernel_editor(editor_id: str, base: np.ndarray, changed: Callback) -> np.ndarray:
    """A cell-by-cell editor; edits are kept per preset and size, also when the user looks away."""
    store: dict[str, np.ndarray] = st.session_state.setdefault("conv_kernels", {})
    key = f"conv_editor_{editor_id}_{st.session_state.get('conv_kernel_version', 0)}"
    init = f"{key}_init"
    if key not in st.session_state or init not in st.session_state:
        # The editor's data must not change while it lives (its edits are deltas against it), so
        # it starts from a snapshot: the stored edits, or the preset.
        st.session_state[init] = store.get(editor_id, base)
    columns = [str(c + 1) for c in range(base.shape[1])]  # counted from 1, as the errors say
    frame = pd.DataFrame(st.session_state[init], columns=columns)
    # Narrow columns so an 11 x 11 kernel shows all its columns in the kernel column.
    width = 64 if base.shape[1] <= _NARROW_EDITOR else 72
    edited = st.data_editor(
        frame,
        key=key,
        on_change=changed,
        hide_index=True,
        num_rows="fixed",
        # every row visible, no scrolling (11 x 11 too; presenter mode's header is taller)
        height=36 * (base.shape[0] + 1) + (40 if presenting() else 3),
        column_config={
            c: st.column_config.NumberColumn(c, format="%.3g", width=width) for c in columns
        },
    )
    kernel = edited.to_numpy(dtype=np.float64, na_value=np.nan)  # an emptied cell -> NaN -> error
    store[editor_id] = kernel
    return kernel


def kernel_controls(wide_box, changed: Callback = None) -> tuple[np.ndarray, np.ndarray, bool]:
    """Preset, size, the editable weights, normalise and reset.

    Returns the kernel to apply, the weights as edited (before normalising) and whether they are
    the preset's own. Kernels wider than ``_NARROW_EDITOR`` are edited in ``wide_box`` (the page's
    full width), so every column of an 11 x 11 kernel stays visible. ``changed``: the callback of
    every kernel widget (the page reruns the parts that depend on the kernel).
    """
    names = [*PRESETS, CUSTOM]
    preset = st.selectbox(
        t("convolution.kernel"),
        names,
        format_func=preset_label,
        key="conv_preset",
        on_change=changed,
    )
    size, sigma = _size_and_sigma(preset, changed)
    editor_id = f"{preset}|{size}|{sigma}"
    base = _base_kernel(preset, size, sigma)
    pending = st.session_state.pop(PENDING_WEIGHTS, None)  # taken once (a fragment reruns)
    if pending is not None:
        _load_weights(editor_id, base, np.asarray(pending, np.float64))
    st.caption(t("convolution.editor_help"))
    if size > _NARROW_EDITOR:
        st.caption(t("convolution.editor_below", k=size))
        with wide_box:
            st.markdown(t("convolution.editor_title", k=size))
            kernel = _kernel_editor(editor_id, base, changed)
    else:
        kernel = _kernel_editor(editor_id, base, changed)
    edited = kernel
    own = kernel.shape == base.shape and bool(np.array_equal(kernel, base))
    if st.button(t("convolution.reset"), key="conv_reset"):
        st.session_state["conv_kernels"].pop(editor_id, None)
        st.session_state["conv_kernel_version"] = st.session_state.get("conv_kernel_version", 0) + 1
        st.rerun()
    if st.checkbox(
        t("convolution.normalise"),
        key="conv_normalise",
        help=t("convolution.normalise_help"),
        on_change=changed,
    ):
        try:
            kernel = normalize_sum(kernel)
        except KernelError:
            st.warning(t("convolution.cannot_normalise"))
    if np.isfinite(kernel).all():
        st.caption(t("convolution.kernel_sum", total=num(kernel_sum(kernel), ".4g")))
    return kernel, edited, own


def _load_weights(editor_id: str, base: np.ndarray, weights: np.ndarray) -> None:
    """Weights from the address go into the editor (a new editor: its data is fixed while it
    lives); weights whose shape is not the kernel's are ignored, with the one line."""
    if weights.shape != base.shape:
        query_note("settings.weights")
        return
    st.session_state.setdefault("conv_kernels", {})[editor_id] = weights
    st.session_state["conv_kernel_version"] = st.session_state.get("conv_kernel_version", 0) + 1


def seed_padding(padding: int | str) -> None:
    """The padding setting (a number of pixels, or ``same`` / ``valid``) into its two widgets."""
    if isinstance(padding, str):
        st.session_state["conv_pad_kind"] = padding
        st.session_state["conv_pad"] = 0
    else:
        st.session_state["conv_pad_kind"] = "number"
        st.session_state["conv_pad"] = int(padding)


def geometry_controls(moved: Callback = None, reshaped: Callback = None) -> ConvConfig:
    """Stride, padding, boundary, dilation and correlate/convolve (folded away when presenting).

    ``moved``: the callback of the stride, dilation, padding pixels and boundary; ``reshaped``:
    of the padding kind and the mode, which change these controls too.
    """
    with advanced_controls():
        c1, c2, c3 = st.columns(3)
        stride = c1.slider(
            t("convolution.stride"),
            1,
            8,
            key="conv_stride",
            help=t("convolution.stride_help"),
            on_change=moved,
        )
        dilation = c1.slider(
            t("convolution.dilation"),
            1,
            8,
            key="conv_dilation",
            help=t("convolution.dilation_help"),
            on_change=moved,
        )
        kind = c2.radio(
            t("convolution.padding"),
            ["number", "same", "valid"],
            horizontal=True,
            format_func=lambda k: t(f"convolution.pad_{k}"),
            key="conv_pad_kind",
            help=t("convolution.padding_help"),
            on_change=reshaped,
        )
        pixels = c2.slider(
            t("convolution.padding_px"),
            0,
            20,
            key="conv_pad",
            disabled=kind != "number",
            on_change=moved,
        )
        boundary = c2.selectbox(
            t("convolution.boundary"),
            BOUNDARIES,
            key="conv_boundary",
            format_func=lambda b: t(f"convolution.boundary_{b}"),
            help=t("convolution.boundary_help"),
            on_change=moved,
        )
        mode = c3.radio(
            t("convolution.mode"),
            MODES,
            key="conv_mode",
            horizontal=True,
            format_func=lambda m: t(f"convolution.mode_{m}"),
            on_change=reshaped,
        )
        c3.caption(t(f"convolution.mode_help_{mode}"))
    return ConvConfig(stride, pixels if kind == "number" else kind, dilation, mode, boundary)


def current_config() -> ConvConfig:
    """The geometry the controls hold now, read from their state (a rerun of the output alone
    does not draw them again)."""
    ss = st.session_state
    kind = ss.get("conv_pad_kind", "number")
    padding = int(ss.get("conv_pad", 0)) if kind == "number" else kind
    return ConvConfig(
        int(ss["conv_stride"]),
        padding,
        int(ss["conv_dilation"]),
        ss["conv_mode"],
        ss["conv_boundary"],
    )
