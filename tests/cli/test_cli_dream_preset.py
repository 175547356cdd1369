"""``dreamlab dream --preset``: a preset's own network or one line saying which weights are missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from dreamlab.cli import main
from dreamlab.dream.config import PRESETS
from dreamlab.media import read_png_params
from tests.conftest import SAMPLES


@pytest.mark.parametrize(("preset", "weights"), [("seed", "vgg19-"), ("google2015", "googlenet-")])
def test_preset_without_its_weights_exits_2_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], preset: str, weights: str
) -> None:
    out = tmp_path / "x.png"
    assert main(["dream", str(SAMPLES / "coffee.png"), "-o", str(out), "--preset", preset]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: preset ")
    assert weights in err[0] and "download" in err[0] and "--model efficientnet_lite0" in err[0]
    assert not out.exists()


def test_preset_with_an_explicit_model_dreams_on_that_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.png"
    argv = [
        "dream",
        str(SAMPLES / "coffee.png"),
        "-o",
        str(out),
        "--preset",
        "seed",
        "--model",
        "efficientnet_lite0",
        "--octaves",
        "1",
        "--iterations",
        "1",
        "--max-side",
        "96",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    params = read_png_params(out.read_bytes())
    assert params["preset"] is None  # never labelled with the preset while on another network
    assert params["targets"] == [["_blocks.9", 1.0]]  # the model's default layer
    assert params["config"]["octave_scale"] == 2.0  # the preset's own settings


def test_fallbacks_are_layers_of_their_model(lite0) -> None:
    for preset in PRESETS.values():
        if preset.model is not None:
            assert preset.fallback is not None and preset.fallback.why
            assert preset.fallback.layer in lite0.layers
            assert preset.label_for(preset.fallback.model) is None
            assert preset.label_for(preset.model) == preset.name
