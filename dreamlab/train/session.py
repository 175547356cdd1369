"""One training run as a page (or any caller) drives it: the curves, the status, a Stop kept.

A :class:`TrainingRun` takes the frames of :func:`dreamlab.train.loop.train` one by one
(:meth:`~TrainingRun.add`): it smooths the noisy per-batch curves, keeps the test evaluations,
the first-layer filters (on one scale for the whole run) and the preview predictions. Its status
moves ``running`` -> ``done`` | ``error`` | ``stopped`` and nowhere else. A run interrupted mid-epoch
(:meth:`~TrainingRun.close` while ``running``) keeps the weights of its last batch; :meth:`finish`
later evaluates them on the test set, so a stopped run can be used like a finished one.

It holds no UI and never draws; it is mutable, one per run (a page keeps it in its session).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from dreamlab.models.spec import StateDict
from dreamlab.train.config import TrainConfig
from dreamlab.train.loop import EvalResult, TrainStep, evaluate_state

__all__ = ["SMOOTH_MAX", "SMOOTH_SPAN", "RunStatus", "TrainingRun"]

# Where a run is: training, finished, failed (``error`` says why), or stopped early.
RunStatus = Literal["running", "done", "error", "stopped"]
_MOVES: dict[RunStatus, tuple[RunStatus, ...]] = {
    "running": ("done", "error", "stopped"),
    "done": (),
    "error": (),
    "stopped": (),
}
# Exponential smoothing of the per-batch curves: weight SPAN / batches per epoch (an average over
# about a tenth of an epoch), at most MAX (short epochs would otherwise not be smoothed at all).
SMOOTH_SPAN, SMOOTH_MAX = 10.0, 0.3


@dataclass
class TrainingRun:
    """One training run's state, fed frame by frame (see the module docstring)."""

    config: TrainConfig
    x: list[float] = field(default_factory=list)  # progress in epochs, one per batch
    loss: list[float] = field(default_factory=list)  # smoothed batch loss
    acc: list[float] = field(default_factory=list)  # smoothed batch accuracy
    evals: list[tuple[float, float, float]] = field(default_factory=list)  # (epoch, acc, loss)
    filters: np.ndarray | None = None  # (6, 3, 5, 5)
    filter_scale: float = 1e-12  # max |w| over the whole run: one scale for every frame
    preview_images: np.ndarray | None = None  # (P, 32, 32, 3) uint8
    preview_labels: tuple[int, ...] = ()
    previews: tuple[int, ...] = ()
    classes: tuple[str, ...] = ()
    position: tuple[int, int, int] = (0, 0, 0)  # epoch, batch, batches
    step: int = 0
    status: RunStatus = "running"
    error: str = ""  # why it failed, or why a stopped run could not be evaluated
    snapshot: StateDict | None = None  # weights kept at a Stop, not yet evaluated
    latest: EvalResult | None = None  # the last evaluation (its weights are kept)
    result: EvalResult | None = None  # the final evaluation
    # Set once the thread that pulls the frames has let go (close): another thread (a page's
    # next script run) waits for it before reading the run.
    finished: threading.Event = field(default_factory=threading.Event, repr=False)
    _keep: Callable[[], StateDict] | None = field(default=None, repr=False)

    # ------------------------------------------------------------ frames in

    def add(self, item: TrainStep | EvalResult) -> None:
        """Take the next frame of :func:`~dreamlab.train.loop.train`."""
        if isinstance(item, TrainStep):
            self.add_step(item)
        else:
            self.add_eval(item)

    def add_step(self, s: TrainStep) -> None:
        """One batch: the smoothed curves, the filters, the position; its weights kept for a Stop."""
        prev_loss = self.loss[-1] if self.loss else s.loss
        prev_acc = self.acc[-1] if self.acc else s.batch_accuracy
        alpha = min(SMOOTH_MAX, SMOOTH_SPAN / s.batches)
        self.x.append(s.epoch - 1 + s.batch / s.batches)
        self.loss.append(prev_loss + alpha * (s.loss - prev_loss))
        self.acc.append(prev_acc + alpha * (s.batch_accuracy - prev_acc))
        self._set_filters(s.filters.numpy())
        if s.previews is not None:
            self.previews = s.previews
        self.position = (s.epoch, s.batch, s.batches)
        self.step = s.step
        self._keep = s.state_dict

    def add_eval(self, e: EvalResult) -> None:
        """One test-set evaluation (before training, after each epoch)."""
        self.evals.append((float(e.epoch), e.accuracy, e.loss))
        self.preview_images, self.preview_labels = e.preview_images, e.preview_labels
        self.previews, self.classes = e.previews, e.classes
        if self.filters is None:
            self._set_filters(e.state_dict["conv1.weight"].numpy())
        self.latest = e
        self._keep = None  # the evaluation holds these weights
        if e.final:
            self.result = e

    def _set_filters(self, filters: np.ndarray) -> None:
        self.filters = filters  # (6, 3, 5, 5)
        self.filter_scale = max(self.filter_scale, float(np.abs(filters).max()))

    # ------------------------------------------------------------ status

    def _move(self, to: RunStatus) -> None:
        if to not in _MOVES[self.status]:
            raise ValueError(f"a {self.status} run cannot become {to}")
        self.status = to

    def mark_done(self) -> None:
        """Every epoch ran."""
        self._move("done")

    def mark_failed(self, error: str) -> None:
        """The run raised (a one-line ``error``, in the caller's language)."""
        self._move("error")
        self.error = error

    def close(self) -> None:
        """The caller stops pulling frames; a run still ``running`` is stopped, its last batch's
        weights kept (valid now, while the generator is paused at that batch)."""
        try:
            if self.status == "running":
                self.snapshot = self._keep() if self._keep is not None else None
                self._move("stopped")
        finally:
            self._keep = None
            self.finished.set()

    @property
    def fraction(self) -> float:
        """How much of the run is done, 0 to 1."""
        epoch, batch, batches = self.position
        done = (epoch - 1 + batch / batches) / self.config.epochs if batches else 0.0
        return min(max(done, 0.0), 1.0)

    # ------------------------------------------------------------ a stopped run

    @property
    def pending(self) -> bool:
        """A stopped run whose kept weights are not evaluated yet (see :meth:`finish`)."""
        trained = self.snapshot is not None or (self.latest is not None and self.latest.epoch > 0)
        return self.status == "stopped" and self.result is None and trained

    def finish(self) -> None:
        """Evaluate a stopped run's weights once (a test pass, unless stopped right after an
        evaluation), so it can be kept like a finished one. A bad setting raises ``ValueError``."""
        if not self.pending:
            return
        if self.snapshot is None:  # stopped right after an evaluation: it has the weights
            if self.latest is not None:
                self.result = dataclasses.replace(self.latest, final=True)
            return
        epoch = self.position[0]
        self.result = evaluate_state(self.snapshot, self.config, epoch=epoch, step=self.step)
        self.snapshot, self.error = None, ""
        self.evals.append((self.x[-1] if self.x else 0.0, self.result.accuracy, self.result.loss))
        self.previews = self.result.previews
