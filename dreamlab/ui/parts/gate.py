"""The job gate: every heavy job waits for a seat and takes fair turns, its place shown."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

import streamlit as st

from dreamlab.backend import is_remote, place_reporter
from dreamlab.models import (
    LoadedModel,
)
from dreamlab.models.registry import model_cache
from dreamlab.runtime.budget import JobCost, MemoryRefused, shared_budget
from dreamlab.runtime.device import available_devices
from dreamlab.runtime.jobs import JobGate, default_capacity, default_turns
from dreamlab.runtime.memory import release_memory
from dreamlab.ui.i18n import t
from dreamlab.ui.parts.layout import error_line

__all__ = ["admit", "gated", "shared_gate"]

T = TypeVar("T")


@st.cache_resource(show_spinner=False)
def shared_gate() -> JobGate:
    """The one job gate of this server, shared by every browser session (seats, fair turns,
    admission by the memory budget)."""
    device = "cuda" if "cuda" in available_devices() else "cpu"
    return JobGate(default_capacity(device), default_turns(device), budget=shared_budget())


def admit(cost: JobCost) -> JobCost:
    """``cost`` if a job of that size can ever run here, else raise
    :class:`~dreamlab.runtime.budget.MemoryRefused` (one line: the limit and what to lower). Pages call
    it before they start a job, where they already show a ``ValueError`` as one line."""
    budget = shared_gate().budget
    refused = budget.refusal(cost) if budget is not None else None
    if refused is not None:
        raise refused
    return cost


def _waiting_line(ticket, gate: JobGate) -> str:
    if ticket.reason == "memory":
        return t("memory.waiting", place=ticket.position, running=gate.running)
    return t("common.queue", position=ticket.position, running=gate.running)


def gated(
    frames: Iterable[T],
    placeholder: st.delta_generator.DeltaGenerator | None = None,
    cost: JobCost | None = None,
    model: LoadedModel | None = None,
    *,
    remote: bool | None = None,
) -> Iterator[T]:
    """Pull ``frames`` once this session has a seat, one fair turn per frame; show its place in
    the queue meanwhile, and why (seats, or memory: ``cost`` is the job's expected peak).

    A job that cannot fit even alone yields nothing and shows one line (see :func:`admit`).
    ``model`` is kept in the model cache while the job runs. The seat is given back when the loop
    ends, breaks, or Streamlit interrupts the run (Stop, or a closed tab: the next ``st`` call in
    the drawing loop raises, closing this generator).
    ``remote`` (None: ask ``frames``): the frames are made at the backend, so they take no seat
    here and no memory here; the place shown is the one at the GPU server, streamed from it.
    """
    box = placeholder or st.empty()
    if remote if remote is not None else is_remote(frames):
        yield from _remote_frames(frames, box)
        return
    gate = shared_gate()
    try:
        ticket = gate.enter(cost)
    except MemoryRefused as exc:
        box.error(error_line(exc), icon="⚠️")
        return
    try:
        try:
            while not gate.wait_turn(ticket, timeout=0.25):
                box.info(_waiting_line(ticket, gate))
        except MemoryRefused as exc:  # the server grew while it waited: it can never fit now
            box.error(error_line(exc), icon="⚠️")
            return
        box.empty()
        with model_cache().using(model):
            yield from gate.take_turns(ticket, frames)
    finally:
        gate.leave(ticket)
        release_memory()  # a heavy job just ended: hand its freed memory back
        gate.settle()


def _remote_frames(frames: Iterable[T], box: st.delta_generator.DeltaGenerator) -> Iterator[T]:
    """Frames made at the backend, with the place at its queue shown while they wait."""

    def show(place: int, of: int) -> None:
        if place:
            box.info(t("serve.waiting", place=place, of=of))
        else:
            box.empty()

    with place_reporter(show):  # this thread's (the session's script thread) while pulling
        yield from frames
