"""The "Train a CNN" page: the seed's small network trained live, its filters shown as it learns.

The run lives in ``st.session_state`` (a :class:`~dreamlab.train.session.TrainingRun`, which
holds the training policy: curves, status, a stopped run's evaluation), so a **Stop** (or any other
click, which interrupts the script) keeps the curves and the network trained so far; the next run
evaluates those weights and offers them to this session's other pages (nowhere else); **Save for
everyone** saves them under a name for every session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from dreamlab.errors import DreamLabError
from dreamlab.runtime.job_costs import train_cost
from dreamlab.train.config import PRESETS as TRAIN_PRESETS
from dreamlab.train.config import TrainConfig
from dreamlab.train.datasets import DATASETS, dataset_status, download_dataset
from dreamlab.train.loop import TrainStep, train
from dreamlab.train.session import TrainingRun
from dreamlab.train.store import save_model, session_spec, trained_bytes
from dreamlab.ui import query
from dreamlab.ui.i18n import current_lang, dataset_title, model_title, t, translate
from dreamlab.ui.parts.gate import gated
from dreamlab.ui.parts.layout import (
    advanced_controls,
    device_choice,
    error_line,
    lesson,
    show_error,
)
from dreamlab.ui.parts.model_picker import add_session_model
from dreamlab.ui.parts.throttle import Throttle
from dreamlab.ui.parts.train_charts import (
    confusion_chart,
    curve_chart,
    filter_image,
    preview_image,
    show_architecture,
)
from dreamlab.ui.settings import TRAIN_BATCHES, TRAIN_LRS, TRAIN_SIZES, TrainSettings

__all__ = ["render"]

_RUN = "train_run"


_DRAW_EVERY_S = 0.3  # redraw at most ~3 times a second: drawing costs more than a batch


_WAIT_PREVIOUS_S = 30.0  # a batch or a test pass on a busy CPU can take seconds


_SEED = TRAIN_PRESETS["seed"].config


_SEED_SETTINGS = {
    "train_optimizer": _SEED.optimizer,
    "train_lr": _SEED.lr,
    "train_momentum": _SEED.momentum,
    "train_batch": _SEED.batch_size,
}


@dataclass
class _Run(TrainingRun):
    """A :class:`TrainingRun` plus what the page keeps of it: the model offered to this session
    and, once saved for everyone, its name."""

    saved_title: str = ""  # the title of the model kept for this session
    saved_file: str = ""
    saved_bytes: bytes = b""
    public_name: str = ""  # the name it was saved for everyone under


def _dataset_label(name: str, lang: str) -> str:
    status, _ = dataset_status(name)
    return f"{dataset_title(name, lang)} · {translate(lang, f'train.data_{status}')}"


def _dataset_ready(name: str) -> bool:
    """Whether the data set can be trained on now; offers its download when it can be had."""
    status, note = dataset_status(name)
    info = DATASETS[name]
    if status in ("embedded", "cached"):
        return True
    if status == "unavailable":
        st.warning(t("train.dataset_unavailable", title=info.title, reason=note))
        return False
    st.info(t("train.dataset_downloadable", title=info.title, description=info.description))
    if not st.button(t("train.download"), key="train_download"):
        return False
    bar = st.progress(0.0, text=t("train.downloading", mb="0"))
    try:
        for done, total in download_dataset(name):
            bar.progress(
                min(done / total, 1.0) if total else 0.0,
                text=t("train.downloading", mb=f"{done / 1e6:.0f}"),
            )
    except ValueError as exc:
        show_error(exc)
        return False
    bar.empty()
    return True


def _apply_seed_settings() -> None:
    st.session_state.update(_SEED_SETTINGS)


def _default_size(dataset: str) -> int:
    """The training images used when the address or the user says nothing: all 5000 shapes,
    10000 of a downloaded set."""
    return 5000 if dataset == "shapes" else 10000


def _save(settings: TrainSettings) -> None:
    """The page's settings as its widgets hold them now, into the address."""
    ss = st.session_state
    dataset = str(ss["train_dataset"])
    size = ss.get(f"train_size_{dataset}")
    settings = TrainSettings(
        dataset=dataset,
        optimizer=ss["train_optimizer"],
        lr=float(ss["train_lr"]),
        batch=int(ss["train_batch"]),
        epochs=int(ss["train_epochs"]),
        momentum=round(float(ss["train_momentum"]), 3),
        size=None if size in (None, _default_size(dataset)) else int(size),
        seed=int(ss["train_seed"]),
    )
    query.save("train", settings)
    query.copy_link(settings)


