"""Dream steps of several users run as one batch: the gradient provider a server plugs into dreams.

Each dream runs in its own thread; at each step its gradient request (the step's network input)
waits here. When every registered job is waiting, or a request has waited ``max_wait_s`` or the time the
last batch took to compute (whichever is longer: a straggler is worth waiting up to one step for),
the waiting requests are grouped by what can share a forward pass (the fast copy, the input size,
the precision) and each group runs as one batch (:func:`dreamlab.dream.steps.batch_gradients`).
The thread whose request completes the set (or times out first) does the work; there is no
background thread to start or stop. N dreams in step with each other cost one batched pass per
step instead of N passes. Batches hold at most ``max_batch`` steps; a batch that runs out of device
memory is split in two and the cap lowered for good, so the cap ends at what the device holds. Pure Python and torch: no Ray here (``@serve.batch`` is async-only and
the dream steps are synchronous generators; this is its thread-based equivalent).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from dreamlab.dream.context import DreamContext
from dreamlab.dream.steps import batch_gradients

__all__ = ["BatchStats", "GradientBatcher"]

Result = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
Compute = Callable[[list[DreamContext], list[torch.Tensor]], list[Result]]


@dataclass
class BatchStats:
    """What the batcher has done (the service's /stats; tests assert on it, never on timings)."""

    batches: int = 0
    steps: int = 0
    largest: int = 0
    cap: int = 0  # the batch cap now (lowered when a batch ran out of device memory)
    sizes: Counter = field(default_factory=Counter)  # batch size -> how many batches

    def as_dict(self) -> dict[str, object]:
        return {
            "batches": self.batches,
            "steps": self.steps,
            "largest": self.largest,
            "mean": round(self.steps / self.batches, 2) if self.batches else 0.0,
            "cap": self.cap,
            "sizes": {str(k): v for k, v in sorted(self.sizes.items())},
        }


@dataclass(eq=False)
class _Request:
    ctx: DreamContext
    x: torch.Tensor  # (1, 3, H, W) the step's network input
    key: tuple
    done: threading.Event = field(default_factory=threading.Event)
    result: Result | None = None
    error: BaseException | None = None


def _key(ctx: DreamContext, x: torch.Tensor) -> tuple:
    """What must be equal for two steps to share a forward pass."""
    return (id(ctx.fast), tuple(x.shape), ctx.amp, str(x.device))


class GradientBatcher:
    """A :data:`~dreamlab.dream.context.GradientProvider` that batches concurrent dreams' steps."""

    def __init__(
        self, max_batch: int = 32, max_wait_s: float = 0.02, compute: Compute = batch_gradients
    ) -> None:
        if max_batch < 1 or max_wait_s < 0:
            raise ValueError("max_batch must be at least 1 and max_wait_s not negative")
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._compute = compute
        self._lock = threading.Lock()
        self._pending: list[_Request] = []
        self._active = 0
        self._last_compute_s = 0.0
        self.stats = BatchStats(cap=max_batch)

    @property
    def active(self) -> int:
        """Dreams stepping now (registered with :meth:`job`)."""
        with self._lock:
            return self._active

    @contextlib.contextmanager
    def job(self) -> Iterator[None]:
        """Count a dream as active while it runs (the batcher waits for every active dream)."""
        with self._lock:
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                ready = self._pending and len(self._pending) >= self._active
            if ready:  # the others were waiting for this one: release them now
                self._flush()

    def __call__(self, ctx: DreamContext, x: torch.Tensor) -> Result:
        req = _Request(ctx, x, _key(ctx, x))
        with self._lock:
            self._pending.append(req)
            full = len(self._pending) >= max(self._active, 1)
        wait = max(self.max_wait_s, self._last_compute_s)
        if full or not req.done.wait(wait):
            self._flush()
        req.done.wait()
        if req.error is not None:
            raise req.error
        assert req.result is not None
        return req.result

    def _shrink(self, failed: int) -> None:
        """Lower the batch cap below a size that ran out of device memory (for good)."""
        with self._lock:
            self.max_batch = max(1, min(self.max_batch, failed // 2))
            self.stats.cap = self.max_batch
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _flush(self) -> None:
        """Run every waiting request, grouped by key, in batches of at most ``max_batch``."""
        with self._lock:
            taken, self._pending = self._pending, []
        groups: dict[tuple, list[_Request]] = {}
        for req in taken:
            groups.setdefault(req.key, []).append(req)
        for group in groups.values():
            for i in range(0, len(group), self.max_batch):
                self._run(group[i : i + self.max_batch])

    def _run(self, batch: list[_Request]) -> None:
        t0 = time.perf_counter()
        try:
            results = self._compute([r.ctx for r in batch], [r.x for r in batch])
            for req, res in zip(batch, results, strict=True):
                req.result = res
        except torch.OutOfMemoryError:
            if len(batch) == 1:  # one step alone does not fit: that dream fails, in one line
                batch[0].error = MemoryError("the device is out of memory for this dream's size")
                batch[0].done.set()
                return
            self._shrink(len(batch))  # the cap is what the device's memory holds: halve it
            half = len(batch) // 2
            self._run(batch[:half])
            self._run(batch[half:])
            return
        except BaseException as exc:  # every waiter re-raises it in its own dream
            for req in batch:
                req.error = exc
        with self._lock:
            self._last_compute_s = time.perf_counter() - t0
            self.stats.batches += 1
            self.stats.steps += len(batch)
            self.stats.largest = max(self.stats.largest, len(batch))
            self.stats.sizes[len(batch)] += 1
        for req in batch:
            req.done.set()
