"""The CLI with trained models: ``train --save NAME``, ``--model NAME`` and ``--weights FILE``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dreamlab.cli import main
from dreamlab.train.datasets import SHAPES_CLASSES
from tests.conftest import SAMPLES

COFFEE = str(SAMPLES / "coffee.png")
pytestmark = pytest.mark.usefixtures("own_registry")


@pytest.fixture(autouse=True)
def _models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DREAMLAB_MODELS", str(tmp_path / "models"))
    return tmp_path / "models"


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What ``dreamlab train -o FILE`` writes (one short epoch on the shapes)."""
    out = tmp_path_factory.mktemp("cli-train") / "shapes.pt"
    argv = ["train", "--epochs", "1", "--train-size", "100", "--seed", "3", "-o", str(out)]
    assert main(argv) == 0
    return out


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_error(code: int, err: str) -> str:
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def _labels(out: str) -> list[str]:
    return [line.split("\t")[0] for line in out.splitlines()]


def test_weights_file_on_classify_uses_the_file_and_its_classes(
    weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        capsys,
        "classify",
        COFFEE,
        "--model",
        "tiny_cnn",
        "--weights",
        str(weights),
        "--top",
        "10",
        "--device",
        "cpu",
    )
    assert code == 0 and err == ""
    assert sorted(_labels(out)) == sorted(SHAPES_CLASSES)  # the checkpoint's classes
    code, again, _ = _run(
        capsys, "classify", COFFEE, "--model", "tiny_cnn", "--weights", str(weights), "--top", "10"
    )
    assert again == out  # the file's weights, not a random initialisation


def test_weights_file_on_layers_dream_and_visualize(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w = ["--model", "tiny_cnn", "--weights", str(weights)]
    code, out, _ = _run(capsys, "layers", "tiny_cnn", "--weights", str(weights))
    assert code == 0 and "relu2\t(default)" in out
    dream = tmp_path / "d.png"
    code, out, err = _run(
        capsys,
        "dream",
        "noise",
        "-o",
        str(dream),
        *w,
        "--iterations",
        "2",
        "--octaves",
        "1",
        "--max-side",
        "64",
        "--seed",
        "1",
    )
    assert code == 0 and dream.is_file(), err
    vis = tmp_path / "v.png"
    code, out, err = _run(
        capsys, "visualize", "-o", str(vis), *w, "--layer", "conv2", "--steps", "2", "--size", "32"
    )
    assert code == 0 and vis.is_file(), err


@pytest.mark.parametrize("command", ["classify", "layers", "dream", "visualize"])
def test_a_wrong_weights_file_is_one_line_exit_2(
    command: str, weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not weights at all")
    other = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    argv = {
        "classify": ["classify", COFFEE, "--model", "tiny_cnn"],
        "layers": ["layers", "tiny_cnn"],
        "dream": ["dream", "noise", "-o", str(tmp_path / "d.png"), "--model", "tiny_cnn"],
        "visualize": [
            "visualize",
            "-o",
            str(tmp_path / "v.png"),
            "--model",
            "tiny_cnn",
            "--layer",
            "conv1",
        ],
    }[command]
    assert "not a PyTorch weights file" in _one_error(
        *_run(capsys, *argv, "--weights", str(junk))[::2]
    )
    assert "do not fit" in _one_error(*_run(capsys, *argv, "--weights", str(other))[::2])
    missing = _one_error(*_run(capsys, *argv, "--weights", str(tmp_path / "none.pt"))[::2])
    assert "cannot read the weights file none.pt" in missing
    assert not (tmp_path / "d.png").exists() and not (tmp_path / "v.png").exists()


def test_a_checkpoint_for_the_wrong_architecture_is_refused(
    weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "classify", COFFEE, "--weights", str(weights))
    assert "do not fit EfficientNet-Lite0" in _one_error(code, err)


def test_train_save_lists_the_model_and_it_works_as_model_name(
    _models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        capsys, "train", "--epochs", "1", "--train-size", "100", "--save", "class_shapes"
    )
    assert code == 0, err
    assert out.splitlines()[-1] == (
        "saved for everyone as the model class_shapes (use --model class_shapes)"
    )
    assert (_models_dir / "class_shapes.pt").is_file()
    from dreamlab.models import registry

    registry._REGISTRY.pop("class_shapes")  # a new process: found again from the folder
    code, out, _ = _run(capsys, "models")
    rows = {line.split("\t")[0]: line.split("\t") for line in out.splitlines()}
    assert rows["class_shapes"][1] == "cached" and "Shapes" in rows["class_shapes"][-1]
    code, out, _ = _run(capsys, "classify", COFFEE, "--model", "class_shapes", "--top", "10")
    assert code == 0 and sorted(_labels(out)) == sorted(SHAPES_CLASSES)
    code, out, _ = _run(capsys, "layers", "class_shapes")
    assert code == 0 and out.splitlines()[0] == "conv1"
    vis = tmp_path / "v.png"
    argv = [
        "visualize",
        "-o",
        str(vis),
        "--model",
        "class_shapes",
        "--layer",
        "conv2",
        "--steps",
        "2",
        "--size",
        "32",
    ]
    assert main(argv) == 0 and vis.is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--save", "a b"], "error: a model name is 1 to 40 letters"),
        (["--save", "efficientnet_lite0"], "error: a model named efficientnet_lite0 already"),
        ([], "error: say where the trained model goes"),
    ],
)
def test_train_save_refuses_a_bad_or_taken_name_before_training(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "train", *argv)
    assert _one_error(code, err).startswith(message)
    assert out == ""  # refused before the first epoch