def _fine_controls(dataset: str, optimizer: str) -> tuple[float, int, int]:
    """Momentum (SGD only), the training set's size and the seed, folded away when presenting,
    and **Seed settings**; returns (momentum, size, seed)."""
    with advanced_controls():
        momentum = st.slider(
            t("train.momentum"),
            0.0,
            0.99,
            step=0.01,
            key="train_momentum",
            disabled=optimizer != "sgd",
        )
        st.session_state.setdefault(f"train_size_{dataset}", _default_size(dataset))
        size = st.select_slider(t("train.train_size"), TRAIN_SIZES, key=f"train_size_{dataset}")
        seed = st.number_input(t("train.seed"), 0, 10**6, step=1, key="train_seed")
        st.button(
            t("train.seed_settings"),
            help=t("train.seed_settings_help"),
            on_click=_apply_seed_settings,
            key="train_seed_settings",
        )
    return float(momentum), int(size), int(seed)


def _controls() -> tuple[TrainConfig | None, bool]:
    """The settings and the **Train** / **Stop** buttons.

    Returns the config (None when the chosen data set cannot be used here) and whether **Train**
    was just clicked.
    """
    lang = current_lang()  # option labels fixed at drawing time (AppTest formats them later)
    dataset = st.selectbox(
        t("train.data_set"),
        list(DATASETS),
        key="train_dataset",
        format_func=lambda n: _dataset_label(n, lang),
    )
    ready = _dataset_ready(dataset)
    optimizer = st.radio(
        t("train.optimizer"),
        ["adam", "sgd"],
        key="train_optimizer",
        horizontal=True,
        format_func=lambda o: translate(lang, f"train.optimizer_{o}"),
    )
    lr = st.select_slider(t("train.lr"), TRAIN_LRS, key="train_lr")
    batch = st.select_slider(t("train.batch_size"), TRAIN_BATCHES, key="train_batch")
    epochs = st.slider(t("train.epochs"), 1, 30, key="train_epochs")
    left, right = st.columns(2)
    start = left.button(
        t("train.train"), type="primary", key="train_start", disabled=not ready, width="stretch"
    )
    right.button(t("train.stop"), key="train_stop", width="stretch")
    momentum, size, seed = _fine_controls(dataset, optimizer)
    if not ready:
        return None, False
    config = TrainConfig(
        dataset=dataset,
        optimizer=optimizer,
        lr=float(lr),
        momentum=float(momentum),
        batch_size=int(batch),
        epochs=int(epochs),
        seed=int(seed),
        train_size=int(size),
        test_size=None if dataset == "shapes" else 2000,
        device=device_choice(),
    )
    return config, start


def _status_text(run: _Run) -> str:
    epoch, batch, batches = run.position
    test_acc = f"{run.evals[-1][1]:.1%}" if run.evals else "–"
    if run.status == "done" and run.result is not None:
        return t("train.done", acc=f"{run.result.accuracy:.1%}", epoch=run.result.epoch)
    if run.status == "stopped" and run.result is not None:
        return t("train.stopped", epoch=epoch, batch=batch, acc=f"{run.result.accuracy:.1%}")
    if run.status == "stopped":
        return t("train.stopped_pending", epoch=epoch, batch=batch)
    if run.status == "error":
        return t("train.failed", error=run.error)
    loss = f"{run.loss[-1]:.3f}" if run.loss else "–"
    acc = f"{run.acc[-1]:.1%}" if run.acc else "–"
    return t("train.running", loss=loss, acc=acc, test=test_acc)


@dataclass
class _Slots:
    """The page's live areas, drawn in place during training and after it."""

    status: Any
    progress: Any
    charts: Any
    filters: Any
    previews: Any

    def draw(self, run: _Run) -> None:
        epoch, batch, batches = run.position
        if run.status == "error":
            self.status.error(_status_text(run), icon="⚠️")
        else:
            self.status.markdown(_status_text(run))
        text = (
            t("train.progress", epoch=epoch, epochs=run.config.epochs, batch=batch, batches=batches)
            if batches
            else t("train.before")
        )
        self.progress.progress(run.fraction, text=text)
        with self.charts.container():
            left, right = st.columns(2)
            left.altair_chart(curve_chart(run, run.loss, 2, t("train.loss_chart")))
            right.altair_chart(curve_chart(run, run.acc, 1, t("train.acc_chart")))
        if run.filters is not None:
            with self.filters.container():
                st.subheader(t("train.filters"))
                st.image(filter_image(run), width=560)
                st.caption(t("train.filters_caption", m=f"{run.filter_scale:.3g}"))
        if run.preview_images is not None and run.previews:
            with self.previews.container():
                st.subheader(t("train.previews"))
                st.image(preview_image(run), width=560)
                st.caption(t("train.previews_caption"))


