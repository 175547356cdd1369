"""The fast model copy: private copies of a model for gradient ascent on pixels (both engines).

The shared :class:`~dreamlab.models.LoadedModel` is read-only and used by every browser session, so
the engines never touch it. :func:`fast_model` makes a copy that is built for speed:

- **truncated**: its forward pass stops (``StopForward``) as soon as every target layer has its
  output, and the layers it never reaches are not even copied (VGG19's 400 MB classifier stays out);
- **BatchNorm folded** into the convolution before it (an eval-mode BatchNorm is an affine map, so
  the convolution can absorb it: one kernel instead of two, and one activation less to keep for the
  backward pass); each fold is checked numerically and undone if the outputs would change;
- **frozen**: no parameter asks for a gradient, so the backward pass computes only the input's;
- **channels-last** memory layout (faster convolutions with oneDNN on CPUs and tensor cores on GPUs).

Copies carry none of the original's hooks (another tool, such as lucent, may have hooked every
submodule and keep tensors there): the copy is made as if the hooks were not there, and the
original keeps them. Copies are cached per (model, layers, device, layout) with a small bound.
Nothing happens at import.
Thread safety: the hooks that capture outputs write into thread-local storage, so two sessions may
run the same copy at once (the job gate allows two jobs on a GPU).
"""

from __future__ import annotations

import contextlib
import copy
import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from dreamlab.ascent.capture import StopForward, capture, missing_layers, output_hook
from dreamlab.models.registry import LoadedModel, ModelError

__all__ = [
    "MAX_CACHED",
    "cached_copies",
    "MIN_INPUT_SIDE",
    "FastModel",
    "Probe",
    "build_copy",
    "cache_size",
    "clear_cache",
    "clean_copy",
    "fast_model",
    "fold_batchnorm",
    "probe",
    "require_model",
]

MAX_CACHED = 4  # fast copies kept per process (each is at most the size of the truncated model)
MIN_INPUT_SIDE = 32  # no image side below this is fed to a network, whatever its strides
_FOLD_RTOL = 1e-3  # a fold must not move the target outputs by more than this (relative to max|y|)


@dataclass(frozen=True)
class Probe:
    """What one forward pass on a dummy input says about a model up to some layers."""

    reached: frozenset[str]  # leaf modules the forward pass enters before it can stop
    pairs: tuple[tuple[str, str], ...]  # (conv, batchnorm) where the BN reads the conv's output
    shapes: tuple[tuple[int, ...], ...]  # output shape of each target layer
    size: int  # side of the square dummy input


def _leaf_names(module: nn.Module) -> dict[nn.Module, str]:
    return {m: n for n, m in module.named_modules() if n and not list(m.children())}


def probe(module: nn.Module, layers: Sequence[str], size: int, *, output: bool = False) -> Probe:
    """Run ``module`` on a ``size`` x ``size`` dummy input as far as ``layers`` and watch it.

    Works on any device, ``meta`` included (shapes only, no memory, no arithmetic). The hooks are
    removed before returning; call it on a copy, never on a shared model (a hook is seen by every
    thread that runs the module meanwhile). With ``output`` the pass runs to the end.
    """
    leaves = _leaf_names(module)
    calls: list[tuple[str, int, int]] = []  # (leaf name, id(input), id(output)) in call order
    keep: list[torch.Tensor] = []  # holds the tensors so their ids cannot be reused meanwhile
    reached: set[str] = set()
    handles = []

    def pre(m: nn.Module, args: tuple) -> None:
        reached.add(leaves[m])

    def post(m: nn.Module, args: tuple, out: object) -> None:
        if args and isinstance(args[0], torch.Tensor) and isinstance(out, torch.Tensor):
            keep.extend((args[0], out))
            calls.append((leaves[m], id(args[0]), id(out)))

    try:
        for m in leaves:
            handles.append(m.register_forward_pre_hook(pre))
            handles.append(m.register_forward_hook(post))
        p = next(iter(module.parameters()), None)
        dev = p.device if p is not None else torch.device("cpu")
        x = torch.zeros(1, 3, size, size, device=dev)  # (1, 3, S, S)
        with torch.no_grad(), _captured(module, layers, stop=not output) as store:
            module(x)
        shapes = tuple(tuple(store[name].shape) for name in layers)
    finally:
        for h in handles:
            h.remove()
    return Probe(frozenset(reached), _conv_bn_pairs(module, calls), shapes, size)


