"""Feature visualization's runs: the page's choice, what a run made (kept in the session), and
the single run, the naive-vs-regularized comparison and the gallery, each through the job gate
with a Stop button, drawn into the boxes the page hands over."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import streamlit as st

from dreamlab.backend import is_remote, visualize
from dreamlab.models import LoadedModel
from dreamlab.optvis import (
    FeatureVisConfig,
    Objective,
    VisFrame,
    channel,
    channels,
    diversity,
    layer_width,
)
from dreamlab.runtime.budget import JobCost
from dreamlab.runtime.job_costs import vis_config_cost
from dreamlab.ui.i18n import t
from dreamlab.ui.parts.gate import gated
from dreamlab.ui.parts.model_picker import model_key
from dreamlab.ui.parts.throttle import Throttle
from dreamlab.viz import mosaic

__all__ = [
    "NAIVE",
    "REGULARIZED",
    "Choice",
    "Result",
    "layer_channels",
    "progress_line",
    "run_compare",
    "run_gallery",
    "run_single",
    "sheet",
]

_DRAW_EVERY_S = 0.1  # redraw the live image at most ~10 times a second


NAIVE = {"param": "pixel", "decorrelate": False, "transforms": False}


REGULARIZED = {"param": "fft", "decorrelate": True, "transforms": True}


@dataclass
class Result:
    """What a run made, kept in the session: the images, how far it got, and its parameters."""

    images: np.ndarray  # (B, H, W, 3) uint8
    step: int
    steps: int
    value: float
    params: dict[str, Any]
    labels: list[str] = field(default_factory=list)
    history: list[tuple[int, float]] = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        return self.step < self.steps


@dataclass(frozen=True)
class Choice:
    """The page's controls, read once per run of the script."""

    model: LoadedModel
    objective: Objective
    config: FeatureVisConfig
    layer: str | None
    channel: int | None

    def params(self, **extra: Any) -> dict[str, Any]:
        return {
            "page": "feature_vis",
            "model": self.model.name,
            "objective": self.objective.name,
            **self.config.to_dict(),
            **extra,
        }


@st.cache_data(show_spinner=False, max_entries=64)
def layer_channels(_model: LoadedModel, model_key: str, layer_name: str) -> int:
    return layer_width(_model, layer_name)


def sheet(r: Result) -> np.ndarray:
    """The contact sheet: every tile of a batch, labelled."""
    return mosaic(r.images, r.labels or None, cols=4 if len(r.images) <= 8 else 6, pad=4)


def _recorded(frames: Iterable[VisFrame], history: list[tuple[int, float]]) -> Iterator[VisFrame]:
    """Pass frames through, noting every step's objective (the drawn frames are only a few)."""
    for frame in frames:
        history.append((frame.step, frame.loss))
        yield frame


@contextlib.contextmanager
def _job(
    frames: Iterable[Any],
    box,
    stop_box,
    stop_key: str,
    choice: Choice,
    batch: int = 1,
    runs=1,
    *,
    remote: bool = False,
) -> Iterator[Iterator[Any]]:
    """The frames through the shared job gate, throttled, with a Stop button while they run.

    The gate seats the job when its memory fits (``runs`` visualizations of ``batch`` images at
    once). Pressing Stop reruns the script, which interrupts this one; ``closing`` then gives the
    gate's slot back at once rather than whenever the interrupted generator is collected.
    ``remote``: the frames are made at a ``dreamlab serve`` backend (read from the backend's own
    iterator: ``frames`` here wraps it), so they take no seat at this server's gate.
    """
    config = dataclasses.replace(choice.config, batch=batch)
    one = vis_config_cost(choice.model, choice.objective.layers, config)
    cost = JobCost(one.bytes * runs, one.job, one.detail)
    stream = gated(frames, box, cost=cost, model=choice.model, remote=remote)
    with contextlib.closing(stream) as stream:
        stop_box.button(t("feature_vis.stop"), key=stop_key, icon=":material/stop:")
        try:
            yield Throttle(_DRAW_EVERY_S).latest(stream)
        except Exception:  # a failed job: drop the Stop button, show the error (not Stop/rerun)
            stop_box.empty()
            raise
    stop_box.empty()


def _result(frame: VisFrame, params: dict[str, Any], history: list, **kw: Any) -> Result:
    return Result(
        frame.images, frame.step, frame.steps, frame.loss, params, history=list(history), **kw
    )


def progress_line(r: Result) -> str:
    return t("feature_vis.progress", step=r.step, steps=r.steps, value=f"{r.value:.4g}")


def run_single(choice: Choice, boxes: dict[str, Any]) -> None:
    history: list[tuple[int, float]] = []
    raw = visualize(choice.model, choice.objective, choice.config)
    frames = _recorded(raw, history)
    batch = choice.config.batch
    job = _job(
        frames, boxes["line"], boxes["button"], "fv_stop", choice, batch, remote=is_remote(raw)
    )
    with job as stream:
        for frame in stream:
            result = _result(frame, choice.params(), history)
            st.session_state["fv_single"] = result  # kept even if the user stops the run
            boxes["image"].image(frame.image, width="stretch")
            boxes["line"].caption(progress_line(result))


def run_compare(choice: Choice, boxes: dict[str, Any]) -> None:
    variants = {"naive": NAIVE, "regular": REGULARIZED}
    histories: dict[str, list] = {v: [] for v in variants}
    raws = {
        v: visualize(choice.model, choice.objective, choice.config, **kw)
        for v, kw in variants.items()
    }
    gens = [_recorded(raws[v], histories[v]) for v in variants]
    both = zip(*gens, strict=True)  # the two run step by step together: twice the memory
    batch = choice.config.batch
    remote = all(is_remote(raw) for raw in raws.values())
    job = _job(
        both, boxes["line"], boxes["button"], "fv_stop_compare", choice, batch, 2, remote=remote
    )
    with job as stream:
        for pair in stream:
            results = {
                v: _result(f, choice.params(**variants[v]), histories[v])
                for v, f in zip(variants, pair, strict=True)
            }
            st.session_state["fv_compare"] = results
            for v, r in results.items():
                boxes[v][0].image(r.images[0], width="stretch")
                boxes[v][1].caption(progress_line(r))


def _gallery_frames(choice: Choice, mode: str, count: int, weight: float):
    """The gallery's frames and tile labels: a layer's first channels, or facets of one."""
    assert choice.layer is not None
    if mode == "facets":
        c = choice.channel or 0
        obj = channel(choice.layer, c) + weight * diversity(choice.layer)
        labels = [f"#{c} · {i + 1}" for i in range(count)]
    else:
        count = min(count, layer_channels(choice.model, model_key(choice.model), choice.layer))
        obj = channels(choice.layer, list(range(count)))
        labels = [f"#{i}" for i in range(count)]
    return visualize(choice.model, obj, choice.config, batch=count), labels, obj


def run_gallery(choice: Choice, mode: str, count: int, weight: float, boxes: dict) -> None:
    frames, labels, obj = _gallery_frames(choice, mode, count, weight)
    params = choice.params(objective=obj.name, gallery=mode, count=len(labels))
    history: list[tuple[int, float]] = []
    with _job(
        _recorded(frames, history),
        boxes["line"],
        boxes["button"],
        "fv_stop_gallery",
        choice,
        len(labels),
        remote=is_remote(frames),
    ) as stream:
        for frame in stream:
            result = _result(frame, params, history, labels=labels)
            st.session_state["fv_gallery"] = result
            boxes["image"].image(sheet(result), width="stretch")
            boxes["line"].caption(progress_line(result))
