"""The gradient-ascent step, run eagerly or replayed from a CUDA graph.

One step: roll the image (jitter), forward through the fast copy, gradient of the objective with
respect to the pixels, roll the gradient back, smooth and normalize it, step and clip. The same
function (:func:`ascent`) is run eagerly (CPU, MPS, guided dreams) or captured once per octave size
in a CUDA graph and replayed: a small network such as EfficientNet-Lite0 launches a few hundred tiny
kernels per step, and replaying them from a graph removes the Python and launch overhead that
otherwise dominates on a GPU. The graph path never synchronizes with the host.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import torch

from dreamlab.dream.ops import (
    guided_loss,
    layer_loss,
    normalize_gradient,
    smooth_gradient,
    smoothing_sigma,
)

if TYPE_CHECKING:
    from dreamlab.dream.engine import _Ctx

__all__ = ["ascent", "clear_graphs", "graph_steps", "eager_steps", "use_graphs"]

StepOut = tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[int, int]]
_MAX_GRAPHS = 8  # captured steps kept (one per octave size and settings); each holds its buffers
_WARMUP = 2  # eager runs on a side stream before capture (cuDNN autotunes there, not in the graph)


def objective(ctx: _Ctx, outs: tuple[torch.Tensor, ...] | list[torch.Tensor]) -> torch.Tensor:
    """The scalar the dream makes grow, in float32."""
    if ctx.guide is not None:
        return guided_loss(outs[0], ctx.guide)
    if len(outs) == 1:
        return layer_loss(outs[0], ctx.cfg.loss, ctx.cfg.channel)
    losses = [w * layer_loss(o, ctx.cfg.loss) for o, (_, w) in zip(outs, ctx.targets, strict=True)]
    return torch.stack(losses).sum()


def _input_gradient(
    ctx: _Ctx, outs: tuple[torch.Tensor, ...], xr: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, d loss / d pixels). In fp16/bf16 the backward pass starts from a rescaled gradient.

    The objective's gradient with respect to the layer outputs is computed in float32, divided by
    its largest magnitude, and only then sent back through the half-precision network: nothing
    underflows or overflows, and the step is normalized afterwards so the scale does not matter.
    """
    if ctx.amp is None:
        loss = objective(ctx, outs)
        (g,) = torch.autograd.grad(loss, xr)  # (1, 3, H, W); the weights need no gradient
        return loss, g
    leaves = [o.detach().float().requires_grad_(True) for o in outs]
    loss = objective(ctx, leaves)
    grads = torch.autograd.grad(loss, leaves)
    peak = torch.stack([t.abs().amax() for t in grads]).amax().clamp_min(1e-30)
    seeds = [(t / peak).to(o.dtype) for t, o in zip(grads, outs, strict=True)]
    (g,) = torch.autograd.grad(outs, xr, grad_outputs=seeds)
    return loss, torch.nan_to_num(g.float(), nan=0.0, posinf=0.0, neginf=0.0)


