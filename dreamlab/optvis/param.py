"""Image parameterizations: what the optimizer actually changes to make an image.

Optimizing raw pixels lets the gradient pile up high-frequency noise, which the network happily
responds to. Lucid's two fixes, reproduced here:

* **FFT**: optimize the image's Fourier spectrum, each frequency ``f`` scaled by ``1 / f^decay``, so a
  step of the same size moves low frequencies far more than high ones (gradient descent is no longer
  biased towards the finest details).
* **Colour decorrelation**: optimize in a decorrelated colour space (the square root of ImageNet's
  colour covariance), so a step changes natural colours rather than independent R, G, B.

A sigmoid maps the result into (0, 1). Every module here returns ``(B, 3, H, W)`` float images; a batch
of ``B`` images is optimized together (one parameter tensor, independent images).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

__all__ = [
    "PARAMS",
    "COLOR_CORRELATION_SVD_SQRT",
    "FFTImage",
    "ImageParam",
    "PixelImage",
    "decorrelate_colors",
    "fft_scale",
    "image",
    "image_from",
    "rfft2d_freqs",
]

# Lucid's ``color_correlation_svd_sqrt``: the square root of ImageNet's RGB covariance (via its SVD).
COLOR_CORRELATION_SVD_SQRT = ((0.26, 0.09, 0.02), (0.27, 0.00, -0.05), (0.27, -0.09, 0.03))
# The FFT image is divided by this (Lucid's "magic" 4) so its pixels start in sigmoid's linear range.
_FFT_MAGIC = 4.0

ParamKind = Literal["fft", "pixel"]
PARAMS: tuple[str, ...] = ("fft", "pixel")  # the parameterizations, ParamKind's values


def _normalized_color_matrix() -> torch.Tensor:
    """The colour matrix divided by its largest column norm (as Lucid does)."""
    m = torch.tensor(COLOR_CORRELATION_SVD_SQRT, dtype=torch.float32)  # (3, 3)
    return m / m.norm(dim=0).max()


def decorrelate_colors(x: torch.Tensor) -> torch.Tensor:
    """Map ``x`` (B, 3, H, W) from the decorrelated colour space to RGB (before the sigmoid)."""
    m = _normalized_color_matrix().to(x.device, x.dtype)  # (3, 3)
    return torch.einsum("ij,bjhw->bihw", m, x)  # (B, 3, H, W): each pixel is m @ pixel


def rfft2d_freqs(h: int, w: int) -> torch.Tensor:
    """Spatial frequency magnitude (cycles per pixel) of each bin of ``rfft2`` on an ``h x w`` image."""
    fy = torch.fft.fftfreq(h, dtype=torch.float64)[:, None]  # (h, 1)
    fx = torch.fft.rfftfreq(w, dtype=torch.float64)[None, :]  # (1, w//2+1)
    return (fx * fx + fy * fy).sqrt().float()  # (h, w//2+1)


def fft_scale(h: int, w: int, decay_power: float = 1.0) -> torch.Tensor:
    """Per-bin spectrum scale ``1 / max(f, 1/max(h, w))^decay``: low frequencies get the big steps."""
    freqs = rfft2d_freqs(h, w)  # (h, w//2+1)
    return 1.0 / freqs.clamp_min(1.0 / max(h, w)) ** decay_power  # (h, w//2+1)


class FFTImage(nn.Module):
    """An image parameterized by its (scaled) real FFT spectrum; ``forward()`` gives ``(B, C, H, W)``."""

    def __init__(
        self,
        shape: tuple[int, int, int, int],
        *,
        sd: float = 0.01,
        decay_power: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        b, c, h, w = shape
        self.size = (h, w)
        # (B, C, h, w//2+1, 2): real and imaginary parts, drawn on the CPU so a seed is device-free
        init = torch.randn(b, c, h, w // 2 + 1, 2, generator=generator) * sd
        self.spectrum = nn.Parameter(init)
        self.register_buffer("scale", fft_scale(h, w, decay_power)[None, None, :, :, None])

    def forward(self) -> torch.Tensor:
        scaled = torch.view_as_complex(self.scale * self.spectrum)  # (B, C, h, w//2+1) complex
        img = torch.fft.irfft2(scaled, s=self.size, norm="ortho")  # (B, C, H, W)
        return img / _FFT_MAGIC


class PixelImage(nn.Module):
    """An image parameterized by its pixels directly (the naive way); ``forward()`` gives them."""

    def __init__(
        self,
        shape: tuple[int, int, int, int],
        *,
        sd: float = 0.01,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.pixels = nn.Parameter(torch.randn(*shape, generator=generator) * sd)  # (B, C, H, W)

    def forward(self) -> torch.Tensor:
        return self.pixels


class ImageParam(nn.Module):
    """A raw parameterization followed by optional colour decorrelation and a sigmoid into (0, 1)."""

    def __init__(self, raw: nn.Module, *, decorrelate: bool = True) -> None:
        super().__init__()
        self.raw = raw
        self.decorrelate = decorrelate

    def forward(self) -> torch.Tensor:
        x = self.raw()  # (B, 3, H, W), unbounded
        if self.decorrelate:
            x = decorrelate_colors(x)
        return torch.sigmoid(x)  # (B, 3, H, W) in (0, 1)


def image(
    size: int | tuple[int, int],
    *,
    batch: int = 1,
    param: ParamKind = "fft",
    decorrelate: bool = True,
    sd: float = 0.01,
    decay_power: float = 1.0,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> ImageParam:
    """lucent's ``param.image``: ``batch`` RGB images of ``size`` (an int for a square, or (h, w))."""
    h, w = (size, size) if isinstance(size, int) else size
    if min(h, w) < 1 or batch < 1:
        raise ValueError(f"an image needs a positive size and batch, got {h}x{w} x {batch}")
    if not (math.isfinite(sd) and sd > 0):
        raise ValueError(f"sd must be a positive number, got {sd}")
    shape = (batch, 3, h, w)
    if param == "fft":
        raw: nn.Module = FFTImage(shape, sd=sd, decay_power=decay_power, generator=generator)
    elif param == "pixel":
        raw = PixelImage(shape, sd=sd, generator=generator)
    else:
        raise ValueError(f"unknown parameterization {param!r}; use fft or pixel")
    return ImageParam(raw, decorrelate=decorrelate).to(device)


