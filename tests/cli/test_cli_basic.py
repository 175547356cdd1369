"""The CLI's basic commands: models, layers, classify; bad input is one ``error:`` line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dreamlab.cli import main
from tests.conftest import ROOT, SAMPLES

COFFEE = str(SAMPLES / "coffee.png")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_error(code: int, out: str, err: str) -> str:
    """Exit 2, nothing on stdout, exactly one stderr line ``error: ...``, no traceback."""
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and len(lines[0]) > len("error: ")
    assert "Traceback" not in err
    return lines[0]


def test_models_lists_every_model_with_its_status(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "models")
    assert code == 0 and err == ""
    rows = {line.split("\t")[0]: line.split("\t") for line in out.splitlines()}
    names = ["efficientnet_lite0", "vgg19", "vgg16", "googlenet", "resnet50", "alexnet", "tiny_cnn"]
    assert set(names) <= set(rows)
    assert out.splitlines()[0].startswith("efficientnet_lite0\tembedded\t")
    assert rows["vgg19"][1] == "unavailable" and "offline" in rows["vgg19"][-1]
    assert rows["efficientnet_lite0"][3] == "18 layers"
    statuses = ("embedded", "cached", "downloadable", "unavailable", "untrained")
    assert all(row[1] in statuses for row in rows.values())
    assert rows["tiny_cnn"][1] == "untrained"  # random weights are not "embedded"


def test_layers_marks_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "layers", "efficientnet_lite0")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == 18
    assert lines[0] == "_stem_act" and lines[-1] == "_head_act"
    marked = [line for line in lines if "(default)" in line]
    assert marked == ["_blocks.9\t(default)"]


def test_layers_of_vgg19_needs_no_weights(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "layers", "vgg19")
    assert code == 0
    assert "features.26\t(default)" in out.splitlines()


def test_classify_coffee(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "classify", COFFEE, "--device", "cpu")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("espresso\t0.")
    probs = []
    for line in lines:
        label, prob = line.split("\t")
        assert label and len(prob) == 6  # "0.xxxx"
        probs.append(float(prob))
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001


def test_classify_top(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "classify", COFFEE, "--top", "2", "--device", "cpu")
    assert code == 0 and len(out.splitlines()) == 2


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["classify", "nowhere.png"], "no such file"),
        (["classify", COFFEE, "--model", "vgg99"], "unknown model"),
        (["classify", COFFEE, "--model", "vgg19"], "offline"),
        (["classify", COFFEE, "--top", "0"], "--top"),
        (["classify", COFFEE, "--top", "many"], "--top"),
        (["classify", COFFEE, "--device", "tpu"], "unknown device"),
        (["classify"], "required"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
        (["layers", "vgg99"], "unknown model"),
    ],
)
def test_bad_input_is_one_error_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    line = _assert_error(*_run(capsys, *argv))
    assert needle in line


def test_text_file_as_image(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_text("not a photo\n")
    line = _assert_error(*_run(capsys, "classify", str(path)))
    assert "photo.jpg" in line and "not an image" in line


def test_truncated_image(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = Path(COFFEE).read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 3])
    _assert_error(*_run(capsys, "classify", str(path)))


def test_an_unexpected_failure_is_still_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dreamlab.models

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something deep broke\nwith a second line")

    monkeypatch.setattr(dreamlab.models, "list_models", explode)
    monkeypatch.delenv("DREAMLAB_DEBUG", raising=False)
    line = _assert_error(*_run(capsys, "models"))
    assert "RuntimeError: something deep broke" in line


def test_version_and_help_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--version")
    assert code == 0 and out.startswith("dreamlab ")
    code, out, _ = _run(capsys, "classify", "--help")
    assert code == 0 and "--top" in out


def test_python_m_dreamlab_models(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DREAMLAB_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "TORCH_HOME": str(tmp_path / "torch"),
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "dreamlab", "models"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("efficientnet_lite0\tembedded")
    assert "vgg19\tunavailable" in proc.stdout


def test_python_m_dreamlab_bad_input_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "DREAMLAB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "dreamlab", "layers", "nope"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1
