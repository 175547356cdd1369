"""Fast copies: same outputs as the shared model, BatchNorm folded, truncated, frozen, cached."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

from dreamlab.activations import forward_until
from dreamlab.ascent import fastcopy as F
from dreamlab.benchmark.reference import reference_copy
from dreamlab.models import ModelError, UnknownLayerError
from dreamlab.models import weights as W
from dreamlab.models.registry import LoadedModel, ModelSpec


def _loaded(module: nn.Module, layers: tuple[str, ...]) -> LoadedModel:
    """A LoadedModel around a toy module (not registered)."""
    spec = ModelSpec(
        name=f"toy{id(module)}",
        title="toy",
        build=lambda: module,
        weights=W.NoWeights("toy"),
        layers=layers,
        default_layer=layers[-1],
        first_conv=layers[0],
        input_size=32,
    )
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return LoadedModel(spec, module, torch.device("cpu"), [])


def _random_bn(bn: nn.BatchNorm2d, gen: torch.Generator) -> None:
    with torch.no_grad():
        bn.running_mean.normal_(generator=gen)
        bn.running_var.uniform_(0.5, 2.0, generator=gen)
        bn.weight.normal_(generator=gen)
        bn.bias.normal_(generator=gen)


@pytest.mark.parametrize("layers", [["_blocks.9"], ["_blocks.3", "_blocks.9"], ["_stem_act"]])
def test_outputs_match_the_shared_model(lite0, layers) -> None:
    fm = F.fast_model(lite0, layers)
    x = lite0.preprocess(torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        ref = forward_until(lite0.module, x, layers)
        out = fm(x)
    for name, y in zip(layers, out, strict=True):
        scale = float(ref[name].abs().max())
        assert torch.allclose(y, ref[name], atol=1e-4 * scale), name


def test_lite0_copy_is_folded_truncated_and_frozen(lite0) -> None:
    fm = F.fast_model(lite0, "_blocks.9")
    assert fm.folded == 30  # every BatchNorm up to block 9 went into its convolution
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fm.module.modules())
    assert isinstance(fm.module._fc, nn.Identity) and isinstance(fm.module._conv_head, nn.Identity)
    n_copy = sum(p.numel() for p in fm.module.parameters())
    n_full = sum(p.numel() for p in lite0.module.parameters())
    assert n_copy < n_full / 5
    assert all(not p.requires_grad for p in fm.module.parameters())
    assert fm.channels == (112,) and fm.strides == (16,) and fm.min_side == 32
    assert fm.channels_last and fm.module._conv_stem.weight.is_contiguous(
        memory_format=torch.channels_last
    )


def test_shared_model_keeps_no_hooks_and_its_batchnorms(lite0) -> None:
    F.fast_model(lite0, "_blocks.4")
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in lite0.module.modules())
    assert isinstance(lite0.module._blocks[0]._bn1, nn.BatchNorm2d)
    assert all(not p.requires_grad for p in lite0.module.parameters())


def test_copies_are_cached_and_bounded(lite0) -> None:
    F.clear_cache()
    a = F.fast_model(lite0, "_blocks.2")
    assert F.fast_model(lite0, "_blocks.2") is a
    assert F.fast_model(lite0, "_blocks.2", channels_last=False) is not a
    for i in range(F.MAX_CACHED + 2):
        F.fast_model(lite0, f"_blocks.{i}")
    assert F.cache_size() == F.MAX_CACHED
    F.clear_cache()
    assert F.cache_size() == 0


def test_unknown_layer_lists_valid_layers(lite0) -> None:
    with pytest.raises(UnknownLayerError, match="valid layers: _stem_act, _blocks.0"):
        F.fast_model(lite0, "_blocks.99")


class _RawConvReuse(nn.Module):
    """A conv whose raw output is used twice (by a BN and by a skip): folding would be wrong."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.out = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        return self.out(self.bn(h) + h)


def test_a_fold_that_would_change_outputs_is_undone() -> None:
    toy = _RawConvReuse()
    _random_bn(toy.bn, torch.Generator().manual_seed(1))
    model = _loaded(toy, ("conv", "out"))
    fm = F.fast_model(model, "out")
    assert fm.folded == 0 and isinstance(fm.module.bn, nn.BatchNorm2d)
    x = torch.randn(1, 3, 40, 40)
    with torch.no_grad():
        assert torch.allclose(fm(x)[0], toy(x), atol=1e-5)


class _ConvBn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bn(self.conv(x))
        if h.mean() > 1e9:  # data-dependent control flow: the meta probe cannot run this
            h = h * 0
        h = self.act(h)
        return self.head(h.mean((2, 3)))


def test_fold_is_exact_and_data_dependent_models_work(monkeypatch) -> None:
    calls = []
    real = F.probe
    monkeypatch.setattr(
        F, "probe", lambda m, *a: calls.append(next(m.parameters()).device.type) or real(m, *a)
    )
    toy = _ConvBn()
    _random_bn(toy.bn, torch.Generator().manual_seed(2))
    model = _loaded(toy, ("conv", "act", "head"))
    fm = F.fast_model(model, "act")
    assert calls == ["meta", "cpu"]  # the meta probe failed, the real one ran on a copy
    assert fm.folded == 1
    x = torch.randn(1, 3, 33, 35)
    with torch.no_grad():
        ref = toy.act(toy.bn(toy.conv(x)))
        assert torch.allclose(fm(x)[0], ref, atol=1e-5)


def test_a_layer_without_maps_is_refused() -> None:
    model = _loaded(_ConvBn(), ("conv", "act", "head"))
    with pytest.raises(ModelError, match="no spatial maps"):
        F.fast_model(model, "head")


def test_two_threads_share_one_copy(lite0) -> None:
    fm = F.fast_model(lite0, "_blocks.5")
    inputs = [torch.rand(1, 3, 64, 64), torch.rand(1, 3, 96, 64)]
    with torch.no_grad():
        expected = [fm(x)[0] for x in inputs]
    results: dict[int, list[bool]] = {0: [], 1: []}

    def work(i: int) -> None:
        with torch.no_grad():
            for _ in range(5):
                results[i].append(torch.equal(fm(inputs[i])[0], expected[i]))

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(results[0]) and all(results[1]) and len(results[0]) == 5


def test_reference_copy_is_plain_and_trainable(lite0) -> None:
    ref = reference_copy(lite0, "_blocks.9")
    assert ref.folded == 0 and not ref.channels_last
    assert any(isinstance(m, nn.BatchNorm2d) for m in ref.module.modules())
    assert all(p.requires_grad for p in ref.module.parameters())
