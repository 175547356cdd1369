"""Hostile engine settings: each config is refused with one line exactly when a value is outside
its documented range, an accepted config keeps every value as given, and a valid one runs."""

from __future__ import annotations

import math

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


def _within(value: object, lo: float, hi: float, *, whole: bool = False, open_lo: bool = False):
    """Whether ``value`` is in the documented range (whole numbers only where ``whole``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if whole and not isinstance(value, int):
        return False
    if not math.isfinite(value):
        return False
    return (lo < value if open_lo else lo <= value) and value <= hi


# DreamConfig's documented ranges (dreamlab/dream/config.py)
_DREAM_RANGES = {
    "num_octaves": lambda v: _within(v, 1, 12, whole=True),
    "octave_scale": lambda v: _within(v, 1.0, 4.0),
    "iterations": lambda v: _within(v, 1, 1000, whole=True),
    "lr": lambda v: _within(v, 0.0, 100.0, open_lo=True),
    "jitter": lambda v: _within(v, 0, 1024, whole=True),
    "smoothing": lambda v: _within(v, 0.0, 10.0),
    "max_side": lambda v: _within(v, 32, 4096, whole=True),
    "channel": lambda v: v is None or _within(v, 0, 1_000_000, whole=True),
    "seed": lambda v: _within(v, 0, 2**63 - 1, whole=True),
}

# FeatureVisConfig's documented ranges (dreamlab/optvis/render.py)
_VIS_RANGES = {
    "steps": lambda v: _within(v, 1, 100_000, whole=True),
    "size": lambda v: _within(v, 8, 1024, whole=True),
    "batch": lambda v: _within(v, 1, 64, whole=True),
    "param": lambda v: v in ("fft", "pixel"),
    "lr": lambda v: _within(v, 1e-6, 10.0),
    "sd": lambda v: _within(v, 1e-6, 10.0),
    "decay_power": lambda v: _within(v, 0.0, 4.0),
    "seed": lambda v: _within(v, 0, 2**63 - 1, whole=True),
}


def _check_against(make, ranges: dict, values: dict) -> None:
    """Accepted exactly when every value is in range; refused naming an out-of-range setting."""
    bad = [name for name, value in values.items() if not ranges[name](value)]
    try:
        cfg = make(**values)
    except (ValueError, TypeError) as exc:
        _one_line(exc)
        assert bad, f"refused although every value is documented as valid: {exc}"
        assert any(name in str(exc) for name in bad), (bad, str(exc))
    else:
        assert not bad, f"accepted out-of-range values: {[(n, values[n]) for n in bad]}"
        for name, value in values.items():  # kept as given: nothing silently changed
            assert getattr(cfg, name) == value, name


@SETTINGS
@given(
    num_octaves=st.integers(-3, 50) | st.none(),
    octave_scale=_num,
    iterations=st.integers(-3, 10**6),
    lr=_num,
    jitter=st.integers(-10, 10**5),
    smoothing=_num,
    max_side=st.integers(-5, 10**6),
    channel=st.integers(-5, 10**4) | st.none(),
    seed=st.integers(-5, 2**70) | st.none(),
)
def test_dream_config_values(**values: object) -> None:
    values = {k: v for k, v in values.items() if v is not None or k in ("channel", "seed")}
    _check_against(DreamConfig, _DREAM_RANGES, values)


@SETTINGS
@given(
    steps=st.integers(-3, 10**7),
    size=st.integers(-3, 10**6),
    batch=st.integers(-3, 10**4),
    param=st.sampled_from(["fft", "pixel", "cppn", ""]),
    lr=_num,
    sd=_num,
    decay_power=_num,
    seed=st.integers(-5, 2**70),
)
def test_feature_vis_config_values(**values: object) -> None:
    _check_against(FeatureVisConfig, _VIS_RANGES, values)


@settings(max_examples=12, deadline=None)
@given(
    st.integers(16, 40),
    st.integers(16, 40),
    st.integers(1, 3),
    st.floats(1.05, 2.0),
    st.sampled_from([None, 0, 3]),
)
def test_small_valid_dreams_run_or_refuse_cleanly(
    lite0, h: int, w: int, octaves: int, scale: float, channel
) -> None:
    image = np.random.default_rng(h * w).integers(0, 255, (h, w, 3), np.uint8)
    try:
        frames = list(
            dream(
                image,
                lite0,
                num_octaves=octaves,
                octave_scale=scale,
                iterations=1,
                channel=channel,
                layer="_blocks.3",
            )
        )
    except ValueError as exc:  # too small for the network at every octave: the documented refusal
        _one_line(exc)
        assert "px" in str(exc) and "_blocks.3" in str(exc), str(exc)
    else:
        assert frames and frames[-1].image.shape[2] == 3 and np.isfinite(frames[-1].loss)
        assert len(frames) == frames[-1].num_octaves  # one step per octave kept
