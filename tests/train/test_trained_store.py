"""The trained-model store: checkpoints, session models, saving for everyone under a name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from dreamlab.errors import DreamLabError
from dreamlab.models import list_models, load_model, load_spec, registered_names
from dreamlab.models.tiny_cnn import TinyCNN
from dreamlab.train.datasets import SHAPES_CLASSES, load_dataset
from dreamlab.train.loop import EvalResult, train
from dreamlab.train.store import (
    check_model_name,
    load_trained,
    register_saved_models,
    register_trained,
    save_model,
    save_trained,
    saved_models,
    session_spec,
    trained_classes,
)

pytestmark = pytest.mark.usefixtures("own_registry", "own_models_dir")


@pytest.fixture(scope="module")
def result() -> EvalResult:
    """The final evaluation of one small one-epoch run."""
    *_, last = train(epochs=1, train_size=200, test_size=100, batch_size=16, device="cpu")
    assert isinstance(last, EvalResult) and last.final
    return last


def test_saved_model_reloads_with_weights_only_and_predicts_the_same(
    result: EvalResult, tmp_path: Path
) -> None:
    path = save_trained(tmp_path / "net.pt", result)
    obj = torch.load(path, map_location="cpu", weights_only=True)
    meta = obj["meta"]
    assert meta["dataset"] == "shapes" and meta["classes"] == list(SHAPES_CLASSES)
    assert meta["accuracy"] == pytest.approx(result.accuracy)
    assert meta["config"]["batch_size"] == 16 and meta["dreamlab_version"]
    spec = register_trained(path)
    assert spec.name == "net"
    model = load_model(spec.name, device="cpu")
    assert model.categories == list(SHAPES_CLASSES)
    x = load_dataset("shapes", train_size=200, test_size=100).test.batch(slice(0, 100))
    net = TinyCNN()
    net.load_state_dict(result.state_dict)
    net.eval()
    with torch.no_grad():
        expected = net((x - 0.5) / 0.5)  # (100, 10)
        got = model.module(model.preprocess(x))
    assert torch.allclose(got, expected, atol=1e-6)
    labels = load_dataset("shapes", train_size=200, test_size=100).test.labels  # (100,)
    assert float((got.argmax(1) == labels).float().mean()) == pytest.approx(result.accuracy)
    label, _ = model.classify(result.preview_images[0], top=1)[0]
    assert label in SHAPES_CLASSES
    assert trained_classes(path) == list(SHAPES_CLASSES)


def test_bad_checkpoints_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a DreamLab training checkpoint"):
        load_trained(bad)
    assert trained_classes(bad) is None
    torch.save({"state_dict": {"w": torch.zeros(1)}, "meta": {}}, bad)
    with pytest.raises(ValueError, match="no list of classes"):
        load_trained(bad)
    with pytest.raises(ValueError, match="does not exist"):
        save_trained(tmp_path / "nowhere" / "x.pt", None)  # type: ignore[arg-type]


def test_a_session_model_is_registered_nowhere_and_loads(
    result: EvalResult, own_models_dir: Path
) -> None:
    before = registered_names()
    spec = session_spec(result)
    assert spec.name.startswith("tiny_cnn_shapes_") and "% test accuracy" in spec.title
    assert registered_names() == before and not own_models_dir.exists()  # nothing global
    model = load_spec(spec, device="cpu")
    assert model.categories == list(SHAPES_CLASSES)
    assert torch.equal(model.module.conv1.weight, result.state_dict["conv1.weight"])
    assert spec.weights.status()[0] == "cached"


@pytest.mark.parametrize(
    "name", ["", "a b", "x" * 41, "été", "../up", "a.pt", None, 3, "name\nline"]
)
def test_bad_model_names_are_refused_in_one_line(name: object) -> None:
    with pytest.raises(DreamLabError) as err:
        check_model_name(name)
    assert err.value.kind == "model_name_invalid" and "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["a", "my-cnn_2", "X" * 40])
def test_good_model_names_pass(name: str) -> None:
    assert check_model_name(name) == name


def test_saved_for_everyone_listed_registered_and_found_again(
    result: EvalResult, own_models_dir: Path
) -> None:
    spec = save_model(result, "shapes_best")
    assert spec.name == "shapes_best" and spec.title.startswith("shapes_best · Tiny CNN · ")
    assert (own_models_dir / "shapes_best.pt").is_file()
    assert "shapes_best" in {m.name for m in list_models()}
    assert load_model("shapes_best", device="cpu").categories == list(SHAPES_CLASSES)
    other = dataclasses.replace(result, accuracy=0.5)
    save_model(other, "second")
    listed = saved_models()
    assert [s.name for s in listed] == ["second", "shapes_best"]
    assert listed[0].accuracy == 0.5 and listed[0].dataset == "shapes"
    (own_models_dir / "broken.pt").write_bytes(b"junk")
    (own_models_dir / "bad name.pt").write_bytes((own_models_dir / "second.pt").read_bytes())
    assert sorted(s.name for s in register_saved_models()) == ["second", "shapes_best"]


def test_a_taken_name_is_refused(result: EvalResult, own_models_dir: Path) -> None:
    save_model(result, "mine")
    for taken in ("mine", "efficientnet_lite0", "tiny_cnn"):
        with pytest.raises(DreamLabError, match="already exists") as err:
            save_model(result, taken)
        assert err.value.kind == "model_name_taken"
    (own_models_dir / "elsewhere.pt").write_bytes(b"another process saved it")
    with pytest.raises(DreamLabError, match="already exists"):
        save_model(result, "elsewhere")  # on disk, not registered here: still taken
    assert (own_models_dir / "elsewhere.pt").read_bytes() == b"another process saved it"


def test_a_saved_file_never_replaces_a_builtin(result: EvalResult, own_models_dir: Path) -> None:
    own_models_dir.mkdir(parents=True)
    save_trained(own_models_dir / "efficientnet_lite0.pt", result)
    assert register_saved_models() == []
    assert load_model("efficientnet_lite0", device="cpu").spec.input_size == 224


def test_models_trained_here_never_go_to_a_backend(
    result: EvalResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``dreamlab serve`` backend has only the built-in weights: a model trained here (saved
    for everyone or the session's own) runs at the front end, a built-in one at the backend."""
    from dreamlab.backend import runs_remote

    monkeypatch.setenv("DREAMLAB_BACKEND", "http://127.0.0.1:9")
    saved = load_model(save_model(result, "for_all").name, device="cpu")
    session = load_spec(session_spec(result), device="cpu")
    assert not saved.servable and not runs_remote(saved)
    assert not session.servable and not runs_remote(session)
    assert runs_remote(load_model("tiny_cnn", device="cpu"))  # the untrained one: the backend's