def image_from(
    pixels: torch.Tensor,
    *,
    param: ParamKind = "fft",
    decorrelate: bool = True,
    decay_power: float = 1.0,
) -> ImageParam:
    """A parameterization whose image is ``pixels`` (B, 3, H, W) in (0, 1): every step of
    :func:`image` undone (sigmoid, colour decorrelation, FFT scale), so the optimization goes on
    from there (the next octave of a feature visualization)."""
    b, _, h, w = pixels.shape
    x = torch.logit(pixels.float().clamp(1e-4, 1 - 1e-4))  # (B, 3, H, W) before the sigmoid
    if decorrelate:
        m = _normalized_color_matrix().to(x.device)  # (3, 3)
        x = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(m), x)
    shape = (b, 3, h, w)
    if param == "fft":
        raw: nn.Module = FFTImage(shape, decay_power=decay_power).to(x.device)
        spectrum = torch.fft.rfft2(x * _FFT_MAGIC, norm="ortho")  # (B, 3, H, W//2+1) complex
        with torch.no_grad():
            raw.spectrum.copy_(torch.view_as_real(spectrum) / raw.scale)
    elif param == "pixel":
        raw = PixelImage(shape).to(x.device)
        with torch.no_grad():
            raw.pixels.copy_(x)
    else:
        raise ValueError(f"unknown parameterization {param!r}; use fft or pixel")
    return ImageParam(raw, decorrelate=decorrelate)