def _conv_bn_pairs(module: nn.Module, calls: list[tuple[str, int, int]]) -> tuple:
    """(conv, bn) pairs where a BatchNorm2d's input is the very tensor a Conv2d returned."""
    conv_out = {}
    pairs = []
    for name, in_id, out_id in calls:
        sub = module.get_submodule(name)
        if isinstance(sub, nn.Conv2d):
            conv_out[out_id] = name
        elif isinstance(sub, nn.BatchNorm2d) and in_id in conv_out:
            pairs.append((conv_out[in_id], name))
    return tuple(pairs)


@contextlib.contextmanager
def _captured(module: nn.Module, layers: Sequence[str], *, stop: bool = True):
    """Temporary hooks: store each layer's output and stop the forward pass once all are in."""
    with (
        capture(module, layers, detach=False, stop=stop) as store,
        contextlib.suppress(StopForward),
    ):
        yield store
    missing_layers(layers, store)


# Per-module hook registries: a copy starts with empty ones (the owner's hooks stay on the owner).
_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_state_dict_pre_hooks",
    "_load_state_dict_pre_hooks",
    "_load_state_dict_post_hooks",
)


def _hookless_memo(module: nn.Module) -> dict[int, object]:
    """A deepcopy memo that gives the copy empty hook registries and no foreign graph tensors.

    Another tool's hooks (lucent hooks every submodule) hold closures and tensors that are part of
    an autograd graph; deep-copying those fails ("Only Tensors created explicitly by the user
    support the deepcopy protocol"). Tensors kept as plain attributes are copied detached.
    """
    memo: dict[int, object] = {}
    for m in module.modules():
        for attr in _HOOK_DICTS:
            hooks = m.__dict__.get(attr)
            if hooks is not None:
                memo[id(hooks)] = type(hooks)()
        for value in m.__dict__.values():
            if isinstance(value, torch.Tensor) and not value.is_leaf:
                memo[id(value)] = value.detach().clone()
    return memo


def clean_copy(module: nn.Module, memo: dict[int, object] | None = None) -> nn.Module:
    """A deep copy of ``module`` without any of its hooks; ``memo`` entries are used as given."""
    return copy.deepcopy(module, {**_hookless_memo(module), **(memo or {})})


def _meta_copy(module: nn.Module) -> nn.Module:
    """The module's structure with every tensor on the ``meta`` device: no memory, no copy."""
    memo: dict[int, object] = {}
    for t in [*module.parameters(), *module.buffers()]:
        meta = torch.empty_like(t, device="meta")
        memo[id(t)] = (
            nn.Parameter(meta, requires_grad=False) if isinstance(t, nn.Parameter) else meta
        )
    return clean_copy(module, memo)


def _pruned_copy(module: nn.Module, reached: frozenset[str]) -> nn.Module:
    """A deep copy holding only the leaves in ``reached``; the others become ``nn.Identity``.

    The unreached leaves' tensors are shared during the copy (never duplicated), then dropped.
    """
    memo: dict[int, object] = {}
    skipped = [m for n, m in _named_leaves(module) if n not in reached]
    for m in skipped:
        for t in [*m.parameters(recurse=False), *m.buffers(recurse=False)]:
            memo[id(t)] = t
    clone = clean_copy(module, memo)
    for name, _ in _named_leaves(module):
        if name not in reached:
            _set_submodule(clone, name, nn.Identity())
    return clone


def _named_leaves(module: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in module.named_modules() if n and not list(m.children())]


def _set_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, child, new)


@torch.no_grad()
def _fold_pair(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Make ``conv`` compute ``bn(conv(x))`` (eval-mode statistics)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (C_out,)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    conv.weight = nn.Parameter(conv.weight * scale.view(-1, 1, 1, 1), requires_grad=False)
    conv.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias, requires_grad=False)