def ascent(
    ctx: _Ctx,
    x: torch.Tensor,
    roll: Callable[[torch.Tensor], torch.Tensor],
    unroll: Callable[[torch.Tensor], torch.Tensor],
    sigma: float | torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step on ``x`` (normalized, (1, 3, H, W)): returns (new x, loss, first target's maps).

    ``x`` is never written to: frames already handed out keep their pixels.
    """
    xr = roll(x)  # (1, 3, H, W), jittered
    if ctx.fast.channels_last:
        xr = xr.contiguous(memory_format=torch.channels_last)
    xr = xr.detach().requires_grad_(True)
    with ctx.autocast():
        outs = ctx.fast(xr)  # one (1, C, h, w) per target layer
    loss, g = _input_gradient(ctx, outs, xr)
    g = unroll(g.float())
    if ctx.cfg.smoothing > 0:
        g = smooth_gradient(g, sigma)
    g = normalize_gradient(g, ctx.cfg.normalize)
    new = torch.maximum(torch.minimum(x + ctx.cfg.lr * g, ctx.hi), ctx.lo)  # clip to valid pixels
    return new, loss.detach(), outs[0].detach()


def _sigma(ctx: _Ctx, iteration: int) -> float:
    return smoothing_sigma(iteration, ctx.cfg.iterations, ctx.cfg.smoothing)


def eager_steps(ctx: _Ctx, x: torch.Tensor) -> Iterator[StepOut]:
    """An octave's steps, run op by op; jitter drawn per step from the seeded CPU generator."""
    j = ctx.cfg.jitter
    for it in range(ctx.cfg.iterations):
        dy, dx = 0, 0
        if j:  # Google's jitter: roll, step, roll back (Python ints: no device sync)
            dy, dx = torch.randint(-j, j + 1, (2,), generator=ctx.gen).tolist()

        def roll(t: torch.Tensor, s: tuple[int, int] = (dy, dx)) -> torch.Tensor:
            return torch.roll(t, shifts=s, dims=(-2, -1)) if any(s) else t

        def unroll(t: torch.Tensor, s: tuple[int, int] = (-dy, -dx)) -> torch.Tensor:
            return torch.roll(t, shifts=s, dims=(-2, -1)) if any(s) else t

        x, loss, maps = ascent(ctx, x, roll, unroll, _sigma(ctx, it))
        yield x, loss, maps, (dy, dx)


# ---------------------------------------------------------------- CUDA graphs


def _index_roll(
    t: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, shift: torch.Tensor, sign: int
) -> torch.Tensor:
    """``torch.roll`` by a shift held in a device tensor (so a captured graph can vary it)."""
    iy = torch.remainder(rows - sign * shift[0], rows.numel())  # (H,) out[i] = t[i - dy]
    ix = torch.remainder(cols - sign * shift[1], cols.numel())  # (W,)
    return t.index_select(-2, iy).index_select(-1, ix)


class _GraphStep:
    """One step captured in a CUDA graph for one image size; inputs and outputs are static buffers."""

    def __init__(self, ctx: _Ctx, shape: torch.Size) -> None:
        dev = ctx.fast.device
        self.ctx = ctx  # the graph reads its tensors (clip bounds, weights): keep them alive
        self.x = torch.zeros(shape, device=dev)  # (1, 3, H, W) read, then overwritten, per replay
        self.shift = torch.zeros(2, dtype=torch.long, device=dev)
        self.sigma = torch.ones((), device=dev)
        rows = torch.arange(shape[-2], device=dev)
        cols = torch.arange(shape[-1], device=dev)

        def body() -> tuple[torch.Tensor, torch.Tensor]:
            new, loss, maps = ascent(
                ctx, self.x,
                lambda t: _index_roll(t, rows, cols, self.shift, 1),
                lambda t: _index_roll(t, rows, cols, self.shift, -1),
                self.sigma,
            )  # fmt: skip
            self.x.copy_(new)
            return loss, maps

        side = torch.cuda.Stream(dev)
        side.wait_stream(torch.cuda.current_stream(dev))
        with torch.cuda.stream(side):
            for _ in range(_WARMUP):
                body()
        torch.cuda.current_stream(dev).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.loss, self.maps = body()


_GRAPHS: OrderedDict[tuple, _GraphStep] = OrderedDict()
_GRAPHS_LOCK = threading.Lock()
_BROKEN: set[tuple] = set()  # keys whose capture failed: run those eagerly from then on


def _key(ctx: _Ctx, shape: torch.Size) -> tuple:
    c = ctx.cfg
    return (
        id(ctx.fast), tuple(shape), ctx.targets, c.loss, c.channel, c.lr, c.normalize,
        c.smoothing > 0, c.iterations if c.smoothing > 0 else 0, ctx.amp,
    )  # fmt: skip


def use_graphs(ctx: _Ctx) -> bool:
    """Graphs on CUDA when enabled and not guided (the guide tensor changes every dream)."""
    return ctx.cfg.cuda_graphs and ctx.fast.device.type == "cuda" and ctx.guide is None


def _checkout(ctx: _Ctx, shape: torch.Size) -> _GraphStep | None:
    """A captured step for this size and settings: from the cache (taken out while in use) or new."""
    key = _key(ctx, shape)
    with _GRAPHS_LOCK:
        if key in _BROKEN:
            return None
        step = _GRAPHS.pop(key, None)
    if step is not None:
        return step
    try:
        return _GraphStep(ctx, shape)
    except Exception:  # an op that cannot be captured: this dream runs eagerly
        with _GRAPHS_LOCK:
            _BROKEN.add(key)
        return None


def _checkin(ctx: _Ctx, step: _GraphStep) -> None:
    with _GRAPHS_LOCK:
        _GRAPHS[_key(ctx, step.x.shape)] = step
        while len(_GRAPHS) > _MAX_GRAPHS:
            _GRAPHS.popitem(last=False)


def graph_steps(ctx: _Ctx, x: torch.Tensor) -> Iterator[StepOut]:
    """An octave's steps replayed from a CUDA graph (falls back to :func:`eager_steps`).

    The octave's jitter offsets and smoothing sigmas are drawn up front and copied to the device
    once; each step then only copies its own offsets device-to-device and replays the graph.
    """
    step = _checkout(ctx, x.shape)
    if step is None:
        yield from eager_steps(ctx, x)
        return
    n, j = ctx.cfg.iterations, ctx.cfg.jitter
    shifts = (
        torch.randint(-j, j + 1, (n, 2), generator=ctx.gen)
        if j
        else torch.zeros(n, 2, dtype=torch.long)
    )  # (n, 2) on the CPU
    sigmas = torch.tensor([_sigma(ctx, i) for i in range(n)], dtype=torch.float32)
    dev = ctx.fast.device
    shifts_dev, sigmas_dev = shifts.to(dev), sigmas.to(dev)
    step.x.copy_(x)
    try:
        for it, (dy, dx) in enumerate(shifts.tolist()):
            step.shift.copy_(shifts_dev[it])
            step.sigma.copy_(sigmas_dev[it])
            step.graph.replay()
            yield step.x.clone(), step.loss.clone(), step.maps.clone(), (dy, dx)
    finally:
        _checkin(ctx, step)


def clear_graphs() -> None:
    """Forget every captured step (frees their GPU memory)."""
    with _GRAPHS_LOCK:
        _GRAPHS.clear()
        _BROKEN.clear()
