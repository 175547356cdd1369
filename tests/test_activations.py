"""activations.py: hooks never outlive a capture, forward_until stops early, maps have the right shape."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
from torch import nn

from dreamlab.activations import (
    StopForward,
    capture,
    forward_until,
    layer_activations,
    layer_maps,
    top_channels,
)
from dreamlab.images import resize_to
from dreamlab.models import LoadedModel, UnknownLayerError


class Tripwire(nn.Module):
    """A layer that must never run: it fails the test if the forward pass reaches it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise AssertionError("a layer after the target was computed")


def _net(last: nn.Module | None = None) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 5, 3, stride=2, padding=1),
        last if last is not None else nn.Identity(),
    )


def _no_hooks(module: nn.Module) -> bool:
    return all(
        not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
        for m in module.modules()
    )


def test_capture_fills_and_removes_hooks() -> None:
    net = _net()
    x = torch.rand(2, 3, 8, 8)
    with capture(net, ["0", "2"]) as store:
        assert not _no_hooks(net)
        net(x)
    assert _no_hooks(net)
    assert store["0"].shape == (2, 4, 8, 8) and store["2"].shape == (2, 5, 4, 4)
    assert torch.allclose(store["2"], net[2](net[1](net[0](x))))
    assert not store["0"].requires_grad  # detached by default


def test_capture_removes_hooks_after_an_exception() -> None:
    net = _net(Tripwire())
    with pytest.raises(AssertionError, match="after the target"), capture(net, ["0", "2"]):
        net(torch.rand(1, 3, 8, 8))
    assert _no_hooks(net)
    assert all(not m._forward_hooks for m in net.modules())


def test_capture_removes_hooks_when_a_later_layer_name_is_unknown() -> None:
    net = _net()
    with pytest.raises(AttributeError), capture(net, ["0", "no_such_layer"]):
        pass
    assert _no_hooks(net)


def test_capture_keeps_the_graph_when_asked() -> None:
    net = _net()
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    with capture(net, ["2"], detach=False) as store:
        net(x)
    store["2"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_forward_until_never_runs_the_layers_after_the_target() -> None:
    net = _net(Tripwire())
    out = forward_until(net, torch.rand(1, 3, 8, 8), ["2"])
    assert out["2"].shape == (1, 5, 4, 4)
    assert _no_hooks(net)


def test_forward_until_waits_for_every_layer() -> None:
    net = _net(Tripwire())
    out = forward_until(net, torch.rand(1, 3, 8, 8), ["2", "0"])  # order does not matter
    assert set(out) == {"0", "2"}


def test_forward_until_a_layer_that_is_never_reached() -> None:
    class Skips(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Conv2d(3, 2, 1)
            self.unused = nn.Conv2d(2, 2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.used(x)

    with pytest.raises(RuntimeError, match="unused"):
        forward_until(Skips(), torch.rand(1, 3, 4, 4), ["unused"])


def test_capture_with_stop_over_several_passes_gives_fresh_outputs() -> None:
    """A second pass in one capture must refresh every layer, not stop on the stale ones."""
    net = _net(Tripwire())
    a, b = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    with capture(net, ["0", "2"], stop=True) as store:
        for x in (a, b):
            with contextlib.suppress(StopForward):
                net(x)
        got0, got2 = store["0"].clone(), store["2"].clone()
    with torch.no_grad():
        want0 = net[0](b)
        want2 = net[2](net[1](want0))
    assert torch.allclose(got0, want0) and torch.allclose(got2, want2)
    assert _no_hooks(net)


def test_layer_activations_checks_names(lite0: LoadedModel) -> None:
    with pytest.raises(UnknownLayerError) as exc:
        layer_activations(lite0, torch.rand(1, 3, 32, 32), ["_blocks.9", "features.26"])
    assert "_blocks.9" in str(exc.value)  # the valid layers are listed
    assert _no_hooks(lite0.module)


def test_layer_activations_preprocesses(lite0: LoadedModel) -> None:
    x = torch.rand(1, 3, 32, 32)
    got = layer_activations(lite0, x, ["_stem_act"])["_stem_act"]
    with torch.no_grad():
        m = lite0.module
        want = m._stem_act(m._bn0(m._conv_stem(lite0.preprocess(x))))
    assert torch.allclose(got, want, atol=1e-6)


def test_layer_maps_shape_and_type(lite0: LoadedModel) -> None:
    image = np.random.default_rng(0).integers(0, 256, (48, 80, 3), np.uint8)
    maps = layer_maps(lite0, image, "_blocks.9")
    assert maps.shape == (112, 3, 5) and maps.dtype == np.float32
    stem = layer_maps(lite0, image, "_stem_act")
    assert stem.shape == (32, 24, 40)
    assert _no_hooks(lite0.module)


def test_layer_maps_of_the_small_cnn_any_size() -> None:
    from dreamlab.models import load_model

    model = load_model("tiny_cnn", device="cpu")
    image = np.zeros((64, 48, 3), np.uint8)  # not 32 x 32: the dense layers would fail
    # conv 5 -> (60, 44), pool -> (30, 22), conv 5 -> (26, 18)
    assert layer_maps(model, image, "relu2").shape == (16, 26, 18)


def test_top_channels() -> None:
    maps = torch.zeros(5, 2, 2)
    maps[3] = 4.0
    maps[1] = 2.0
    maps[4] = -1.0
    assert top_channels(maps, 2) == [3, 1]
    assert top_channels(maps.numpy(), 10)[:2] == [3, 1] and len(top_channels(maps, 10)) == 5


def test_layer_stride_and_the_size_for_readable_maps(lite0: LoadedModel) -> None:
    from dreamlab.activations import layer_stride, maps_input_size

    assert layer_stride(lite0, "_stem_act") == 2 and layer_stride(lite0, "_blocks.9") == 16
    assert maps_input_size((451, 300), 2) == (451, 300)  # shallow: the photo's own size
    w, h = maps_input_size((451, 300), 16)
    assert h // 16 >= 28 and w / h == pytest.approx(451 / 300, rel=0.01)
    w, h = maps_input_size((451, 300), 32, max_pixels=500_000)  # the cap wins
    assert w * h <= 500_000 * 1.01 and h // 32 < 28
    image = np.zeros((h, w, 3), np.uint8)
    assert (
        min(
            layer_maps(lite0, resize_to(image, maps_input_size((451, 300), 16)), "_blocks.9").shape[
                1:
            ]
        )
        >= 28
    )


def test_receptive_field_of_the_stem_is_its_3x3_window(lite0: LoadedModel) -> None:
    from dreamlab.activations import receptive_field

    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)
    # the stem: a 3 x 3 conv, stride 2, padding 1: unit (5, 7) reads rows 9..11, columns 13..15
    assert receptive_field(lite0, image, "_stem_act", 5, 7) == (9, 13, 12, 16)
    top, left, bottom, right = receptive_field(lite0, image, "_blocks.9", 2, 2)
    assert bottom - top > 50 and right - left > 50  # deep units see a large patch
    assert _no_hooks(lite0.module) and all(p.grad is None for p in lite0.module.parameters())


def test_top_channels_by_variation() -> None:
    maps = np.zeros((3, 4, 4), np.float32)
    maps[0] += 5.0  # high mean, flat
    maps[1, ::2] = 3.0  # stripes: varied
    assert top_channels(maps, 1) == [0] and top_channels(maps, 1, by="std") == [1]
    with pytest.raises(ValueError):
        top_channels(maps, 1, by="max")
