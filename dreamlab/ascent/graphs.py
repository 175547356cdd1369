"""CUDA graphs for gradient-ascent steps: capture a step once per shape, then replay it.

A small network such as EfficientNet-Lite0 launches a few hundred tiny kernels per step; replaying
them from a graph removes the Python and launch overhead that otherwise dominates on a GPU. A step
is any function of static device buffers; :class:`GraphCache` keeps a bounded number of captured
steps (each holds its buffers) and remembers which keys could not be captured, so those run
eagerly from then on. Nothing here synchronizes with the host.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

import torch

__all__ = ["GraphCache", "capture_graph", "index_roll"]

WARMUP = 2  # eager runs on a side stream before capture (cuDNN autotunes there, not in the graph)
T = TypeVar("T")


def capture_graph(
    body: Callable[[], Any], device: torch.device
) -> tuple[torch.cuda.CUDAGraph, Any]:
    """Warm ``body`` up on a side stream, then capture it: (graph, what the captured call returned).

    Replaying the graph reruns ``body``'s kernels on the same buffers.
    """
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(WARMUP):
            body()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = body()
    return graph, out


def index_roll(
    t: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, shift: torch.Tensor, sign: int
) -> torch.Tensor:
    """``torch.roll`` by a shift held in a device tensor (so a captured graph can vary it)."""
    iy = torch.remainder(rows - sign * shift[0], rows.numel())  # (H,) out[i] = t[i - dy]
    ix = torch.remainder(cols - sign * shift[1], cols.numel())  # (W,)
    return t.index_select(-2, iy).index_select(-1, ix)


class GraphCache(Generic[T]):
    """Captured steps by key, at most ``capacity``; a step in use is taken out (one user at a time)."""

    def __init__(self, capacity: int) -> None:
        self._steps: OrderedDict[Hashable, T] = OrderedDict()
        self._broken: set[Hashable] = set()
        self._lock = threading.Lock()
        self._capacity = capacity

    def checkout(self, key: Hashable, make: Callable[[], T]) -> T | None:
        """The cached step for ``key`` (removed while in use), a new one, or None if it cannot be."""
        with self._lock:
            if key in self._broken:
                return None
            step = self._steps.pop(key, None)
        if step is not None:
            return step
        try:
            return make()
        except Exception:  # an op that cannot be captured: this key runs eagerly from now on
            with self._lock:
                self._broken.add(key)
            return None

    def checkin(self, key: Hashable, step: T) -> None:
        """Give a step back for the next user of the same key."""
        with self._lock:
            self._steps[key] = step
            while len(self._steps) > self._capacity:
                self._steps.popitem(last=False)

    def clear(self) -> None:
        """Forget every captured step (frees their GPU memory) and every failed key."""
        with self._lock:
            self._steps.clear()
            self._broken.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._steps)
