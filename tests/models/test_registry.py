"""The model registry: offline statuses, frozen loads, specs that match their modules, layer errors."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest
import torch
from torch import nn

from dreamlab.activations import forward_until
from dreamlab.models import (
    LoadedModel,
    ModelError,
    UnknownLayerError,
    get_spec,
    list_models,
    load_model,
    register_model,
    registered_names,
)
from dreamlab.models import registry as R
from dreamlab.models import weights as W
from dreamlab.models.builtin import tiny_cnn_spec

TORCHVISION = ("vgg19", "vgg16", "googlenet", "resnet50", "alexnet")
BUILTIN = ("efficientnet_lite0", *TORCHVISION, "tiny_cnn")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test (not just returns offline)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the network was touched: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty registry for this test only (the built-ins come back on first use)."""
    monkeypatch.setattr(R, "_REGISTRY", {})
    monkeypatch.setattr(R, "_BUILTINS_LOADED", False)


# ---------------------------------------------------------------- list_models


@pytest.mark.usefixtures("no_network")
def test_list_models_offline() -> None:
    infos = {info.name: info for info in list_models()}
    assert list(infos)[0] == "efficientnet_lite0"  # the default first
    assert set(BUILTIN) <= set(infos)
    assert infos["efficientnet_lite0"].status == "embedded"
    assert infos["efficientnet_lite0"].num_layers == 18
    assert infos["efficientnet_lite0"].input_size == 224
    assert infos["tiny_cnn"].status == "embedded"
    assert infos["tiny_cnn"].input_size == 32
    for name in TORCHVISION:
        info = infos[name]
        assert info.status == "unavailable", name
        assert "offline" in info.note and "cache" in info.note  # says why
        assert info.num_layers == len(get_spec(name).layers)


@pytest.mark.usefixtures("no_network")
def test_offline_torchvision_model_refuses_to_load_with_reason() -> None:
    with pytest.raises(ModelError) as exc:
        load_model("vgg19", device="cpu")
    msg = str(exc.value)
    assert "\n" not in msg and "offline" in msg


def test_status_online_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    """Online (a fake connection) and not cached: downloadable, and the answer is cached."""
    calls = []

    class FakeConnection:
        def __enter__(self) -> FakeConnection:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def connect(address: tuple[str, int], timeout: float) -> FakeConnection:
        calls.append(address)
        return FakeConnection()

    monkeypatch.setenv("DREAMLAB_OFFLINE", "0")
    monkeypatch.setattr(W, "_ONLINE_CACHE", {})
    monkeypatch.setattr(socket, "create_connection", connect)
    status, note = get_spec("vgg19").weights.status()
    assert status == "downloadable" and note
    assert calls == [("download.pytorch.org", 443)]
    get_spec("vgg16").weights.status()
    assert len(calls) == 1  # cached for a minute: a page redraw does not reconnect


def test_status_online_check_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("no route to host")

    monkeypatch.setenv("DREAMLAB_OFFLINE", "0")
    monkeypatch.setattr(W, "_ONLINE_CACHE", {})
    monkeypatch.setattr(socket, "create_connection", fail)
    assert get_spec("alexnet").weights.status()[0] == "unavailable"


@pytest.mark.usefixtures("no_network")
def test_cached_torchvision_weights_are_found_and_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    spec = get_spec("alexnet")
    assert spec.weights.status()[0] == "unavailable"
    with torch.device("meta"):  # the architecture's shapes without paying for random init
        shapes = {k: v.shape for k, v in spec.build().state_dict().items()}
    state = {k: torch.zeros(s) for k, s in shapes.items()}
    state["features.0.bias"] = torch.arange(64, dtype=torch.float32)
    file = tmp_path / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    file.parent.mkdir(parents=True)
    torch.save(state, file)
    try:
        status, note = spec.weights.status()
        assert status == "cached" and str(file) in note
        assert {i.name: i.status for i in list_models()}["alexnet"] == "cached"
        model = load_model("alexnet", device="cpu")
        assert torch.equal(model.module.features[0].bias, state["features.0.bias"])
        assert model.weights_note == "torchvision ImageNet weights"
    finally:
        file.unlink()  # 244 MB: do not leave it in pytest's kept temp dirs


