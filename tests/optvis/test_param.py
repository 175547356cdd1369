"""Image parameterizations: shapes, the FFT decay scale, colour decorrelation, seeds."""

from __future__ import annotations

import pytest
import torch

from dreamlab.optvis import param as P


@pytest.mark.parametrize(("h", "w"), [(8, 8), (7, 9), (6, 5)])
def test_fft_image_shapes(h: int, w: int) -> None:
    img = P.FFTImage((2, 3, h, w))
    assert img.spectrum.shape == (2, 3, h, w // 2 + 1, 2)
    assert img().shape == (2, 3, h, w)
    assert P.image((h, w), batch=2)().shape == (2, 3, h, w)


def test_fft_scale_is_one_over_frequency() -> None:
    h, w = 8, 6
    freqs = P.rfft2d_freqs(h, w)
    assert freqs.shape == (8, 4)
    assert freqs[0, 0] == 0 and freqs[0, 1] == pytest.approx(1 / 6) and freqs[1, 0] == 0.125
    assert freqs[4, 3] == pytest.approx((0.5**2 + 0.5**2) ** 0.5)
    s = P.fft_scale(h, w)
    assert s[0, 0] == pytest.approx(8.0)  # DC clamped at 1 / max(h, w)
    assert s[0, 1] == pytest.approx(6.0)
    assert s[4, 3] == pytest.approx(1 / 0.5**0.5)
    assert torch.allclose(P.fft_scale(h, w, 2.0), s**2)
    assert torch.all(P.fft_scale(h, w, 0.0) == 1.0)


def test_fft_image_is_the_inverse_fft_of_the_scaled_spectrum() -> None:
    h, w = 8, 8
    img = P.FFTImage((1, 3, h, w), sd=1.0, generator=torch.Generator().manual_seed(0))
    raw = img()  # (1, 3, 8, 8)
    back = torch.fft.rfft2(raw * 4.0, norm="ortho")  # (1, 3, 8, 5)
    want = torch.view_as_complex(img.scale * img.spectrum.detach())
    # interior columns survive the round trip exactly (DC and Nyquist columns lose imaginary parts)
    assert torch.allclose(back[..., 1 : w // 2], want[..., 1 : w // 2], atol=1e-5)


def test_fft_spectrum_power_decays_with_frequency() -> None:
    img = P.FFTImage((8, 3, 64, 64), sd=1.0, generator=torch.Generator().manual_seed(0))
    spec = torch.fft.rfft2(img().detach(), norm="ortho").abs()  # (8, 3, 64, 33)
    freqs = P.rfft2d_freqs(64, 64)
    low = spec[..., (freqs > 0.02) & (freqs < 0.05)].mean()
    high = spec[..., freqs > 0.4].mean()
    assert low > 5 * high  # amplitude ~ 1/f: 0.035 vs > 0.4 is a factor ~ 10


def test_pixel_image_and_sigmoid_range() -> None:
    gen = torch.Generator().manual_seed(0)
    img = P.image(5, batch=3, param="pixel", decorrelate=False, sd=0.01, generator=gen)
    x = img()
    assert x.shape == (3, 3, 5, 5)
    assert torch.all((x > 0.49) & (x < 0.51))  # tiny noise around sigmoid(0) = 0.5
    big = P.image(5, param="pixel", sd=5.0, generator=gen)()
    assert torch.all((big > 0) & (big < 1))


def test_decorrelation_matrix_and_mapping() -> None:
    m = P._normalized_color_matrix()
    assert m.norm(dim=0).max() == pytest.approx(1.0)
    raw = torch.tensor(P.COLOR_CORRELATION_SVD_SQRT)
    assert torch.allclose(m * raw.norm(dim=0).max(), raw)
    x = torch.zeros(1, 3, 1, 1)
    x[0, :, 0, 0] = torch.tensor([1.0, 2.0, 3.0])
    y = P.decorrelate_colors(x)[0, :, 0, 0]
    assert torch.allclose(y, m @ torch.tensor([1.0, 2.0, 3.0]))
    # the first decorrelated axis is (nearly) grey: it moves R, G and B together
    grey = P.decorrelate_colors(torch.tensor([1.0, 0, 0]).view(1, 3, 1, 1)).flatten()
    assert grey.min() > 0 and grey.max() / grey.min() < 1.1


def test_seed_reproduces_the_initial_image() -> None:
    a = P.image(16, generator=torch.Generator().manual_seed(3))()
    b = P.image(16, generator=torch.Generator().manual_seed(3))()
    c = P.image(16, generator=torch.Generator().manual_seed(4))()
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": 0},
        {"size": 8, "batch": 0},
        {"size": 8, "param": "wavelet"},
        {"size": 8, "sd": float("nan")},
        {"size": 8, "sd": -1.0},
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        P.image(**kwargs)