def fold_batchnorm(module: nn.Module, pairs: Sequence[tuple[str, str]]) -> int:
    """Fold each (conv, batchnorm) pair of ``module`` in place; the BN becomes ``nn.Identity``.

    Only eval-mode BatchNorms with running statistics and an affine part are folded. Returns the
    number folded. The caller checks the outputs did not change (see :func:`fast_model`).
    """
    count = 0
    for conv_name, bn_name in pairs:
        conv, bn = module.get_submodule(conv_name), module.get_submodule(bn_name)
        if bn.training or bn.running_var is None or not bn.affine:
            continue
        if conv.out_channels != bn.num_features:
            continue
        _fold_pair(conv, bn)
        _set_submodule(module, bn_name, nn.Identity())
        count += 1
    return count


@dataclass(frozen=True, eq=False)
class FastModel:
    """A frozen, truncated, folded copy of a model that returns its target layers' outputs.

    Call it on a normalized ``(B, 3, H, W)`` batch; it returns one tensor per target layer, in the
    order of ``layers``. It never runs past the deepest target, unless it was made with
    ``output=True``: then it runs the whole network and the model's output (logits) comes last.
    """

    module: nn.Module = field(repr=False)
    layers: tuple[str, ...]
    device: torch.device
    channels_last: bool
    folded: int  # BatchNorms folded into convolutions
    reached: int  # leaf modules kept (the rest of the network was dropped)
    channels: tuple[int, ...]  # channels of each target layer
    strides: tuple[int, ...]  # input pixels per output pixel of each target layer
    _tls: threading.local = field(default_factory=threading.local, repr=False)
    output: bool = False  # the whole network runs and its output follows the layers'

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)  # (B, 3, H, W), NHWC in memory
        return _forward(self.module, self.layers, self._tls, x, self.output)

    @property
    def min_side(self) -> int:
        """The smallest image side worth feeding: two output positions at the deepest target."""
        return max(MIN_INPUT_SIDE, 2 * max(self.strides, default=1))


def _install_hooks(
    module: nn.Module, layers: tuple[str, ...], tls: threading.local, stop: bool
) -> None:
    """Permanent hooks on the private copy: outputs go to the calling thread's own store."""
    wanted = set(layers)
    for name in layers:  # with stop, the last one raises StopForward: the rest is never computed
        hook = output_hook(lambda: tls.store, name, wanted, stop=stop)
        module.get_submodule(name).register_forward_hook(hook)


def _forward(
    module: nn.Module,
    layers: tuple[str, ...],
    tls: threading.local,
    x: torch.Tensor,
    output: bool = False,
) -> tuple[torch.Tensor, ...]:
    tls.store = store = {}
    if output:
        out = module(x)  # (B, K)
        return (*(store[name] for name in layers), out)
    with contextlib.suppress(StopForward):
        module(x)
    return tuple(store[name] for name in layers)


def _probe_any(module: nn.Module, layers: Sequence[str], size: int, output: bool) -> Probe:
    """Probe on a meta copy (free); models whose forward needs real numbers fall back to a copy."""
    extra = {"output": True} if output else {}
    try:
        return probe(_meta_copy(module), layers, size, **extra)
    except ModelError:
        raise
    except Exception:  # data-dependent control flow or an op without a meta kernel
        return probe(clean_copy(module), layers, size, **extra)


def _check_spatial(model: LoadedModel, layers: Sequence[str], shapes: Sequence[tuple]) -> None:
    for name, shape in zip(layers, shapes, strict=True):
        if len(shape) != 4:
            convs = [n for n in model.layers if n != name]
            raise ModelError(
                f"layer {name!r} of {model.name} has no spatial maps (output shape {list(shape)}); "
                f"dream on a convolutional layer, e.g. {model.default_layer} (layers: "
                f"{', '.join(convs[:12])}{', ...' if len(convs) > 12 else ''})"
            )


@torch.no_grad()
def _fold_checked(clone: nn.Module, pairs: Sequence[tuple[str, str]], run) -> int:
    """Fold BatchNorms and keep the folds only if the target outputs stay the same."""
    if not pairs:
        return 0
    before = run()
    saved = {name: copy.deepcopy(clone.get_submodule(name)) for pair in pairs for name in pair}
    count = fold_batchnorm(clone, pairs)
    after = run()
    ok = all(
        torch.allclose(a, b, rtol=0, atol=_FOLD_RTOL * max(float(b.abs().max()), 1e-6))
        for a, b in zip(after, before, strict=True)
    )
    if not ok:  # some other layer also read a conv's raw output: put everything back
        for name, sub in saved.items():
            _set_submodule(clone, name, sub)
        return 0
    return count