# ---------------------------------------------------------------- load_model


def test_load_model_is_frozen_eval(lite0: LoadedModel) -> None:
    assert lite0.name == "efficientnet_lite0"
    assert lite0.device == torch.device("cpu")
    assert not lite0.module.training
    assert all(not m.training for m in lite0.module.modules())
    assert not any(p.requires_grad for p in lite0.module.parameters())
    assert len(lite0.categories) == 1000
    assert lite0.default_layer == "_blocks.9" and lite0.default_layer in lite0.layers


def test_tiny_cnn_loads_frozen_with_random_weights() -> None:
    model = load_model("tiny_cnn", device="cpu")
    assert not model.module.training
    assert not any(p.requires_grad for p in model.module.parameters())
    assert model.categories[3] == "cat" and len(model.categories) == 10
    assert model.input_size == 32
    top = model.classify(torch.rand(1, 3, 32, 32), top=3)
    assert len(top) == 3 and all(label in model.categories for label, _ in top)


def test_unknown_model_lists_known_ones() -> None:
    with pytest.raises(ModelError) as exc:
        load_model("vgg99", device="cpu")
    msg = str(exc.value)
    assert "'vgg99'" in msg and "efficientnet_lite0" in msg and "vgg19" in msg


def test_bad_device() -> None:
    with pytest.raises(ValueError, match="unknown device"):
        load_model("tiny_cnn", device="tpu")


def test_preprocess_normalizes_with_the_spec_stats(lite0: LoadedModel) -> None:
    x = torch.zeros(1, 3, 2, 2)
    x[:, 0] = 0.485
    out = lite0.preprocess(x)
    assert out.shape == x.shape
    assert torch.allclose(out[0, 0], torch.zeros(2, 2), atol=1e-6)
    assert float(out[0, 1, 0, 0]) == pytest.approx(-0.456 / 0.224, rel=1e-5)


def test_fit_input_is_a_centre_crop_of_the_input_size(lite0: LoadedModel) -> None:
    assert lite0.fit_input(torch.rand(1, 3, 100, 300)).shape == (1, 3, 224, 224)
    assert lite0.fit_input(torch.rand(1, 3, 400, 50)).shape == (1, 3, 224, 224)


@pytest.mark.parametrize("top", [0, -1, 2.5, True])
def test_classify_refuses_a_bad_top(top: object) -> None:
    model = load_model("tiny_cnn", device="cpu")
    with pytest.raises(ValueError, match="top"):
        model.classify(torch.rand(1, 3, 32, 32), top=top)  # type: ignore[arg-type]


def test_classify_top_larger_than_classes() -> None:
    model = load_model("tiny_cnn", device="cpu")
    top = model.classify(torch.rand(1, 3, 32, 32), top=50)
    assert len(top) == 10
    assert sum(p for _, p in top) == pytest.approx(1.0, abs=1e-5)


# ---------------------------------------------------------------- layers


def test_unknown_layer_error_lists_the_valid_layers(lite0: LoadedModel) -> None:
    with pytest.raises(UnknownLayerError) as exc:
        lite0.check_layer("_blocks.99")
    err = exc.value
    assert isinstance(err, ModelError) and isinstance(err, KeyError)
    msg = str(err)
    assert msg.startswith("unknown layer '_blocks.99'")  # not quoted as KeyError would
    assert "\n" not in msg
    for layer in lite0.layers:
        assert layer in msg
    with pytest.raises(UnknownLayerError):
        lite0.layer_module("features.26")  # a VGG name on the wrong model


