"""Tiled input gradients: the same bytes whatever the number of CPU workers.

torch's CPU kernels (oneDNN) sum in an order that depends on the intra-op thread count, and
gradient ascent amplifies those last-bit differences into a different picture. One thread is
bit-identical from run to run, so the reproducible CPU path fixes the *decomposition* of each step,
not the thread count:

- the image is cut into tiles by :func:`tile_grid`, from its size alone (never from the load);
- each tile's forward and backward pass runs at **one** intra-op thread, on whichever worker thread
  of :class:`TilePool` takes it; the governor (:mod:`dreamlab.runtime.threads`) only changes how many
  workers run at once;
- the tiles' target maps are stitched into the whole image's maps, the objective is applied to
  them (a global norm stays global), its gradient is cut back into the tiles for their backward
  passes, and the tiles' input gradients are summed into the image in tile order on the calling
  thread.

So one worker and sixteen give the same bytes. A tile is its *core* (the tiles' cores partition
the image, aligned to the targets' stride so every map position belongs to exactly one core)
plus a *halo* of context on each inner side: the core's activations then barely see the tile's
edge, and the gradient they send back is kept in full inside the crop. The only approximation
against the untiled gradient is what lies beyond the halo (measured in bench/DREAM.md); the
dream's random roll moves the seams every step. An image too small to cut is one tile: exactly
the untiled computation, at one thread.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import torch

__all__ = [
    "TILE_HALO",
    "TILE_SIDE",
    "Tile",
    "TilePool",
    "decomposition",
    "one_thread",
    "reproduction",
    "sample_gradient",
    "tile_grid",
    "tile_pool",
    "tiled_gradient",
]

TILE_SIDE = 128  # a tile's core is at least this many pixels along the side that is cut
TILE_HALO = 32  # pixels of context around each core (rounded up to the stride)
MAX_TILES = 8  # along one side: more would cost halo for no more cores on one machine

R = TypeVar("R")
Box = tuple[int, int, int, int]  # (top, bottom, left, right) in pixels, bottom/right exclusive
Loss = Callable[[Sequence[torch.Tensor]], torch.Tensor]


@dataclass(frozen=True)
class Tile:
    """One piece of the image: ``crop`` is fed to the network, ``core`` is the part it owns."""

    crop: Box
    core: Box


def _cuts(side: int, align: int, tile: int, halo: int, min_side: int) -> list[tuple[int, int]]:
    """(core start, core end) along one side: the largest power of two of cores of at least
    ``tile`` pixels (at most MAX_TILES: an even count keeps 2 or 4 workers equally busy), on
    multiples of ``align``; fewer when a crop would be smaller than ``min_side``."""
    most = max(1, min(MAX_TILES, side // max(tile, align)))
    n = 1 << (most.bit_length() - 1)
    while n > 1:
        bounds = [0, *(round(i * side / n / align) * align for i in range(1, n)), side]
        pieces = list(zip(bounds[:-1], bounds[1:], strict=True))
        crops = [min(side, b + halo) - max(0, a - halo) for a, b in pieces]
        if all(b > a for a, b in pieces) and min(crops) >= min_side:
            return pieces
        n //= 2
    return [(0, side)]


@functools.lru_cache(maxsize=64)
def tile_grid(
    height: int,
    width: int,
    align: int = 1,
    *,
    tile: int = TILE_SIDE,
    halo: int = TILE_HALO,
    min_side: int = 1,
) -> tuple[Tile, ...]:
    """The tiles of a ``height`` x ``width`` image, row by row: a function of these numbers only.

    Only the longer side is cut (strips: two halo sides per tile, not four); core edges fall on
    multiples of ``align`` (the targets' stride), the halo is rounded up to one.
    """
    halo = math.ceil(halo / align) * align
    if width >= height:
        cols = _cuts(width, align, tile, halo, min_side)
        return tuple(
            Tile((0, height, max(0, a - halo), min(width, b + halo)), (0, height, a, b))
            for a, b in cols
        )
    rows = _cuts(height, align, tile, halo, min_side)
    return tuple(
        Tile((max(0, a - halo), min(height, b + halo), 0, width), (a, b, 0, width)) for a, b in rows
    )


def decomposition() -> dict[str, object]:
    """The rule that cuts images into tiles (stored with a picture: it decides its bytes)."""
    return {
        "tiles": "strips along the longer side",
        "tile_side": TILE_SIDE,
        "halo": TILE_HALO,
        "max_tiles": MAX_TILES,
        "intra_op_threads": 1,
    }


def reproduction(device: object = "cpu") -> dict[str, object]:
    """What a seeded picture's bytes depend on besides its settings and seed (PNG metadata).

    On a CPU: this build of torch, the CPU model and the instruction set its kernels use, and how
    the work was cut; the same values give the same bytes whatever the load. Across CPUs, builds
    or onto a GPU the picture is alike, not identical.
    """
    from dreamlab.runtime.cores import cpu_name
    from dreamlab.runtime.threads import reproducible

    info: dict[str, object] = {"device": str(device), "torch": torch.__version__}
    if str(device).split(":")[0] != "cpu":
        return {**info, "same_bytes": "not promised on a GPU"}
    info |= {"cpu": cpu_name(), "isa": torch.backends.cpu.get_cpu_capability()}
    if not reproducible():
        return {**info, "same_bytes": "no: DREAMLAB_REPRODUCIBLE=0 (threads follow the load)"}
    return {**info, "same_bytes": "same machine and build", **decomposition()}


# ---------------------------------------------------------------- workers


def one_thread() -> None:
    """torch at one intra-op thread on the calling thread (only when it is not already)."""
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


class TilePool:
    """Worker threads that run a list of tasks, at most ``workers`` at once, results in order.

    The calling thread takes part (one worker = no thread hop at all). Every task runs at one
    intra-op thread, so where it runs never changes what it computes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._size = 0

    def _pool(self, helpers: int) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None or self._size < helpers:
                old = self._executor
                self._executor = ThreadPoolExecutor(helpers, thread_name_prefix="dreamlab-tile")
                self._size = helpers
                if old is not None:
                    old.shutdown(wait=False)
            return self._executor

    def map(self, fn: Callable[[int], R], count: int, workers: int) -> list[R]:
        """``[fn(0), ..., fn(count - 1)]``, run by up to ``workers`` threads."""
        lanes = max(1, min(int(workers), count))
        results: list[R | None] = [None] * count
        taken = iter(range(count))
        lock = threading.Lock()

        def lane() -> None:
            one_thread()
            while True:
                with lock:
                    i = next(taken, None)
                if i is None:
                    return
                results[i] = fn(i)

        helpers: list[Future[None]] = []
        if lanes > 1:
            pool = self._pool(lanes - 1)
            helpers = [pool.submit(lane) for _ in range(lanes - 1)]
        try:
            lane()
        finally:
            for f in helpers:
                f.result()  # re-raises a worker's error here
        return results  # type: ignore[return-value]

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
            self._executor, self._size = None, 0


_POOL = TilePool()


def tile_pool() -> TilePool:
    """The process's tile workers (threads are started on first use, not at import)."""
    return _POOL


# ---------------------------------------------------------------- the gradient


def _feature_range(
    core: tuple[int, int], crop: tuple[int, int], stride: int, size: int, end: int
) -> tuple[int, int, int]:
    """(first map row in the crop's output, first in the whole map, how many) of one core."""
    first = (core[0] - crop[0]) // stride
    count = size - first if core[1] == end else (core[1] - core[0]) // stride
    return first, core[0] // stride, count


def _slices(tile: Tile, stride: int, shape: torch.Size, hw: tuple[int, int]) -> tuple:
    """(slices in the tile's map, slices in the whole map) of the tile's core, one target."""
    (t, b, left, r), (ct, cb, cl, cr) = tile.core, tile.crop
    ry = _feature_range((t, b), (ct, cb), stride, shape[-2], hw[0])
    rx = _feature_range((left, r), (cl, cr), stride, shape[-1], hw[1])
    own = (..., slice(ry[0], ry[0] + ry[2]), slice(rx[0], rx[0] + rx[2]))
    whole = (..., slice(ry[1], ry[1] + ry[2]), slice(rx[1], rx[1] + rx[2]))
    return own, whole


def tiled_gradient(
    net: Callable[[torch.Tensor], Sequence[torch.Tensor]],
    x: torch.Tensor,
    tiles: Sequence[Tile],
    strides: Sequence[int],
    loss: Loss,
    *,
    workers: int = 1,
    half: torch.dtype | None = None,
    autocast: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext,
    pool: TilePool | None = None,
) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
    """(loss, d loss / d x, the whole image's target maps) for ``x`` (B, 3, H, W), tile by tile.

    ``net`` returns one (B, C, h, w) map per target (``strides``: input pixels per map pixel);
    ``loss`` turns the whole maps into a scalar. With ``half`` (the autocast dtype) the backward
    passes start from the loss gradient divided by its largest magnitude, as the untiled path does.
    """
    pool = pool or _POOL
    source = x.detach()
    hw = (x.shape[-2], x.shape[-1])

    def forward(i: int) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        t, b, left, r = tiles[i].crop
        crop = source[..., t:b, left:r].clone().requires_grad_(True)
        with autocast():
            return crop, tuple(net(crop))

    parts = pool.map(forward, len(tiles), workers)
    places = [
        [_slices(tile, s, o.shape, hw) for s, o in zip(strides, outs, strict=False)]
        for tile, (_, outs) in zip(tiles, parts, strict=True)
    ]
    whole = _whole_maps(parts, places, len(strides))
    value = loss(whole)
    seeds = _loss_seeds(value, whole, half is not None)

    def backward(i: int) -> torch.Tensor:
        crop, outs = parts[i]
        grads = []
        for o, g, (own, at) in zip(outs, seeds, places[i], strict=False):
            piece = torch.zeros_like(o)
            piece[own] = g[at].to(o.dtype)
            grads.append(piece)
        (gx,) = torch.autograd.grad(outs[: len(grads)], crop, grad_outputs=grads)
        return gx

    grad = _sum_tiles(source, tiles, pool.map(backward, len(tiles), workers))
    if half is not None:
        grad = torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)
    maps = tuple(m.detach() for m in whole)
    return value.detach(), grad, maps