def _new_slots() -> _Slots:
    return _Slots(st.empty(), st.empty(), st.empty(), st.empty(), st.empty())


def _train(config: TrainConfig, slots: _Slots) -> _Run:
    """Pull the training generator through the job gate, drawing a few times a second.

    Whatever ends the loop (the last epoch, an error, or Streamlit interrupting the script for a
    Stop click), the run stays in the session with what it has so far (:meth:`TrainingRun.close`).
    """
    run = _Run(config)
    st.session_state[_RUN] = run
    throttle = Throttle(_DRAW_EVERY_S)
    try:
        cost = train_cost(config.batch_size)
        for item in gated(train(config), slots.status, cost=cost):
            run.add(item)
            if throttle.due(force=not isinstance(item, TrainStep)):  # every evaluation is drawn
                slots.draw(run)
        run.mark_done()
    except ValueError as exc:
        run.mark_failed(error_line(exc))
    finally:
        run.close()
    return run


def _await_previous(run: _Run) -> None:
    """Let an interrupted training run (another script thread) save its state before drawing."""
    if not run.finished.is_set():
        with st.spinner(t("train.stopping")):
            run.finished.wait(timeout=_WAIT_PREVIOUS_S)


def _finish_stopped(run: _Run, slots: _Slots) -> None:
    """Evaluate the weights kept at a Stop (once, through the job gate), so they can be kept."""
    if not run.pending:
        return
    try:
        for _ in gated([None], slots.status):
            run.finish()
    except ValueError as exc:
        run.error = error_line(exc)


def _keep(run: _Run) -> None:
    """Offer the trained network to this session's model pickers, once (saved nowhere)."""
    if run.result is None or run.saved_title:
        return
    try:
        spec = session_spec(run.result)
    except (OSError, ValueError) as exc:
        st.warning(t("train.save_failed", error=error_line(exc)))
        return
    add_session_model(spec)
    run.saved_title, run.saved_file = spec.title, f"{spec.name}.pt"
    run.saved_bytes = trained_bytes(run.result)


def _save_for_everyone(run: _Run) -> None:
    """**Model name** and **Save for everyone**: a deliberate save, listed in every session."""
    if run.public_name:
        st.success(t("train.saved_everyone", name=run.public_name))
        return
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    name = left.text_input(
        t("train.model_name"), key="train_model_name", max_chars=40, help=t("train.model_name_help")
    )
    if not right.button(t("train.save_everyone"), key="train_save", width="stretch"):
        return
    try:
        save_model(run.result, name.strip())
    except (DreamLabError, OSError) as exc:
        show_error(exc)
        return
    run.public_name = name.strip()
    st.success(t("train.saved_everyone", name=run.public_name))


def _show_result(run: _Run) -> None:
    """After training: the test accuracy, the confusion matrix and the weights to download."""
    if run.result is None:
        return
    st.subheader(t("train.confusion"))
    st.altair_chart(confusion_chart(run))
    st.caption(t("train.confusion_caption", n=int(run.result.confusion.sum())))
    st.metric(t("train.test_accuracy"), f"{run.result.accuracy:.1%}")
    if run.saved_bytes:
        st.download_button(
            t("train.download_weights"),
            run.saved_bytes,
            file_name=run.saved_file,
            mime="application/octet-stream",
            key="train_download_weights",
        )
        name = run.saved_file.removesuffix(".pt")
        st.success(t("train.saved_as", title=model_title(name, run.saved_title)))
        _save_for_everyone(run)


def render() -> None:
    """Draw the page."""
    st.title(t("train.title"))
    settings = query.load("train", TrainSettings)
    st.caption(t("train.intro"))
    lesson("train")
    controls, view = st.columns([1, 2], gap="large")
    with controls:
        config, start = _controls()
        _save(settings)
    with view:
        slots = _new_slots()
        run: _Run | None = st.session_state.get(_RUN)
        if start and config is not None:
            run = _train(config, slots)
        if run is None:
            slots.status.info(t("train.nothing_yet"))
        else:
            _await_previous(run)
            _finish_stopped(run, slots)
            _keep(run)
            slots.draw(run)
            _show_result(run)
    show_architecture()  # full width: the table's four columns do not fit beside the charts