def test_check_layer_and_layer_module(lite0: LoadedModel) -> None:
    assert lite0.check_layer("_blocks.9") == "_blocks.9"
    assert lite0.layer_module("_blocks.9") is lite0.module._blocks[9]


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_spec_matches_its_module(name: str) -> None:
    spec = get_spec(name)
    with torch.device("meta"):  # the architecture only: no memory, no random init
        module = spec.build()
    modules = dict(module.named_modules())
    missing = [layer for layer in spec.layers if layer not in modules]
    assert not missing, f"{name}: layers not in the module: {missing}"
    assert len(set(spec.layers)) == len(spec.layers)
    assert spec.default_layer in spec.layers
    assert isinstance(modules[spec.first_conv], nn.Conv2d)
    assert modules[spec.first_conv].in_channels == 3
    # no in-place activation may overwrite a hooked output downstream
    assert not any(getattr(m, "inplace", False) for m in module.modules()), name
    assert len(spec.mean) == 3 and len(spec.std) == 3 and all(s > 0 for s in spec.std)


def test_layers_are_listed_shallow_to_deep() -> None:
    model = load_model("tiny_cnn", device="cpu")
    order = []
    handles = [
        model.module.get_submodule(layer).register_forward_hook(
            lambda *_, layer=layer: order.append(layer)
        )
        for layer in model.layers
    ]
    try:
        model.module(torch.rand(1, 3, 32, 32))
    finally:
        for h in handles:
            h.remove()
    assert order == model.layers


@pytest.mark.parametrize(("name", "channels"), [("googlenet", 512), ("vgg19", 512), ("vgg16", 512)])
def test_random_torchvision_build_reaches_default_layer_at_64px(name: str, channels: int) -> None:
    spec = get_spec(name)
    with torch.device("meta"):
        module = spec.build()
    # Random conv/norm weights; the big dense layers stay uninitialized (VGG's take seconds to
    # initialize): they must never run, as forward_until stops at the target layer.
    module = module.to_empty(device="cpu").eval()
    for m in module.modules():
        if not isinstance(m, nn.Linear) and hasattr(m, "reset_parameters"):
            m.reset_parameters()
    with torch.no_grad():
        out = forward_until(module, torch.rand(1, 3, 64, 64), [spec.default_layer])
    maps = out[spec.default_layer]
    assert maps.shape[:2] == (1, channels) and maps.shape[-1] >= 1
    assert torch.isfinite(maps).all()


# ---------------------------------------------------------------- register_model


@pytest.mark.usefixtures("fresh_registry")
def test_register_model_keeps_builtins_first_and_refuses_duplicates() -> None:
    spec = tiny_cnn_spec(name="my_cnn", title="Mine", categories=("a", "b"))
    register_model(spec)
    names = registered_names()
    assert names[0] == "efficientnet_lite0" and names[-1] == "my_cnn"
    assert set(BUILTIN) <= set(names)
    with pytest.raises(ModelError, match="already registered"):
        register_model(spec)
    again = tiny_cnn_spec(name="my_cnn", title="Mine again", categories=("a", "b", "c"))
    register_model(again, replace=True)
    assert get_spec("my_cnn").title == "Mine again"
    assert load_model("my_cnn", device="cpu").categories == ["a", "b", "c"]


@pytest.mark.usefixtures("fresh_registry")
def test_register_model_refuses_a_default_layer_not_in_layers() -> None:
    from dataclasses import replace

    spec = replace(tiny_cnn_spec(name="broken"), default_layer="fc9")
    with pytest.raises(ModelError, match="fc9"):
        register_model(spec)
    assert "broken" not in registered_names()


@pytest.mark.usefixtures("fresh_registry")
def test_replacing_a_builtin_before_first_use_keeps_the_others() -> None:
    register_model(tiny_cnn_spec(name="efficientnet_lite0", title="Impostor"), replace=True)
    names = registered_names()
    assert set(BUILTIN) <= set(names)
    assert get_spec("efficientnet_lite0").title == "Impostor"


def test_model_status_via_spec() -> None:
    assert R.model_status(get_spec("efficientnet_lite0"))[0] == "embedded"