def require_model(model: object) -> LoadedModel:
    """``model`` if it is a loaded model, else a one-line :class:`ModelError`.

    Duck-typed, not ``isinstance``: a server that reloads edited modules keeps cached models whose
    class is the *previous* ``LoadedModel``, and they work just as well.
    """
    if not all(
        hasattr(model, a) for a in ("module", "spec", "device", "preprocess", "check_layer")
    ):
        raise ModelError(
            "model must be a loaded model (a LoadedModel from load_model(...)), "
            f"got {type(model).__name__}"
        )
    return model  # type: ignore[return-value]


def build_copy(
    model: LoadedModel,
    layers: tuple[str, ...],
    channels_last: bool,
    *,
    fold: bool = True,
    trainable: bool = False,
    output: bool = False,
) -> FastModel:
    """A new (uncached) copy: ``fold`` BatchNorms or not, weights ``trainable`` or frozen, the
    whole network with its ``output`` or only as far as ``layers``."""
    for name in layers:
        model.check_layer(name)
    size = max(model.spec.input_size, MIN_INPUT_SIDE)
    pr = _probe_any(model.module, layers, size, output)
    _check_spatial(model, layers, pr.shapes)
    clone = _pruned_copy(model.module, pr.reached).eval()
    for p in clone.parameters():
        p.requires_grad_(trainable)
    tls = threading.local()
    _install_hooks(clone, layers, tls, stop=not output)
    folded = 0
    if fold:
        gen = torch.Generator(device="cpu").manual_seed(0)
        x = torch.rand(1, 3, size, size, generator=gen).to(model.device)  # (1, 3, S, S)
        # a target layer keeps its own output: never fold into or out of one
        pairs = [p for p in pr.pairs if not set(p) & set(layers)]
        folded = _fold_checked(
            clone, pairs, lambda: [t.float() for t in _forward(clone, layers, tls, x, output)]
        )
    if channels_last:
        clone.to(memory_format=torch.channels_last)
    return FastModel(
        module=clone,
        layers=layers,
        device=model.device,
        channels_last=channels_last,
        folded=folded,
        reached=len(pr.reached),
        channels=tuple(s[1] for s in pr.shapes),
        strides=tuple(max(1, math.ceil(size / s[-2])) for s in pr.shapes),
        _tls=tls,
        output=output,
    )


_CACHE: OrderedDict[tuple, tuple[weakref.ref, FastModel]] = OrderedDict()
_LOCK = threading.Lock()


def fast_model(
    model: LoadedModel,
    layers: Sequence[str] | str,
    *,
    channels_last: bool = True,
    output: bool = False,
) -> FastModel:
    """A cached fast copy of ``model`` up to ``layers`` (dotted names, validated).

    With ``output`` the copy runs the whole network and also returns the model's output (class
    logits), last. An unknown layer raises :class:`~dreamlab.models.UnknownLayerError` listing the
    valid ones; a layer without spatial maps (a fully connected one) raises :class:`ModelError`.
    """
    require_model(model)
    names = (layers,) if isinstance(layers, str) else tuple(dict.fromkeys(layers))
    if not names and not output:
        raise ModelError("no target layer given")
    key = (id(model.module), names, str(model.device), bool(channels_last), bool(output))
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0]() is model.module:
            _CACHE.move_to_end(key)
            return hit[1]
        fm = build_copy(model, names, bool(channels_last), output=bool(output))
        _CACHE[key] = (weakref.ref(model.module), fm)
        while len(_CACHE) > MAX_CACHED:
            _CACHE.popitem(last=False)
        return fm


def cached_copies() -> list[FastModel]:
    """The fast copies kept now (the memory budget counts their weights)."""
    with _LOCK:
        return [fm for _, fm in _CACHE.values()]


def clear_cache() -> None:
    """Forget every fast copy (frees their memory once no dream holds them)."""
    with _LOCK:
        _CACHE.clear()


def cache_size() -> int:
    """How many fast copies are cached now."""
    with _LOCK:
        return len(_CACHE)
