"""``dreamlab visualize``: a PNG carrying its parameters, and one-line errors with status 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dreamlab.cli import main
from dreamlab.media import read_png_params


def test_visualize_writes_a_png_with_its_parameters(tmp_path: Path, capsys) -> None:
    out = tmp_path / "vis.png"
    argv = [
        "visualize",
        "-o",
        str(out),
        "--model",
        "tiny_cnn",
        "--layer",
        "conv2",
        "--channel",
        "3",
        "--steps",
        "3",
        "--size",
        "24",
        "--seed",
        "5",
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    img = np.asarray(Image.open(out))
    assert img.shape == (24, 24, 3)
    params = read_png_params(out)
    assert params is not None
    assert params["objective"] == "channel(conv2:3)" and params["model"] == "tiny_cnn"
    assert (params["steps"], params["size"], params["seed"], params["param"]) == (3, 24, 5, "fft")
    assert params["decorrelate"] and params["transforms"] and "version" in params
    assert "channel(conv2:3)" in capsys.readouterr().out


def test_same_parameters_give_the_same_pixels(tmp_path: Path) -> None:
    # the embedded model (fixed weights; the untrained tiny CNN gets new ones on every load)
    argv = [
        "visualize",
        "--layer",
        "_blocks.3",
        "--channel",
        "7",
        "--steps",
        "2",
        "--size",
        "32",
        "--seed",
        "3",
        "--device",
        "cpu",
        "--no-upsample",
        "-o",
    ]
    assert main([*argv, str(tmp_path / "a.png")]) == 0
    assert main([*argv, str(tmp_path / "b.png")]) == 0
    a, b = (np.asarray(Image.open(tmp_path / n)) for n in ("a.png", "b.png"))
    assert np.array_equal(a, b)


def test_naive_run_whole_layer_and_class(tmp_path: Path) -> None:
    base = ["--model", "tiny_cnn", "--steps", "2", "--size", "16", "--device", "cpu"]
    naive = tmp_path / "naive.png"
    assert (
        main(
            [
                "visualize",
                "-o",
                str(naive),
                "--layer",
                "conv1",
                "--param",
                "pixel",
                "--no-decorrelate",
                "--no-transforms",
                *base,
            ]
        )
        == 0
    )
    p = read_png_params(naive)
    assert p["objective"] == "layer(conv1)" and p["param"] == "pixel" and not p["transforms"]
    cls = tmp_path / "class.png"
    assert main(["visualize", "-o", str(cls), "--layer", "logits", "--channel", "3", *base]) == 0
    assert read_png_params(cls)["objective"] == "class(3)"
    neuron = tmp_path / "neuron.png"
    assert (
        main(
            [
                "visualize",
                "-o",
                str(neuron),
                "--layer",
                "conv2",
                "--channel",
                "1",
                "--neuron",
                *base,
            ]
        )
        == 0
    )
    assert read_png_params(neuron)["objective"] == "neuron(conv2:1)"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--layer", "nope"], "valid layers: conv1"),
        (["--layer", "conv2", "--channel", "16"], "conv2 has 16 channels"),
        (["--layer", "logits"], "needs a class number"),
        (["--layer", "conv2", "--size", "5000"], "size must be between"),
        (["--layer", "conv2", "--lr", "nan"], "finite"),
        (["--layer", "conv2", "--neuron"], "--neuron needs --channel"),
        (["--layer", "conv2", "--steps", "0"], "at least 1"),
    ],
)
def test_bad_input_is_one_line_and_status_2(tmp_path: Path, capsys, extra, message) -> None:
    out = tmp_path / "x.png"
    code = main(["visualize", "-o", str(out), "--model", "tiny_cnn", "--device", "cpu", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not out.exists()


def test_wrong_suffix_or_missing_folder(tmp_path: Path, capsys) -> None:
    for target in [tmp_path / "x.jpg", tmp_path / "no" / "such" / "x.png"]:
        assert (
            main(["visualize", "-o", str(target), "--layer", "conv2", "--model", "tiny_cnn"]) == 2
        )
        assert capsys.readouterr().err.startswith("error: ")
