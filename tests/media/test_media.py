"""Exports: PNG with parameters in its metadata, animated GIF, MP4."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dreamlab import __version__
from dreamlab.media import (
    METADATA_KEY,
    fit_frames,
    gif_bytes,
    mp4_bytes,
    png_bytes,
    read_png_params,
    write_media,
)


def _frames(n: int = 5, h: int = 41, w: int = 57) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def test_png_carries_parameters_and_version() -> None:
    img = _frames(1)[0]
    data = png_bytes(img, {"lr": 0.05, "layers": ("a", "b"), "n": np.int64(3)})
    params = read_png_params(data)
    assert params == {"lr": 0.05, "layers": ["a", "b"], "n": 3, "version": __version__}
    with Image.open(io.BytesIO(data)) as back:
        assert np.array_equal(np.asarray(back), img)
        assert METADATA_KEY in back.text


def test_png_bytes_are_deterministic() -> None:
    img = _frames(1)[0]
    assert png_bytes(img, {"seed": 1}) == png_bytes(img, {"seed": 1})
    assert png_bytes(img, {"seed": 1}) != png_bytes(img, {"seed": 2})


def test_read_params_of_other_files() -> None:
    buf = io.BytesIO()
    Image.fromarray(_frames(1)[0]).save(buf, format="PNG")
    assert read_png_params(buf.getvalue()) is None
    with pytest.raises(ValueError, match="not a readable PNG"):
        read_png_params(b"not an image")


def test_gif_has_every_frame_at_the_last_size() -> None:
    frames = [*_frames(3, 20, 30), *_frames(2, 41, 57)]
    data = gif_bytes(frames, fps=5)
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.format == "GIF" and gif.n_frames == 5 and gif.size == (57, 41)
        assert gif.info["duration"] == 200 and gif.info.get("loop") == 0


def test_mp4_plays_back_with_even_sides() -> None:
    import imageio.v3 as iio

    data = mp4_bytes(_frames(6, 41, 57), fps=10)
    assert data[4:8] == b"ftyp"
    video = iio.imread(data, extension=".mp4", index=None)
    assert video.shape == (6, 40, 56, 3)


def test_fit_frames_resizes_to_the_last() -> None:
    out = fit_frames([*_frames(1, 10, 10), *_frames(1, 21, 33)], even=True)
    assert [f.shape for f in out] == [(20, 32, 3), (20, 32, 3)]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: png_bytes(np.zeros((4, 4, 3), np.float32)), "uint8"),
        (lambda: png_bytes(np.zeros((4, 4), np.uint8)), "H x W x 3"),
        (lambda: gif_bytes([]), "no frames"),
        (lambda: gif_bytes(_frames(2), fps=0), "fps"),
        (lambda: mp4_bytes(_frames(2), fps=float("nan")), "fps"),
    ],
)
def test_bad_input_is_one_line(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_write_media_by_suffix(tmp_path) -> None:
    frames = _frames(3)
    assert read_png_params(write_media(tmp_path / "a.png", frames, {"k": 1})) == {
        "k": 1,
        "version": __version__,
    }
    assert write_media(tmp_path / "a.GIF", frames).read_bytes()[:6] == b"GIF89a"
    with pytest.raises(ValueError, match="use a .png, .gif or .mp4"):
        write_media(tmp_path / "a.jpg", frames)
    with pytest.raises(ValueError, match="does not exist"):
        write_media(tmp_path / "missing" / "a.png", frames)