def _whole_maps(parts: list, places: list, count: int) -> list[torch.Tensor]:
    """The whole image's first ``count`` target maps (float32, needing grad), assembled from
    each tile's own part (``places``: per tile and target, the (own, at) slices)."""
    whole = []
    for k, first in enumerate(parts[0][1][:count]):
        h = sum(p[k][1][-2].stop - p[k][1][-2].start for p in places if p[k][1][-1].start == 0)
        w = sum(p[k][1][-1].stop - p[k][1][-1].start for p in places if p[k][1][-2].start == 0)
        maps = first.new_empty((*first.shape[:-2], h, w), dtype=torch.float32)
        for (_, outs), place in zip(parts, places, strict=True):
            own, at = place[k]
            maps[at] = outs[k].detach()[own].float()
        whole.append(maps.requires_grad_(True))
    return whole


def _loss_seeds(value: torch.Tensor, whole: list[torch.Tensor], half: bool) -> list[torch.Tensor]:
    """d loss / d each whole map (zeros where unused); under ``half`` divided by their largest
    magnitude, as the untiled path does."""
    seeds = torch.autograd.grad(value, whole, allow_unused=True)
    seeds = [torch.zeros_like(m) if g is None else g for g, m in zip(seeds, whole, strict=True)]
    if half:
        peak = torch.stack([g.abs().amax() for g in seeds]).amax().clamp_min(1e-30)
        seeds = [g / peak for g in seeds]
    return seeds


