"""The dream's gradient-ascent step, run eagerly or replayed from a CUDA graph.

One step: roll the image (jitter), optionally apply the feature-vis transforms, forward through the
fast copy, gradient of the objective with respect to the pixels, roll the gradient back, then the
normalized step (:class:`~dreamlab.ascent.steppers.NormalizedStep`). The same function
(:func:`ascent`) is run eagerly (CPU, MPS, guided dreams, transforms) or captured once per octave
size in a CUDA graph (:mod:`dreamlab.ascent.graphs`) and replayed; the graph path never
synchronizes with the host.

The seam for batching across users: a context whose ``gradient`` is set (a
:data:`~dreamlab.dream.context.GradientProvider`, e.g. the serve batcher) hands each step's
network input to it instead of running the forward and backward passes here; the provider may
gather the inputs of several dreams and run them as one batch (:func:`batch_gradients`). Without
one (the default) the step is exactly the local path: one ``is None`` test per step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from dreamlab.ascent.graphs import GraphCache, capture_graph, index_roll
from dreamlab.ascent.steppers import smoothing_sigma
from dreamlab.ascent.tiles import tiled_gradient
from dreamlab.ascent.transforms import roll
from dreamlab.dream.context import DreamContext
from dreamlab.runtime.threads import tile_workers

__all__ = [
    "ascent",
    "batch_gradients",
    "clear_graphs",
    "eager_steps",
    "graph_steps",
    "use_graphs",
]

StepOut = tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[int, int]]
_MAX_GRAPHS = 8  # captured steps kept (one per octave size and settings); each holds its buffers


def _input_gradient(
    ctx: DreamContext, outs: tuple[torch.Tensor, ...], xr: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, d loss / d pixels). In fp16/bf16 the backward pass starts from a rescaled gradient.

    The objective's gradient with respect to the layer outputs is computed in float32, divided by
    its largest magnitude, and only then sent back through the half-precision network: nothing
    underflows or overflows, and the step is normalized afterwards so the scale does not matter.
    """
    if ctx.amp is None:
        loss = ctx.loss(outs)
        (g,) = torch.autograd.grad(loss, xr)  # (1, 3, H, W); the weights need no gradient
        return loss, g
    leaves = [o.detach().float().requires_grad_(True) for o in outs]
    loss = ctx.loss(leaves)
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    grads = [torch.zeros_like(o) if t is None else t for t, o in zip(grads, leaves, strict=True)]
    peak = torch.stack([t.abs().amax() for t in grads]).amax().clamp_min(1e-30)
    seeds = [(t / peak).to(o.dtype) for t, o in zip(grads, outs, strict=True)]
    (g,) = torch.autograd.grad(outs, xr, grad_outputs=seeds)
    return loss, torch.nan_to_num(g.float(), nan=0.0, posinf=0.0, neginf=0.0)


def _network_input(ctx: DreamContext, xr: torch.Tensor) -> torch.Tensor:
    """The transformed image (in pixel space, as feature visualization transforms it), normalized."""
    if ctx.transform is None:
        return xr
    pixels = ctx.transform(xr * ctx.std + ctx.mean, ctx.gen)  # (1, 3, H', W') in [0, 1]
    return (pixels - ctx.mean) / ctx.std


