"""The one activation capture: forward hooks that store layer outputs and may stop the pass early.

Used three ways: :func:`capture` hooks a module for the length of a ``with`` block (the hooks are
always removed, so a shared model is left as found); :func:`forward_until` runs a module only as
far as some layers; and the fast private copies (:mod:`dreamlab.ascent.fastcopy`) keep
:func:`output_hook` hooks for good, writing into per-thread stores.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from dreamlab.models.spec import LayerNotReachedError

__all__ = ["StopForward", "capture", "forward_until", "missing_layers", "output_hook"]

Store = dict[str, torch.Tensor]
Hook = Callable[[nn.Module, object, object], None]


class StopForward(Exception):
    """Raised by a hook once every wanted layer has its output: the rest of the network is skipped."""


def output_hook(
    store: Callable[[], Store],
    name: str,
    wanted: set[str],
    *,
    stop: bool,
    detach: bool = False,
    seen: Callable[[], set[str]] | None = None,
) -> Hook:
    """A forward hook that puts the layer's output (the first, for a tuple) into ``store()``.

    With ``stop``, it raises :class:`StopForward` once every ``wanted`` layer is in ``seen()``
    (default: the store itself) so deeper layers are never computed.
    """

    def hook(_m: nn.Module, _inp: object, out: object) -> None:
        out = out[0] if isinstance(out, tuple | list) else out
        target = store()
        target[name] = out.detach() if detach else out
        done = target if seen is None else seen()
        if seen is not None:
            done.add(name)
        if stop and wanted.issubset(done):
            raise StopForward

    return hook


def missing_layers(layers: Sequence[str], store: Store) -> None:
    """Raise :class:`LayerNotReachedError` naming the ``layers`` the last pass did not reach."""
    missing = [name for name in layers if name not in store]
    if missing:
        raise LayerNotReachedError(f"layers {missing} are never reached by the forward pass")


@contextmanager
def capture(
    module: nn.Module, layers: Sequence[str], *, detach: bool = True, stop: bool = False
) -> Iterator[Store]:
    """Hook ``layers`` (dotted names) of ``module``; the dict fills on each forward pass.

    With ``stop=True`` the forward pass raises :class:`StopForward` as soon as every layer has been
    captured (see :func:`forward_until`): deeper layers are never computed, which is faster and
    lets a fixed-input classifier (a CNN with dense layers) give conv maps for any image size.
    The hooks are removed on exit, even after an exception, so a shared model is left as found.
    """
    store: Store = {}
    wanted = set(layers)
    seen: set[str] = set()  # layers reached in the current pass (store keeps earlier passes)
    handles = []
    try:
        if stop:  # a new pass starts with nothing seen, else a second pass would stop too early
            handles.append(module.register_forward_pre_hook(lambda *_: seen.clear()))
        for name in layers:
            hook = output_hook(
                lambda: store, name, wanted, stop=stop, detach=detach, seen=lambda: seen
            )
            handles.append(module.get_submodule(name).register_forward_hook(hook))
        yield store
    finally:
        for h in handles:
            h.remove()


def forward_until(
    module: nn.Module, x: torch.Tensor, layers: Sequence[str], *, detach: bool = True
) -> Store:
    """Run ``module(x)`` only as far as needed to get the output of every layer in ``layers``."""
    with (
        capture(module, layers, detach=detach, stop=True) as store,
        contextlib.suppress(StopForward),
    ):
        module(x)
    missing_layers(layers, store)
    return dict(store)