def _sum_tiles(
    source: torch.Tensor, tiles: Sequence[Tile], pieces: Sequence[torch.Tensor]
) -> torch.Tensor:
    """The input gradient: each tile's piece added at its crop, in tile order (the same bytes
    whatever the number of workers)."""
    grad = torch.zeros_like(source, dtype=torch.float32)
    for tile, gx in zip(tiles, pieces, strict=True):
        t, b, left, r = tile.crop
        grad[..., t:b, left:r] += gx.float()
    return grad


def sample_gradient(
    net: Callable[[torch.Tensor], Sequence[torch.Tensor]],
    x: torch.Tensor,
    loss: Loss,
    *,
    workers: int = 1,
    pool: TilePool | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, d loss / d x) for a batch ``x`` (B, 3, H, W), one sample per task at one thread.

    A batch's own decomposition (feature visualization's galleries): each sample's forward and
    backward pass runs alone, the maps are joined along the batch for ``loss`` (which may compare
    samples, e.g. diversity), so the bytes never depend on ``workers``.
    """
    pool = pool or _POOL
    source = x.detach()

    def forward(i: int) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        one = source[i : i + 1].clone().requires_grad_(True)
        return one, tuple(net(one))

    parts = pool.map(forward, source.shape[0], workers)
    whole = [
        torch.cat([outs[k].detach() for _, outs in parts]).requires_grad_(True)
        for k in range(len(parts[0][1]))
    ]
    value = loss(whole)
    seeds = torch.autograd.grad(value, whole, allow_unused=True)
    seeds = [torch.zeros_like(m) if g is None else g for g, m in zip(seeds, whole, strict=True)]

    def backward(i: int) -> torch.Tensor:
        one, outs = parts[i]
        (g,) = torch.autograd.grad(outs, one, grad_outputs=[s[i : i + 1] for s in seeds])
        return g

    return value.detach(), torch.cat(pool.map(backward, source.shape[0], workers))
