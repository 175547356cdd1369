"""Hostile bytes and arrays: every case ends in a decoded image or one clear ImageError line."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from PIL import Image

from dreamlab.images import ImageError, load_image

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _png(w: int = 40, h: int = 30) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _check(source: object) -> np.ndarray | None:
    """The decoded image, or None when refused with one clear line."""
    try:
        img = load_image(source, max_side=256)
    except ImageError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg and "Traceback" not in msg
        return None
    assert img.array.dtype == np.uint8 and img.array.ndim == 3 and img.array.shape[2] == 3
    assert min(img.array.shape[:2]) >= 16 and max(img.array.shape[:2]) <= 256
    return img.array


@SETTINGS
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    _check(data)


@SETTINGS
@given(st.integers(min_value=0, max_value=2000), st.binary(min_size=0, max_size=64))
def test_png_cut_or_corrupted_anywhere(cut: int, junk: bytes) -> None:
    good = _png()
    cut = min(cut, len(good))
    _check(good[:cut] + junk)


@SETTINGS
@given(st.integers(min_value=8, max_value=len(_png()) - 1), st.integers(0, 255))
@example(11, 0)  # once found: PIL raised ValueError("Truncated IHDR chunk")
def test_png_with_one_byte_flipped(pos: int, value: int) -> None:
    data = bytearray(_png())
    data[pos] = value
    _check(bytes(data))


@SETTINGS
@given(
    arrays(
        dtype=np.float64,
        shape=array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=40),
        elements=st.floats(allow_nan=True, allow_infinity=True) | st.integers(-5, 300),
    ),
    st.sampled_from(["uint8", "float32", "float64", "int16", "int64", "bool"]),
)
def test_random_arrays(arr: np.ndarray, dtype: str) -> None:
    with np.errstate(all="ignore"):
        value = arr.astype(dtype)
    got = _check(value)
    if value.ndim not in (2, 3):  # documented: an image is H x W or H x W x C
        assert got is None, value.shape
    if dtype == "uint8" and value.ndim == 3 and value.shape[2] == 3 and min(value.shape[:2]) >= 16:
        assert got is not None and np.array_equal(got, value)  # a valid image passes unchanged
    if min(value.shape[:2] if value.ndim >= 2 else value.shape) < 16:  # documented minimum side
        assert got is None


@pytest.mark.parametrize(
    "header", [b"GIF89a", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"RIFF"]
)
def test_format_magic_followed_by_garbage(header: bytes) -> None:
    assert _check(header + bytes(range(256)) * 4) is None
