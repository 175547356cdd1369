"""images.py: every format the app accepts decodes to H x W x 3 uint8; bad input is one clear line."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dreamlab import images as di
from dreamlab.images import (
    ImageError,
    as_uint8,
    load_image,
    load_sample,
    resize_max_side,
    resize_tensor,
    sample_names,
    sample_path,
    to_tensor,
    to_uint8,
)

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def _encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _halves(w: int = 48, h: int = 32) -> Image.Image:
    """Left half red, right half blue: easy to check after any lossless decode."""
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:, : w // 2] = RED
    arr[:, w // 2 :] = BLUE
    return Image.fromarray(arr)


def _assert_rgb(arr: np.ndarray, shape: tuple[int, int]) -> None:
    assert arr.dtype == np.uint8
    assert arr.shape == (*shape, 3)
    assert arr.flags.c_contiguous


def _assert_one_line(exc: pytest.ExceptionInfo[ImageError]) -> str:
    msg = str(exc.value)
    assert msg and "\n" not in msg and "Traceback" not in msg
    return msg


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "GIF"])
def test_lossless_formats_decode_exactly(fmt: str) -> None:
    arr = load_image(_encode(_halves(), fmt)).array
    _assert_rgb(arr, (32, 48))
    assert tuple(arr[5, 5]) == RED and tuple(arr[5, 40]) == BLUE


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_lossy_formats_decode_close(fmt: str) -> None:
    arr = load_image(_encode(_halves(), fmt, quality=95)).array
    _assert_rgb(arr, (32, 48))
    assert np.abs(arr[8, 6].astype(int) - RED).max() < 30
    assert np.abs(arr[8, 42].astype(int) - BLUE).max() < 30


def test_webp_lossless_is_exact() -> None:
    arr = load_image(_encode(_halves(), "WEBP", lossless=True)).array
    assert tuple(arr[5, 5]) == RED and tuple(arr[5, 40]) == BLUE


def test_png_16bit_grayscale_scales_to_8bit() -> None:
    ramp = np.linspace(0, 65535, 32 * 48).reshape(32, 48).astype(np.uint16)  # (H, W)
    data = _encode(Image.fromarray(ramp), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")  # really a 16-bit file
    arr = load_image(data).array
    _assert_rgb(arr, (32, 48))
    assert arr[0, 0, 0] == 0 and arr[-1, -1, 0] == 255
    mid = arr[16, 24, 0]
    assert 100 < mid < 160  # half of 65535 is mid grey, not white (a naive clip gives 255)
    assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all()
    assert len(np.unique(arr)) > 200  # the ramp survives: not all white


def test_png_16bit_dark_image_stays_dark() -> None:
    dark = np.full((20, 20), 1000, np.uint16)  # 1.5 % of full scale
    arr = load_image(_encode(Image.fromarray(dark), "PNG")).array
    assert arr.max() <= 5


def _palette_image(transparent: int | None) -> bytes:
    idx = np.zeros((32, 48), np.uint8)
    idx[:, 24:] = 1
    img = Image.fromarray(idx, mode="P")
    img.putpalette([*RED, *BLUE] + [0, 0, 0] * 254)
    kwargs = {} if transparent is None else {"transparency": transparent}
    return _encode(img, "PNG", **kwargs)


def test_palette_png() -> None:
    data = _palette_image(None)
    assert Image.open(io.BytesIO(data)).mode == "P"
    arr = load_image(data).array
    _assert_rgb(arr, (32, 48))
    assert tuple(arr[0, 0]) == RED and tuple(arr[0, 47]) == BLUE


def test_palette_png_with_transparency_flattens_on_white() -> None:
    data = _palette_image(transparent=1)
    assert "transparency" in Image.open(io.BytesIO(data)).info
    arr = load_image(data).array
    assert tuple(arr[0, 0]) == RED and tuple(arr[0, 47]) == WHITE


def test_rgba_png_alpha_flattened_on_white() -> None:
    rgba = np.zeros((32, 48, 4), np.uint8)
    rgba[..., :3] = (0, 0, 0)
    rgba[:, :16, 3] = 255  # opaque black
    rgba[:, 16:32, 3] = 0  # fully transparent black -> white
    rgba[:, 32:, 3] = 128  # half transparent black -> mid grey
    arr = load_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG")).array
    _assert_rgb(arr, (32, 48))
    assert tuple(arr[0, 0]) == (0, 0, 0)
    assert tuple(arr[0, 20]) == WHITE
    assert 120 <= arr[0, 40, 0] <= 135


def test_grayscale_l_png() -> None:
    arr = load_image(_encode(Image.new("L", (40, 30), 77), "PNG")).array
    _assert_rgb(arr, (30, 40))
    assert (arr == 77).all()


def test_grayscale_la_png_alpha_flattened() -> None:
    la = np.zeros((30, 40, 2), np.uint8)
    la[..., 0] = 77
    la[:, 20:, 1] = 255  # right half opaque grey, left half transparent
    arr = load_image(_encode(Image.fromarray(la, "LA"), "PNG")).array
    assert tuple(arr[0, 0]) == WHITE and tuple(arr[0, 30]) == (77, 77, 77)


def test_animated_gif_gives_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), RED), Image.new("RGB", (32, 32), BLUE)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(buf.getvalue())).n_frames == 2
    arr = load_image(buf.getvalue()).array
    assert (arr == RED).all()


def test_animated_gif_pil_image_on_a_later_frame_gives_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), RED), Image.new("RGB", (32, 32), BLUE)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    img = Image.open(io.BytesIO(buf.getvalue()))
    img.seek(1)
    assert (load_image(img).array == RED).all()


def test_cmyk_jpeg() -> None:
    data = _encode(_halves().convert("CMYK"), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    arr = load_image(data).array
    _assert_rgb(arr, (32, 48))
    assert np.abs(arr[8, 6].astype(int) - RED).max() < 30
    assert np.abs(arr[8, 42].astype(int) - BLUE).max() < 30


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_orientation_is_applied(orientation: int) -> None:
    img = Image.new("RGB", (60, 40), WHITE)
    img.paste(RED, (0, 0, 10, 40))  # a red stripe down the left side
    exif = Image.Exif()
    exif[0x0112] = orientation
    arr = load_image(_encode(img, "JPEG", exif=exif, quality=95)).array
    _assert_rgb(arr, (60, 40))  # 60 wide x 40 high stored, shown 40 wide x 60 high
    # 6 = rotate 90 clockwise to display: the left stripe goes to the top; 8: to the bottom
    row = 2 if orientation == 6 else 57
    assert np.abs(arr[row, 20].astype(int) - RED).max() < 40


def test_path_stream_bytes_and_pil_agree(tmp_path: Path) -> None:
    data = _encode(_halves(), "PNG")
    path = tmp_path / "halves.png"
    path.write_bytes(data)
    ref = load_image(data).array
    assert load_image(path).name == "halves.png"
    np.testing.assert_array_equal(load_image(str(path)).array, ref)
    with path.open("rb") as stream:
        loaded = load_image(stream)
    assert loaded.name == "halves.png"
    np.testing.assert_array_equal(loaded.array, ref)
    np.testing.assert_array_equal(load_image(io.BytesIO(data)).array, ref)
    np.testing.assert_array_equal(load_image(bytearray(data)).array, ref)
    np.testing.assert_array_equal(load_image(_halves()).array, ref)


# ---------------------------------------------------------------- refusals


def test_text_file_named_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("these are my notes, not a picture\n")
    with pytest.raises(ImageError) as exc:
        load_image(path)
    msg = _assert_one_line(exc)
    assert "notes.png" in msg and "not an image" in msg


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageError) as exc:
        load_image(path)
    assert "empty" in _assert_one_line(exc)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as exc:
        load_image(tmp_path / "nowhere.png")
    assert "no such file" in _assert_one_line(exc)


def _noise(w: int = 64, h: int = 48) -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (h, w, 3), np.uint8))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("keep", [0.2, 0.5, 0.8])
def test_truncated_files(fmt: str, keep: float) -> None:
    data = _encode(_noise(), fmt)
    with pytest.raises(ImageError) as exc:
        load_image(data[: int(len(data) * keep)])
    _assert_one_line(exc)


def test_truncated_upload_keeps_its_name(tmp_path: Path) -> None:
    data = _encode(_noise(), "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError) as exc:
        load_image(path)
    msg = _assert_one_line(exc)
    assert msg.startswith("cut.jpg:") and "truncated" in msg


def test_decompression_bomb_png() -> None:
    # 100 megapixels in ~12 kB: a 1-bit image compresses to almost nothing.
    data = _encode(Image.new("1", (10_000, 10_000)), "PNG")
    assert len(data) < 100_000
    with pytest.raises(ImageError) as exc:
        load_image(data)
    msg = _assert_one_line(exc)
    assert "decompression bomb" in msg


def test_our_own_pixel_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(di, "MAX_PIXELS", 1000)
    data = _encode(Image.new("RGB", (40, 30)), "PNG")  # 1200 pixels
    with pytest.raises(ImageError) as exc:
        load_image(data)
    msg = _assert_one_line(exc)
    assert "40x30" in msg and "decompression bomb" in msg
    monkeypatch.setattr(di, "MAX_PIXELS", 1200)
    assert load_image(data).size == (40, 30)


@pytest.mark.parametrize("size", [(1, 1), (15, 40), (40, 15)])
def test_too_small(size: tuple[int, int]) -> None:
    with pytest.raises(ImageError) as exc:
        load_image(_encode(Image.new("RGB", size), "PNG"))
    msg = _assert_one_line(exc)
    assert f"{size[0]}x{size[1]}" in msg and "16 px" in msg


def test_smallest_allowed_side() -> None:
    assert load_image(_encode(Image.new("RGB", (16, 40)), "PNG")).array.shape == (40, 16, 3)


@pytest.mark.parametrize("bad", [None, 42, 3.5, ["a.png"], {"x": 1}])
def test_wrong_types_are_one_line(bad: object) -> None:
    with pytest.raises(ImageError) as exc:
        load_image(bad)  # type: ignore[arg-type]
    assert type(bad).__name__ in _assert_one_line(exc)


def test_text_mode_stream(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_text("not binary")
    with path.open("r") as stream, pytest.raises(ImageError) as exc:
        load_image(stream)
    _assert_one_line(exc)


# ---------------------------------------------------------------- resizing


def test_downsized_over_max_side_with_note() -> None:
    loaded = load_image(_encode(Image.new("RGB", (2000, 1000)), "PNG"), max_side=500)
    assert loaded.array.shape == (250, 500, 3)
    assert loaded.size == (500, 250)
    assert loaded.note is not None
    assert "2000x1000" in loaded.note and "500x250" in loaded.note


def test_default_max_side_and_no_resize_below_it() -> None:
    big = load_image(_encode(Image.new("RGB", (1500, 300)), "PNG"))
    assert max(big.array.shape[:2]) == di.DEFAULT_MAX_SIDE
    small = load_image(_encode(Image.new("RGB", (300, 200)), "PNG"))
    assert small.array.shape == (200, 300, 3) and small.note is None
    unbounded = load_image(_encode(Image.new("RGB", (1500, 300)), "PNG"), max_side=None)
    assert unbounded.array.shape == (300, 1500, 3) and unbounded.note is None


def test_resize_max_side_keeps_aspect_and_never_upsizes() -> None:
    arr = np.zeros((100, 300, 3), np.uint8)
    assert resize_max_side(arr, 150).shape == (50, 150, 3)
    assert resize_max_side(arr, 1000) is arr


# ---------------------------------------------------------------- arrays


def test_float_array_in_unit_range() -> None:
    arr = np.zeros((20, 30, 3), np.float32)
    arr[..., 0] = 1.0
    arr[..., 1] = 0.5
    out = load_image(arr).array
    _assert_rgb(out, (20, 30))
    assert tuple(out[0, 0]) == (255, 128, 0)


def test_float_array_in_0_255_range_and_clipping() -> None:
    arr = np.full((20, 20, 3), 128.0)
    assert (load_image(arr).array == 128).all()
    over = np.full((20, 20, 3), 300.0)
    assert (load_image(over).array == 255).all()


def test_gray_and_rgba_arrays() -> None:
    gray = np.full((20, 20), 9, np.uint8)
    assert (load_image(gray).array == 9).all()
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 2] = 200
    out = load_image(rgba).array
    _assert_rgb(out, (20, 20))
    assert tuple(out[0, 0]) == (0, 0, 200)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_arrays_refused(value: float) -> None:
    arr = np.full((20, 20, 3), 0.5)
    arr[3, 4, 1] = value
    with pytest.raises(ImageError) as exc:
        load_image(arr)
    assert "NaN" in _assert_one_line(exc)


@pytest.mark.parametrize("shape", [(20,), (20, 20, 2), (20, 20, 5), (1, 20, 20, 3), (3, 20, 20)])
def test_wrong_array_shapes_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ImageError) as exc:
        load_image(np.zeros(shape, np.uint8))
    assert str(shape) in _assert_one_line(exc)


@pytest.mark.parametrize("dtype", [object, np.str_, np.complex64])
def test_non_numeric_arrays_refused(dtype: type) -> None:
    with pytest.raises(ImageError) as exc:
        load_image(np.zeros((20, 20, 3), dtype=dtype))
    _assert_one_line(exc)


def test_as_uint8_keeps_size() -> None:
    arr = np.zeros((4, 3000, 3), np.uint8)
    assert as_uint8(arr).shape == (4, 3000, 3)  # no min side, no max side


# ---------------------------------------------------------------- tensors


def test_to_tensor_to_uint8_round_trip() -> None:
    arr = np.random.default_rng(1).integers(0, 256, (17, 23, 3), np.uint8)
    t = to_tensor(arr)
    assert t.shape == (1, 3, 17, 23) and t.dtype == torch.float32
    assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0
    assert float(t[0, 1, 2, 3]) == pytest.approx(arr[2, 3, 1] / 255.0)
    back = to_uint8(t)
    assert back.dtype == np.uint8 and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)
    np.testing.assert_array_equal(to_uint8(t[0]), arr)  # (3, H, W) works too


def test_to_tensor_accepts_read_only_and_strided_arrays() -> None:
    arr = np.random.default_rng(2).integers(0, 256, (20, 40, 3), np.uint8)
    view = arr[:, ::2]  # not contiguous
    view.flags.writeable = False
    np.testing.assert_array_equal(to_uint8(to_tensor(view)), view)


def test_to_uint8_clamps_out_of_range() -> None:
    t = torch.tensor([-0.5, 0.5, 1.7]).view(1, 3, 1, 1)
    assert to_uint8(t).tolist() == [[[0, 128, 255]]]


def test_to_uint8_detaches_grad_tensors() -> None:
    t = torch.full((1, 3, 2, 2), 0.25, requires_grad=True)
    assert (to_uint8(t * 2) == 128).all()


def test_resize_tensor() -> None:
    x = torch.rand(1, 3, 10, 20)
    assert resize_tensor(x, (10, 20)) is x
    assert resize_tensor(x, (5, 7)).shape == (1, 3, 5, 7)
    flat = torch.full((1, 3, 8, 8), 0.3)
    assert torch.allclose(resize_tensor(flat, (13, 5)), torch.tensor(0.3))


# ---------------------------------------------------------------- samples


def test_samples_are_bundled_and_load() -> None:
    assert {"chelsea", "coffee", "astronaut"} <= set(sample_names())
    for name in ("chelsea", "coffee", "astronaut"):
        arr = load_sample(name)
        assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3
        assert min(arr.shape[:2]) >= 16 and arr.std() > 10  # a real photo, not a blank


def test_unknown_sample() -> None:
    with pytest.raises(ImageError) as exc:
        sample_path("nope")
    msg = _assert_one_line(exc)
    assert "chelsea" in msg


def test_a_bad_upload_is_named_by_its_file_name_in_every_error() -> None:
    from dreamlab.images import ImageError

    tiny = io.BytesIO()
    Image.new("RGB", (1, 1)).save(tiny, "PNG")
    names = []
    for data in (b"garbage", tiny.getvalue()):
        with pytest.raises(ImageError) as exc:
            load_image(data, name="one.png")
        names.append(str(exc.value).split(":")[0])
    assert names == ["one.png", "one.png"]


def test_downsizing_records_the_original_size() -> None:
    img = load_image(np.zeros((300, 600, 3), np.uint8), max_side=100)
    assert img.size == (100, 50) and img.original_size == (600, 300)
    assert load_image(np.zeros((30, 60, 3), np.uint8)).original_size is None


def test_resize_to_goes_up_and_down() -> None:
    from dreamlab.images import resize_to

    arr = np.random.default_rng(0).integers(0, 256, (30, 40, 3), np.uint8)
    assert resize_to(arr, (80, 60)).shape == (60, 80, 3)
    assert resize_to(arr, (20, 15)).shape == (15, 20, 3)
    assert resize_to(arr, (40, 30)) is arr
