"""The typed page settings and their address form (no Streamlit run needed)."""

from __future__ import annotations

from dataclasses import fields

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dreamlab.dream.config import DreamConfig
from dreamlab.optvis.render import FeatureVisConfig
from dreamlab.train.config import TrainConfig
from dreamlab.ui.settings import (
    PAGE_SETTINGS,
    ConvSettings,
    DreamSettings,
    TrainSettings,
    VisSettings,
    decode_kernel,
    dream_from_params,
    encode_kernel,
    from_query,
    param_of,
    to_query,
)


def test_defaults_come_from_the_engine_configs() -> None:
    dream, vis, train = DreamSettings(), VisSettings(), TrainSettings()
    cfg = DreamConfig()
    assert (dream.octaves, dream.iterations, dream.lr) == (cfg.num_octaves, cfg.iterations, cfg.lr)
    assert (dream.octave_scale, dream.jitter, dream.max_side) == (
        cfg.octave_scale,
        cfg.jitter,
        cfg.max_side,
    )
    assert (vis.steps, vis.size, vis.param) == (
        FeatureVisConfig().steps,
        FeatureVisConfig().size,
        FeatureVisConfig().param,
    )
    assert (train.lr, train.batch, train.epochs) == (
        TrainConfig().lr,
        TrainConfig().batch_size,
        TrainConfig().epochs,
    )
    conv = ConvSettings()
    assert (conv.kernel, conv.color) == ("horizontal_edge", "gray")  # the seed's figure


@pytest.mark.parametrize("cls", list(PAGE_SETTINGS.values()))
def test_query_keys_are_short_and_unique(cls: type) -> None:
    keys = [param_of(f).query for f in fields(cls)]
    assert len(keys) == len(set(keys))
    assert all(len(k) <= 5 for k in keys)
    assert not {"lang", "present", "class", "lesson", "step"} & set(keys)


@pytest.mark.parametrize("cls", list(PAGE_SETTINGS.values()))
def test_defaults_are_left_out_of_the_address(cls: type) -> None:
    assert to_query(cls()) == {}


def test_round_trip_through_the_address() -> None:
    conv = ConvSettings(
        color="rgb",
        kernel="custom",
        size=3,
        weights=((0.0, -1.0, 0.0), (-1.0, 4.5, -1.0), (0.0, -1.0, 0.0)),
        stride=2,
        padding="same",
        dilation=3,
        mode="convolve",
        boundary="reflect",
        tab="slide",
    )
    back, ignored = from_query(ConvSettings, to_query(conv))
    assert (back, ignored) == (conv, [])
    dream = DreamSettings(preset="seed", layer="_blocks.5", octaves=3, lr=0.02, noise=True)
    assert from_query(DreamSettings, to_query(dream)) == (dream, [])
    assert to_query(dream)["l"] == "_blocks.5"
    assert "l" not in to_query(DreamSettings(layer="_blocks.9"))  # the model's default layer


def test_bad_values_fall_back_to_defaults_and_are_named() -> None:
    params = {"k": "nope", "s": "99", "p": "-1", "w": "1,2;3", "zz": "1", "c": "rgb"}
    conv, ignored = from_query(ConvSettings, params)
    assert conv == ConvSettings(color="rgb")
    assert sorted(ignored) == sorted(["k=nope", "s=99", "p=-1", "w=1,2;3", "zz=1"])
    dream, ignored = from_query(DreamSettings, {"lr": "nan", "o": "2.5", "m": "../x", "ms": "500"})
    assert dream == DreamSettings()
    assert len(ignored) == 4


def test_kernel_text() -> None:
    assert encode_kernel([[1, 0, -1], [2, 0, -2], [1, 0, -1]]) == "1,0,-1;2,0,-2;1,0,-1"
    assert decode_kernel("0.5") == ((0.5,),)
    for bad in ("", "1,2", "1,2;3,4", "inf", "nan,1,1;1,1,1;1,1,1", "1e9"):
        with pytest.raises(ValueError):
            decode_kernel(bad)


def test_a_class_dream_becomes_typed_settings() -> None:
    params = {
        "model": "efficientnet_lite0",
        "preset": "seed",
        "source": "chelsea.png",
        "config": {"layer": "_blocks.9", "num_octaves": 3, "lr": 0.02, "channel": 0, "seed": 5},
    }
    s = dream_from_params(params)
    assert (s.preset, s.layer, s.octaves, s.lr, s.channel, s.seed, s.image) == (
        "seed",
        "_blocks.9",
        3,
        0.02,
        0,
        5,
        "chelsea",
    )
    assert dream_from_params({"source": "noise", "config": {"num_octaves": 99}}) == DreamSettings(
        noise=True
    )


_text = st.text(max_size=60) | st.sampled_from(["", "nan", "-inf", "1e308", "0", "-1", "same"])


@pytest.mark.parametrize("cls", list(PAGE_SETTINGS.values()))
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_hostile_addresses_never_raise(cls: type, data: st.DataObject) -> None:
    keys = [param_of(f).query for f in fields(cls)]
    params = data.draw(
        st.dictionaries(st.sampled_from(keys) | st.text(max_size=12), _text, max_size=8)
    )
    value, ignored = from_query(cls, params)
    assert isinstance(value, cls)
    assert len(ignored) <= len(params)
    assert all(len(item) <= 40 for item in ignored)
    again, _ = from_query(cls, to_query(value))  # what is kept writes back and reads the same
    assert again == value
