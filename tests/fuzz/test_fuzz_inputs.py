"""Hostile kernels, configs and command lines: a correct result or one clear line, never a traceback."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dreamlab.cli import main
from dreamlab.convolution import convolve, parse_kernel
from dreamlab.train.config import TrainConfig

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SAMPLE = str(Path(__file__).resolve().parents[2] / "dreamlab/assets/samples/chelsea.png")

_numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**40), 10**40)
_json_kernels = st.recursive(
    _numbers | st.text(max_size=3) | st.none() | st.booleans(),
    lambda inner: st.lists(inner, max_size=6),
    max_leaves=40,
)


def _one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text and "\n" not in text and "Traceback" not in text, repr(text)


@SETTINGS
@given(st.text(max_size=60))
def test_parse_kernel_random_text(text: str) -> None:
    try:
        k = parse_kernel(text)
    except ValueError as exc:
        _one_line(exc)
    else:
        assert np.isfinite(k).all() and k.ndim in (2, 3) and k.size > 0


@SETTINGS
@given(_json_kernels)
def test_parse_kernel_random_json(value: object) -> None:
    try:
        text = json.dumps(value)
    except ValueError:
        return
    try:
        k = parse_kernel(text)
    except ValueError as exc:
        _one_line(exc)
    else:
        assert np.isfinite(k).all()


def _valid_convolution(rows, stride, padding, dilation, boundary, mode) -> bool:
    """The documented valid arguments (the kernel's own limits aside)."""
    return (
        stride >= 1
        and dilation >= 1
        and (padding in ("same", "valid") or (isinstance(padding, int) and padding >= 0))
        and boundary in ("zeros", "reflect", "replicate", "circular")
        and mode in ("correlate", "convolve")
    )


@SETTINGS
@given(
    st.lists(st.lists(_numbers, min_size=1, max_size=5), min_size=1, max_size=5),
    st.integers(-2, 4),
    st.one_of(st.integers(-2, 6), st.sampled_from(["same", "valid", "bogus"])),
    st.integers(-1, 4),
    st.sampled_from(["zeros", "reflect", "replicate", "circular", "nope"]),
    st.sampled_from(["correlate", "convolve", "other"]),
)
def test_convolve_hostile_arguments(rows, stride, padding, dilation, boundary, mode) -> None:
    image = np.random.default_rng(0).random((20, 24)).astype(np.float32)
    valid = _valid_convolution(rows, stride, padding, dilation, boundary, mode)
    try:
        kernel = np.array(rows, dtype=np.float64)
        out = convolve(
            image,
            kernel,
            stride=stride,
            padding=padding,
            dilation=dilation,
            boundary=boundary,
            mode=mode,
        )
    except ValueError as exc:  # ragged rows, NaN, inf, bad sizes...
        _one_line(exc)
    else:
        assert valid, "accepted an argument documented as invalid"
        assert np.isfinite(kernel).all() and np.isfinite(out).all()
        if isinstance(padding, int):  # floor((H + 2p - d(k-1) - 1) / s) + 1 on each axis
            for n, k, got in zip(image.shape, kernel.shape, out.shape, strict=True):
                assert got == (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def _in(value: object, lo: float, hi: float) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and lo <= value <= hi
    )


@SETTINGS
@given(
    st.sampled_from(["shapes", "cifar10", "mnist", "nope", ""]),
    st.sampled_from(["sgd", "adam", "rmsprop"]),
    _numbers,
    _numbers,
    st.integers(-5, 10**7),
    st.integers(-5, 10**6),
)
def test_train_config_hostile_values(dataset, optimizer, lr, momentum, batch, epochs) -> None:
    # TrainConfig's documented ranges (dreamlab/train/loop.py); the data set need not be here yet
    valid = (
        dataset in ("shapes", "cifar10", "mnist")
        and optimizer in ("sgd", "adam")
        and _in(lr, 1e-6, 10.0)
        and _in(momentum, 0.0, 0.999)
        and 1 <= batch <= 4096
        and 1 <= epochs <= 1000
    )
    try:
        cfg = TrainConfig(
            dataset=dataset,
            optimizer=optimizer,
            lr=lr,
            momentum=momentum,
            batch_size=batch,
            epochs=epochs,
        )
    except ValueError as exc:
        _one_line(exc)
        assert not valid, f"refused documented-valid settings: {exc}"
    else:
        assert valid, "accepted a setting outside its documented range"
        assert (cfg.lr, cfg.momentum, cfg.batch_size, cfg.epochs) == (lr, momentum, batch, epochs)


_BAD_VALUES = ["-1", "0", "nan", "inf", "1e999", "abc", "", "3.5", "99999999999999999999"]
_OPTIONS = ["--stride", "--padding", "--dilation", "--mode", "--boundary", "--kernel"]


# the only (option, value) pairs of _BAD_VALUES documented as valid: no padding, and a stride
# larger than the image (one output pixel per axis)
_VALID = {("--padding", "0"), ("--stride", "99999999999999999999")}


@pytest.mark.parametrize("option", _OPTIONS)
def test_cli_convolve_bad_option_values(tmp_path, capsys, option: str) -> None:
    for value in _BAD_VALUES:
        out = tmp_path / "out.png"
        out.unlink(missing_ok=True)
        rc = main(["convolve", SAMPLE, "--kernel", "sobel_x", "-o", str(out), option, value])
        err = capsys.readouterr().err.strip()
        if (option, value) in _VALID:
            assert rc == 0 and out.is_file(), (option, value, err)
        else:  # refused, one line, and nothing written
            assert rc == 2 and err.startswith("error:") and "\n" not in err, (option, value, err)
            assert not out.exists(), (option, value)


@pytest.mark.parametrize(
    "argv",
    [
        ["dream", "/no/such.png", "-o", "x.png"],
        ["dream", SAMPLE, "-o", "x.txt", "--iterations", "1"],
        ["dream", SAMPLE, "-o", "x.png", "--layer", "nope"],
        ["dream", SAMPLE, "-o", "x.png", "--lr", "nan"],
        ["dream", SAMPLE, "-o", "x.png", "--octave-scale", "0.5"],
        ["dream", SAMPLE, "-o", "x.png", "--model", "vgg19"],
        ["visualize", "-o", "x.png", "--layer", "nope"],
        ["visualize", "-o", "x.png", "--layer", "_blocks.9", "--channel", "100000"],
        ["visualize", "-o", "x.png", "--layer", "_blocks.9", "--size", "0"],
        ["train", "-o", "/no/such/dir/m.pt", "--epochs", "1"],
        ["train", "-o", "m.pt", "--lr", "-1"],
        ["train", "-o", "m.pt", "--dataset", "cifar10"],
        ["classify", SAMPLE, "--model", "alexnet"],
        ["layers", "nope"],
        ["convolve", SAMPLE, "--kernel", "[[1, 2], [3]]", "-o", "x.png"],
        ["convolve", SAMPLE, "--kernel", "[[NaN]]", "-o", "x.png"],
        ["benchmark", "--json", "/no/such/dir/b.json", "--device", "tpu"],
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, monkeypatch, capsys, argv: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DREAMLAB_DEBUG", "")
    argv = [
        a if a != SAMPLE else str(__import__("pathlib").Path(__file__).parents[2] / SAMPLE)
        for a in argv
    ]
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, (rc, err)
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
