"""dreamlab.convolution against scipy, numpy.pad and torch, plus presets, parsing, display and CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy import signal

from dreamlab.cli import main
from dreamlab.convolution import (
    BOUNDARIES,
    PRESETS,
    ConvConfig,
    KernelError,
    colorbar,
    convolve,
    display_limits,
    normalize_sum,
    output_shape,
    output_size,
    pad_amounts,
    parse_kernel,
    preset_kernel,
    sample_padded,
    to_display,
    to_gray,
    window,
)
from tests.conftest import SAMPLES

NP_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _dilate(kernel: np.ndarray, d: int) -> np.ndarray:
    """Insert d-1 zeros between taps: a dilated kernel as a plain (larger) kernel."""
    kh, kw = kernel.shape
    out = np.zeros((d * (kh - 1) + 1, d * (kw - 1) + 1), dtype=np.float64)
    out[::d, ::d] = kernel
    return out


def _reference(img, ker, stride, pad, dilation, boundary):
    """numpy.pad with the boundary's numpy mode, scipy's valid correlation, then subsample."""
    padded = np.pad(img.astype(np.float64), pad, mode=NP_MODE[boundary])
    full = signal.correlate2d(padded, _dilate(ker.astype(np.float64), dilation), mode="valid")
    return full[::stride, ::stride]


# ---------------------------------------------------------------- against scipy


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_matches_scipy_valid_full_and_same(k: int) -> None:
    rng = _rng(k)
    img = rng.random((13, 17)).astype(np.float32)
    ker = rng.standard_normal((k, k)).astype(np.float32)
    pairs = [
        (convolve(img, ker), signal.correlate2d(img, ker, mode="valid")),
        (convolve(img, ker, padding=k - 1), signal.correlate2d(img, ker, mode="full")),
        (convolve(img, ker, padding="same"), signal.correlate2d(img, ker, mode="same")),
        (convolve(img, ker, mode="convolve"), signal.convolve2d(img, ker, mode="valid")),
        (
            convolve(img, ker, padding="same", mode="convolve"),
            signal.convolve2d(img, ker, mode="same"),
        ),
        (
            convolve(img, ker, padding=k - 1, mode="convolve"),
            signal.convolve2d(img, ker, mode="full"),
        ),
    ]
    for ours, theirs in pairs:
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_rectangular_kernel_and_uint8_image_keep_pixel_units() -> None:
    img = _rng(1).integers(0, 256, (20, 30), dtype=np.uint8)
    ker = np.array([[1.0, -2.0, 0.5]])  # 1 x 3
    expected = signal.correlate2d(np.pad(img.astype(float), 1), ker, mode="valid")
    assert expected.shape == (22, 30)
    np.testing.assert_allclose(convolve(img, ker, padding=1), expected, atol=1e-3)


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(6, 16),
    w=st.integers(6, 16),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    stride=st.integers(1, 3),
    pad=st.integers(0, 3),
    dilation=st.integers(1, 2),
    boundary=st.sampled_from(BOUNDARIES),
    seed=st.integers(0, 2**16),
)
def test_matches_numpy_pad_reference(h, w, kh, kw, stride, pad, dilation, boundary, seed) -> None:
    assume(
        dilation * (max(kh, kw) - 1) + 1 <= min(h, w) + 2 * pad
    )  # the kernel fits (else refused)
    rng = _rng(seed)
    img = rng.random((h, w)).astype(np.float32)
    ker = rng.standard_normal((kh, kw)).astype(np.float32)
    ours = convolve(img, ker, stride=stride, padding=pad, dilation=dilation, boundary=boundary)
    ref = _reference(img, ker, stride, pad, dilation, boundary)
    assert ours.shape == ref.shape
    assert ours.shape == (
        output_size(h, kh, stride, pad, dilation),
        output_size(w, kw, stride, pad, dilation),
    )
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("stride", "pad", "dilation"), [(1, 0, 1), (2, 1, 1), (3, 2, 2), (1, 4, 3)]
)
def test_matches_torch_conv2d(stride: int, pad: int, dilation: int) -> None:
    rng = _rng(stride * 10 + pad)
    img = rng.random((19, 23, 3)).astype(np.float32)
    ker = rng.standard_normal((3, 3, 3)).astype(np.float32)
    x = torch.from_numpy(img).permute(2, 0, 1)[None]  # (1, 3, H, W)
    w = torch.from_numpy(ker).permute(2, 0, 1)[None]  # (1, 3, kh, kw)
    ref = F.conv2d(x, w, stride=stride, padding=pad, dilation=dilation)[0, 0].numpy()
    ours = convolve(img, ker, stride=stride, padding=pad, dilation=dilation)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_large_kernels_take_the_conv2d_path_and_agree() -> None:
    rng = _rng(3)
    img = rng.random((30, 28, 2)).astype(np.float32)
    ker = rng.standard_normal((15, 13)).astype(np.float32)  # 195 taps: the dense path
    ours = convolve(img, ker, padding=2, stride=2)
    for c in range(2):
        ref = _reference(img[:, :, c], ker, 2, 2, 1, "zeros")
        np.testing.assert_allclose(ours[:, :, c], ref, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- channels


def test_per_channel_kernel_keeps_channels_apart() -> None:
    img = _rng(4).random((12, 14, 3)).astype(np.float32)
    ker = preset_kernel("sobel_x")
    out = convolve(img, ker, padding=1)
    assert out.shape == (12, 14, 3)
    for c in range(3):
        np.testing.assert_allclose(out[:, :, c], convolve(img[:, :, c], ker, padding=1), atol=1e-5)


def test_multichannel_kernel_sums_the_per_channel_products() -> None:
    img = _rng(5).integers(0, 256, (16, 18, 3), dtype=np.uint8)
    kernels = [preset_kernel(n) for n in ("horizontal_edge", "vertical_edge", "laplacian")]
    out = convolve(img, np.stack(kernels, axis=-1), stride=2, padding="same")
    parts = [convolve(img[:, :, c], kernels[c], stride=2, padding="same") for c in range(3)]
    assert out.shape == (8, 9)
    np.testing.assert_allclose(out, sum(parts), atol=1e-3)


def test_wrong_channel_count_is_one_line() -> None:
    with pytest.raises(KernelError, match="3 channels") as exc:
        convolve(np.zeros((8, 8)), np.zeros((3, 3, 3)))
    assert "\n" not in str(exc.value)


def test_to_gray_uses_luma_weights() -> None:
    img = np.zeros((2, 2, 3), dtype=np.uint8)
    img[..., 1] = 100
    np.testing.assert_allclose(to_gray(img), 58.7, rtol=1e-5)


# ---------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("n", "k", "s", "p", "d"),
    [(32, 3, 1, 0, 1), (32, 5, 2, 2, 1), (31, 3, 3, 1, 2), (7, 7, 1, 0, 1)],
)
def test_output_size_is_pytorch_formula(n: int, k: int, s: int, p: int, d: int) -> None:
    expected = (n + 2 * p - d * (k - 1) - 1) // s + 1
    assert output_size(n, k, s, p, d) == expected
    conv = torch.nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)
    assert conv(torch.zeros(1, 1, n, n)).shape[-1] == expected


@pytest.mark.parametrize(
    ("n", "k", "s", "d"), [(10, 3, 1, 1), (10, 4, 1, 1), (11, 3, 2, 1), (9, 3, 3, 2)]
)
def test_same_padding_gives_ceil_n_over_s(n: int, k: int, s: int, d: int) -> None:
    before, after = pad_amounts(n, k, s, "same", d)
    assert after - before in (0, 1)
    assert pad_amounts(n, k, s, "same", d, mode="convolve") == (after, before)
    out = convolve(np.ones((n, n)), np.ones((k, k)), stride=s, padding="same", dilation=d)
    assert out.shape == (-(-n // s),) * 2
    assert output_shape((n, n, 3), (k, k), ConvConfig(s, "same", d)) == (-(-n // s),) * 2 + (3,)


def test_valid_is_zero_padding() -> None:
    img = _rng(6).random((9, 9))
    np.testing.assert_array_equal(
        convolve(img, np.ones((3, 3)), padding="valid"), convolve(img, np.ones((3, 3)), padding=0)
    )


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("image", "kernel", "kwargs", "match"),
    [
        (np.zeros((8, 8)), [[np.nan, 0], [0, 0]], {}, "NaN"),
        (np.zeros((8, 8)), [[np.inf]], {}, "NaN or infinite"),
        (np.full((8, 8), np.nan), np.ones((3, 3)), {}, "NaN"),
        (np.zeros((8, 8)), np.zeros((0, 3)), {}, "empty"),
        (np.zeros((4, 4)), np.ones((7, 7)), {"padding": 1}, "padded image"),
        (np.zeros((8, 8)), np.ones((3, 3)), {"stride": 0}, "stride"),
        (np.zeros((8, 8)), np.ones((3, 3)), {"dilation": 0}, "dilation"),
        (np.zeros((8, 8)), np.ones((3, 3)), {"padding": -1}, "padding"),
        (np.zeros((8, 8)), np.ones((3, 3)), {"padding": "full"}, "padding"),
        (np.zeros((8, 8)), np.ones((3, 3)), {"stride": 1.5}, "whole number"),
        (np.zeros((8, 8)), np.ones((3, 3)), {"stride": True}, "whole number"),
        (np.zeros((8, 8)), np.ones((3, 3)), {"mode": "flip"}, "mode"),
        (np.zeros((8, 8)), np.ones((3, 3)), {"boundary": "mirror"}, "boundary"),
        (np.zeros((4, 4)), np.ones((9, 9)), {"padding": 4, "boundary": "reflect"}, "reflect"),
        (np.zeros((4, 4)), np.ones((11, 11)), {"padding": 5, "boundary": "circular"}, "circular"),
        (np.zeros((8, 8)), np.ones((3, 3, 3, 3)), {}, "kh x kw"),
        (np.zeros((8, 8)), [["a", "b"]], {}, "numbers"),
        (np.zeros((8, 8)), np.full((3, 3), 1e9), {}, "1e6"),
        (np.zeros((8, 8)), np.ones((64, 64)), {}, "largest side"),
        (np.array(["x"]), np.ones((3, 3)), {}, "real numbers"),
        (np.zeros((2, 2, 2, 2)), np.ones((1, 1)), {}, "H x W"),
    ],
)
def test_bad_input_is_one_line(image, kernel, kwargs, match: str) -> None:
    with pytest.raises(ValueError, match=match) as exc:
        convolve(image, kernel, **kwargs)
    assert "\n" not in str(exc.value)


def test_kernel_problems_are_kernel_errors() -> None:
    with pytest.raises(KernelError):
        convolve(np.zeros((8, 8)), [[float("nan")]])
    assert issubclass(KernelError, ValueError)


# ---------------------------------------------------------------- the pixel inspector


@settings(max_examples=60, deadline=None)
@given(
    stride=st.integers(1, 3),
    padding=st.sampled_from([0, 1, 2, "same"]),
    dilation=st.integers(1, 2),
    boundary=st.sampled_from(BOUNDARIES),
    mode=st.sampled_from(["correlate", "convolve"]),
    k=st.sampled_from([1, 2, 3, 5]),
    seed=st.integers(0, 2**16),
)
def test_window_sum_equals_output_pixel(stride, padding, dilation, boundary, mode, k, seed) -> None:
    rng = _rng(seed)
    img = rng.integers(0, 256, (11, 13, 3), dtype=np.uint8)
    ker = rng.standard_normal((k, k)).astype(np.float32)
    cfg = {
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "mode": mode,
        "boundary": boundary,
    }
    out = convolve(img, ker, **cfg)
    i, j, c = rng.integers(out.shape[0]), rng.integers(out.shape[1]), rng.integers(3)
    win = window(img, ker, int(i), int(j), channel=int(c), **cfg)
    assert win.values.shape == win.weights.shape == (k, k)
    assert win.total == pytest.approx(float(out[i, j, c]), rel=1e-4, abs=1e-2)
    assert win.products.sum() == pytest.approx(win.total, rel=1e-4, abs=1e-2)


def test_window_of_a_multichannel_kernel_and_its_coordinates() -> None:
    img = _rng(7).integers(0, 256, (10, 10, 3), dtype=np.uint8)
    ker = _rng(8).standard_normal((3, 3, 3)).astype(np.float32)
    out = convolve(img, ker, padding=1, stride=2)
    win = window(img, ker, 0, 4, padding=1, stride=2)
    assert win.values.shape == (3, 3, 3)
    np.testing.assert_array_equal(win.rows, [-1, 0, 1])
    np.testing.assert_array_equal(win.cols, [7, 8, 9])
    assert win.values[0].sum() == 0  # row -1 is zero padding
    assert win.total == pytest.approx(float(out[0, 4]), rel=1e-5)


def test_window_refuses_pixels_outside_the_output() -> None:
    with pytest.raises(ValueError, match="outside"):
        window(np.zeros((8, 8)), np.ones((3, 3)), 6, 0)


def test_sample_padded_matches_numpy_pad() -> None:
    img = np.arange(20).reshape(4, 5)
    for boundary, mode in NP_MODE.items():
        ref = np.pad(img, 3, mode=mode)
        got = sample_padded(img, np.arange(-3, 7), np.arange(-3, 8), boundary)
        np.testing.assert_array_equal(got, ref)


# ---------------------------------------------------------------- presets and parsing


def test_seed_horizontal_edge_and_the_fixed_presets() -> None:
    np.testing.assert_array_equal(
        preset_kernel("horizontal_edge"), [[-1, -1, -1], [0, 0, 0], [1, 1, 1]]
    )
    np.testing.assert_array_equal(preset_kernel("vertical_edge"), preset_kernel("prewitt_x"))
    np.testing.assert_array_equal(preset_kernel("sobel_x"), [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(preset_kernel("sobel_y"), preset_kernel("sobel_x").T)
    np.testing.assert_array_equal(preset_kernel("laplacian"), [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    assert preset_kernel("sharpen").sum() == 1
    assert preset_kernel("outline").sum() == 0


def test_sobel_5_is_opencvs() -> None:
    row = [-1, -2, 0, 2, 1]
    expected = np.outer([1, 4, 6, 4, 1], [1, 2, 0, -2, -1]) * -1
    np.testing.assert_array_equal(preset_kernel("sobel_x", 5)[0], row)
    np.testing.assert_array_equal(preset_kernel("sobel_x", 5), expected)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_and_behaves(name: str) -> None:
    sizes = [3, 5, 11] if PRESETS[name].sized else [3]
    for size in sizes:
        ker = preset_kernel(name, size)
        assert ker.shape == (size, size) and ker.dtype == np.float32
        assert np.isfinite(ker).all()
        if name in ("box_blur", "gaussian_blur", "identity", "sharpen"):
            assert ker.sum() == pytest.approx(1.0, abs=1e-5)
        if "edge" in name or name.startswith(("sobel", "prewitt", "laplacian")):
            assert ker.sum() == pytest.approx(0.0, abs=1e-5)  # a flat image gives 0
    flat = np.full((12, 12), 50.0)
    np.testing.assert_allclose(convolve(flat, preset_kernel("gaussian_blur", 5)), 50.0, atol=1e-3)


def test_identity_leaves_the_image_unchanged() -> None:
    img = _rng(9).integers(0, 256, (9, 9, 3), dtype=np.uint8)
    np.testing.assert_array_equal(convolve(img, preset_kernel("identity"), padding=1), img)


def test_gaussian_sigma_and_size_errors() -> None:
    wide, narrow = preset_kernel("gaussian_blur", 7, 3.0), preset_kernel("gaussian_blur", 7, 0.5)
    assert wide[3, 3] < narrow[3, 3]
    np.testing.assert_allclose(wide, wide.T)
    for bad in [
        lambda: preset_kernel("sharpen", 5),
        lambda: preset_kernel("box_blur", 4),
        lambda: preset_kernel("box_blur", 13),
        lambda: preset_kernel("box_blur", 3, 1.0),
        lambda: preset_kernel("gaussian_blur", 3, float("nan")),
        lambda: preset_kernel("nope"),
    ]:
        with pytest.raises(KernelError):
            bad()


def test_parse_kernel_presets_and_json() -> None:
    np.testing.assert_array_equal(parse_kernel(" sobel_x "), preset_kernel("sobel_x"))
    np.testing.assert_array_equal(parse_kernel("box_blur:5"), preset_kernel("box_blur", 5))
    np.testing.assert_array_equal(
        parse_kernel("gaussian_blur:5:1.5"), preset_kernel("gaussian_blur", 5, 1.5)
    )
    np.testing.assert_array_equal(parse_kernel("[[1, 2], [3, 4.5]]"), [[1, 2], [3, 4.5]])
    three = parse_kernel("[[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 10], [11, 12]]]")
    assert three.shape == (2, 2, 3)  # written per channel, stored kh x kw x C
    np.testing.assert_array_equal(three[:, :, 1], [[5, 6], [7, 8]])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("blur", "neither a preset"),
        ("[[1, 2], [3", "not valid JSON"),
        ("[[1, 2], [3]]", "same length"),
        ('[["a"]]', "only numbers"),
        ("[[true]]", "only numbers"),
        ("[[null]]", "only numbers"),
        ("[[NaN, 1]]", "NaN"),
        ("[1, 2, 3]", "1 dimension"),
        ("[[[[1]]]]", "4 dimension"),
        ("[]", "1 dimension"),
        ("box_blur:x", "numbers"),
        ("box_blur:3:1:2", "name"),
    ],
)
def test_parse_kernel_errors(text: str, match: str) -> None:
    with pytest.raises(KernelError, match=match) as exc:
        parse_kernel(text)
    assert "\n" not in str(exc.value)


def test_normalize_sum() -> None:
    assert normalize_sum(np.ones((3, 3))).sum() == pytest.approx(1.0)
    np.testing.assert_allclose(normalize_sum([[1, 2], [3, 4]]), np.array([[1, 2], [3, 4]]) / 10)
    with pytest.raises(KernelError, match="sums to 0"):
        normalize_sum(preset_kernel("laplacian"))


def test_config_to_dict_is_json() -> None:
    cfg = ConvConfig(np.int64(2), np.int64(1), 1, "convolve", "reflect")
    assert json.loads(json.dumps(cfg.to_dict())) == {
        "stride": 2,
        "padding": 1,
        "dilation": 1,
        "mode": "convolve",
        "boundary": "reflect",
    }


# ---------------------------------------------------------------- display


def test_signed_view_is_zero_centred_and_never_black_for_negatives() -> None:
    out = np.array([[-10.0, 0.0, 5.0]], dtype=np.float32)
    assert display_limits(out, "signed") == (-10.0, 10.0)
    pic = to_display(out, "signed")
    assert pic.shape == (1, 3, 3) and pic.dtype == np.uint8
    neg, zero, pos = pic[0].astype(int)
    assert neg[2] > neg[0] and neg.sum() > 60  # blue, not black
    assert zero.min() > 200  # white at exactly 0
    assert pos[0] > pos[2]  # red


def test_abs_and_clip_views() -> None:
    out = np.array([[-100.0, 50.0, 300.0]], dtype=np.float32)
    np.testing.assert_array_equal(to_display(out, "abs")[0, :, 0], [85, 43, 255])
    np.testing.assert_array_equal(to_display(out, "clip")[0, :, 0], [0, 50, 255])
    assert display_limits(out, "abs") == (0.0, 300.0)
    assert display_limits(out, "clip") == (0.0, 255.0)
    assert display_limits(np.zeros((2, 2)), "signed") == (-1.0, 1.0)


def test_multichannel_results_display() -> None:
    out = _rng(10).standard_normal((5, 6, 3)).astype(np.float32)
    assert to_display(out, "abs").shape == (5, 6, 3)
    assert to_display(out, "signed").shape == (5, 3 * 6 + 2 * 4, 3)  # three maps side by side
    shared = to_display(out[:, :, 0], "signed", limits=(-100.0, 100.0))
    assert np.abs(shared.astype(int) - shared[0, 0]).max() < 20  # all near the zero colour
    with pytest.raises(ValueError, match="view"):
        to_display(out, "log")
    with pytest.raises(ValueError, match="limits"):
        to_display(out, "signed", limits=(1.0, 1.0))


def test_colorbar_ends() -> None:
    bar = colorbar("signed", (-3.0, 3.0), width=64, height=4)
    assert bar.shape == (4, 64, 3)
    assert bar[0, 0, 2] > bar[0, 0, 0] and bar[0, -1, 0] > bar[0, -1, 2]
    gray = colorbar("abs", (0.0, 7.0), width=16)
    assert gray[0, 0, 0] == 0 and gray[0, -1, 0] == 255


# ---------------------------------------------------------------- import and CLI


def test_import_does_no_work() -> None:
    code = (
        "import sys, dreamlab.convolution\n"
        "assert 'streamlit' not in sys.modules and 'matplotlib' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_convolve_writes_png_with_parameters(tmp_path, capsys) -> None:
    out = tmp_path / "edge.png"
    rc = main(
        [
            "convolve",
            str(SAMPLES / "chelsea.png"),
            "--kernel",
            "horizontal_edge",
            "-o",
            str(out),
            "--gray",
            "--padding",
            "same",
            "--stride",
            "2",
        ]
    )
    assert rc == 0
    with Image.open(out) as im:
        meta = json.loads(im.text["dreamlab"])
        assert im.size == (226, 150) and im.mode == "RGB"
    from dreamlab import __version__

    assert meta["version"] == __version__
    assert meta["kernel"] == "horizontal_edge" and meta["stride"] == 2 and meta["gray"] is True
    assert meta["weights"] == [[-1, -1, -1], [0, 0, 0], [1, 1, 1]]


def test_cli_json_kernel_signed_view(tmp_path) -> None:
    out = tmp_path / "lap.png"
    rc = main(
        [
            "convolve",
            str(SAMPLES / "coffee.png"),
            "--kernel",
            "[[0,1,0],[1,-4,1],[0,1,0]]",
            "-o",
            str(out),
            "--view",
            "signed",
            "--boundary",
            "reflect",
            "--padding",
            "1",
            "--rgb",
        ]
    )
    assert rc == 0
    with Image.open(out) as im:
        assert im.size == (3 * 600 + 8, 400)  # the three channel maps side by side


@pytest.mark.parametrize(
    "extra",
    [
        ["--kernel", "[[1, 2], [3"],
        ["--kernel", "not_a_kernel"],
        ["--kernel", "[[NaN]]"],
        ["--kernel", "[[[1]], [[2]], [[3]]]", "--gray"],
    ],
)
def test_cli_bad_kernel_exits_2_with_one_line(tmp_path, capsys, extra) -> None:
    out = tmp_path / "x.png"
    rc = main(["convolve", str(SAMPLES / "chelsea.png"), "-o", str(out), *extra])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not out.exists()


def test_cli_refuses_a_missing_folder(tmp_path, capsys) -> None:
    rc = main(
        [
            "convolve",
            str(SAMPLES / "chelsea.png"),
            "--kernel",
            "sobel_x",
            "-o",
            str(tmp_path / "nope" / "x.png"),
        ]
    )
    assert rc == 2 and "does not exist" in capsys.readouterr().err


def test_cli_refuses_non_png_output(tmp_path, capsys) -> None:
    rc = main(
        [
            "convolve",
            str(SAMPLES / "chelsea.png"),
            "--kernel",
            "sobel_x",
            "-o",
            str(tmp_path / "x.jpg"),
        ]
    )
    assert rc == 2 and ".png" in capsys.readouterr().err


def test_kernel_sum_reads_zero_for_a_laplacian_of_gaussian() -> None:
    from dreamlab.convolution import kernel_sum

    log = preset_kernel("laplacian_of_gaussian", 5)
    assert float(log.sum()) != 0.0  # float32 rounding: about 1e-8
    assert kernel_sum(log) == 0.0
    assert kernel_sum(preset_kernel("box_blur", 3)) == pytest.approx(1.0)
    assert kernel_sum(np.array([[1e-7, 0.0]])) == pytest.approx(1e-7)  # small but real: kept
