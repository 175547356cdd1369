"""Hostile engine settings: each config is valid or refused with one line, and a valid one runs."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dreamlab.dream import DreamConfig, dream
from dreamlab.optvis import FeatureVisConfig

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_num = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**12), 10**12)


def _one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text and "\n" not in text, repr(text)


@SETTINGS
@given(
    num_octaves=st.integers(-3, 50) | st.none(), octave_scale=_num, iterations=st.integers(-3, 10**6),
    lr=_num, jitter=st.integers(-10, 10**5), smoothing=_num, max_side=st.integers(-5, 10**6),
    channel=st.integers(-5, 10**4) | st.none(), seed=st.integers(-5, 2**70) | st.none(),
)  # fmt: skip
def test_dream_config_values(**values: object) -> None:
    values = {k: v for k, v in values.items() if v is not None or k in ("channel", "seed")}
    try:
        DreamConfig(**values)
    except (ValueError, TypeError) as exc:
        _one_line(exc)


@SETTINGS
@given(
    steps=st.integers(-3, 10**7), size=st.integers(-3, 10**6), batch=st.integers(-3, 10**4),
    param=st.sampled_from(["fft", "pixel", "cppn", ""]), lr=_num, sd=_num, decay_power=_num,
    seed=st.integers(-5, 2**70),
)  # fmt: skip
def test_feature_vis_config_values(**values: object) -> None:
    try:
        FeatureVisConfig(**values)
    except (ValueError, TypeError) as exc:
        _one_line(exc)


@settings(max_examples=12, deadline=None)
@given(
    st.integers(16, 40), st.integers(16, 40), st.integers(1, 3), st.floats(1.05, 2.0),
    st.sampled_from([None, 0, 3]),
)  # fmt: skip
def test_small_valid_dreams_run_or_refuse_cleanly(
    lite0, h: int, w: int, octaves: int, scale: float, channel
) -> None:
    image = np.random.default_rng(h * w).integers(0, 255, (h, w, 3), np.uint8)
    try:
        frames = list(dream(image, lite0, num_octaves=octaves, octave_scale=scale, iterations=1,
                            channel=channel, layer="_blocks.3"))  # fmt: skip
    except ValueError as exc:  # e.g. too small for the network at every octave
        _one_line(exc)
    else:
        assert frames and frames[-1].image.shape[2] == 3 and np.isfinite(frames[-1].loss)