def ascent(
    ctx: DreamContext,
    x: torch.Tensor,
    roll_in: Callable[[torch.Tensor], torch.Tensor],
    roll_back: Callable[[torch.Tensor], torch.Tensor],
    sigma: float | torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step on ``x`` (normalized, (1, 3, H, W)): returns (new x, loss, first target's maps).

    ``x`` is never written to: frames already handed out keep their pixels.
    """
    xr = roll_in(x)  # (1, 3, H, W), jittered
    if ctx.fast.channels_last:
        xr = xr.contiguous(memory_format=torch.channels_last)
    xr = xr.detach().requires_grad_(True)
    if ctx.gradient is not None and ctx.transform is None:  # a batcher computes it (serve)
        loss, g, maps = ctx.gradient(ctx, xr)
        return ctx.step(x, roll_back(g.float()), ctx.lo, ctx.hi, sigma), loss.detach(), maps
    tiles = ctx.tiles(*xr.shape[-2:]) if ctx.tiles is not None else ()
    if len(tiles) > 1:  # reproducible CPU path: the same bytes at any number of workers
        loss, g, maps = tiled_gradient(
            ctx.fast,
            xr,
            tiles,
            ctx.fast.strides,
            ctx.loss,
            workers=tile_workers(),
            half=ctx.amp,
            autocast=ctx.autocast,
        )
        return ctx.step(x, roll_back(g), ctx.lo, ctx.hi, sigma), loss, maps[0]
    with ctx.autocast():
        outs = ctx.fast(_network_input(ctx, xr))  # one (1, C, h, w) per target (then logits)
    loss, g = _input_gradient(ctx, outs, xr)
    new = ctx.step(x, roll_back(g.float()), ctx.lo, ctx.hi, sigma)
    return new, loss.detach(), outs[0].detach()


def batch_gradients(
    ctxs: list[DreamContext], xs: list[torch.Tensor]
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One forward and one backward pass for several dreams' steps: (loss, gradient, maps) each.

    Every context must share the fast copy, the input size and the precision (the batcher's key);
    the objectives may differ (each is applied to its own sample). The samples do not interact
    (eval mode, BatchNorm folded), so the gradient of the summed losses is each one's own gradient.
    """
    ctx0 = ctxs[0]
    xb = torch.cat([x.detach() for x in xs])  # (B, 3, H, W)
    if ctx0.fast.channels_last:
        xb = xb.contiguous(memory_format=torch.channels_last)
    xb.requires_grad_(True)
    with ctx0.autocast():
        outs = ctx0.fast(xb)  # one (B, C, h, w) per target (then logits)

    def losses(parts: tuple[torch.Tensor, ...] | list[torch.Tensor]) -> list[torch.Tensor]:
        return [c.loss([o[i : i + 1] for o in parts]) for i, c in enumerate(ctxs)]

    if ctx0.amp is None:
        each = losses(outs)
        (g,) = torch.autograd.grad(torch.stack(each).sum(), xb)  # (B, 3, H, W)
    else:  # as _input_gradient: float32 objective, rescaled seeds through the half network
        leaves = [o.detach().float().requires_grad_(True) for o in outs]
        each = losses(leaves)
        grads = torch.autograd.grad(torch.stack(each).sum(), leaves, allow_unused=True)
        grads = [
            torch.zeros_like(o) if t is None else t for t, o in zip(grads, leaves, strict=True)
        ]
        peak = torch.stack([t.flatten(1).abs().amax(1) for t in grads]).amax(0)  # (B,)
        peak = peak.clamp_min(1e-30)
        seeds = [
            (t / peak.view(-1, *[1] * (t.dim() - 1))).to(o.dtype)
            for t, o in zip(grads, outs, strict=True)
        ]
        (g,) = torch.autograd.grad(outs, xb, grad_outputs=seeds)
        g = torch.nan_to_num(g.float(), nan=0.0, posinf=0.0, neginf=0.0)
    return [(each[i].detach(), g[i : i + 1], outs[0][i : i + 1].detach()) for i in range(len(xs))]


def _sigma(ctx: DreamContext, iteration: int) -> float:
    return smoothing_sigma(iteration, ctx.cfg.iterations, ctx.cfg.smoothing)


def eager_steps(ctx: DreamContext, x: torch.Tensor) -> Iterator[StepOut]:
    """An octave's steps, run op by op; jitter drawn per step from the seeded CPU generator."""
    j = ctx.cfg.jitter
    for it in range(ctx.cfg.iterations):
        dy, dx = 0, 0
        if j:  # Google's jitter: roll, step, roll back (Python ints: no device sync)
            dy, dx = torch.randint(-j, j + 1, (2,), generator=ctx.gen).tolist()
        x, loss, maps = ascent(
            ctx,
            x,
            lambda t, s=(dy, dx): roll(t, *s),
            lambda t, s=(-dy, -dx): roll(t, *s),
            _sigma(ctx, it),
        )
        yield x, loss, maps, (dy, dx)


# ---------------------------------------------------------------- CUDA graphs


class _GraphStep:
    """One step captured in a CUDA graph for one image size; inputs and outputs are static buffers."""

    def __init__(self, ctx: DreamContext, shape: torch.Size) -> None:
        dev = ctx.fast.device
        self.ctx = ctx  # the graph reads its tensors (clip bounds, weights): keep them alive
        self.x = torch.zeros(shape, device=dev)  # (1, 3, H, W) read, then overwritten, per replay
        self.shift = torch.zeros(2, dtype=torch.long, device=dev)
        self.sigma = torch.ones((), device=dev)
        rows = torch.arange(shape[-2], device=dev)
        cols = torch.arange(shape[-1], device=dev)

        def body() -> tuple[torch.Tensor, torch.Tensor]:
            new, loss, maps = ascent(
                ctx,
                self.x,
                lambda t: index_roll(t, rows, cols, self.shift, 1),
                lambda t: index_roll(t, rows, cols, self.shift, -1),
                self.sigma,
            )
            self.x.copy_(new)
            return loss, maps

        self.graph, (self.loss, self.maps) = capture_graph(body, dev)


_GRAPHS: GraphCache[_GraphStep] = GraphCache(_MAX_GRAPHS)


def _key(ctx: DreamContext, shape: torch.Size) -> tuple:
    c = ctx.cfg
    return (
        id(ctx.fast),
        tuple(shape),
        ctx.targets,
        c.loss,
        c.channel,
        c.objective,
        c.logit,
        c.direction,
        c.lr,
        c.normalize,
        c.smoothing > 0,
        c.iterations if c.smoothing > 0 else 0,
        ctx.amp,
    )


def use_graphs(ctx: DreamContext) -> bool:
    """Graphs on CUDA when enabled, not guided (the guide changes every dream) and untransformed
    (the transforms draw their sizes and angles on the host)."""
    return (
        ctx.cfg.cuda_graphs
        and ctx.fast.device.type == "cuda"
        and not ctx.guided
        and ctx.transform is None
        and ctx.gradient is None  # a provider's steps are computed elsewhere
    )


def graph_steps(ctx: DreamContext, x: torch.Tensor) -> Iterator[StepOut]:
    """An octave's steps replayed from a CUDA graph (falls back to :func:`eager_steps`).

    The octave's jitter offsets and smoothing sigmas are drawn up front and copied to the device
    once; each step then only copies its own offsets device-to-device and replays the graph.
    """
    key = _key(ctx, x.shape)
    step = _GRAPHS.checkout(key, lambda: _GraphStep(ctx, x.shape))
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
        _GRAPHS.checkin(key, step)


def clear_graphs() -> None:
    """Forget every captured step (frees their GPU memory)."""
    _GRAPHS.clear()
