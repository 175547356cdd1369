"""The Feature maps page through AppTest."""

from __future__ import annotations

import pytest

from tests.ui.conftest import assert_clean, page_app


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_page_renders_maps_filters_and_predictions(lang: str) -> None:
    at = page_app("feature_maps", lang=lang).run()
    assert_clean(at)
    # photo, grid, colour bar, overlay, raw map, filters
    assert len(at.get("image")) >= 6
    table = at.dataframe[0].value
    assert "cat" in " ".join(map(str, table.iloc[:, 0])).lower()  # chelsea is the default sample


def test_changing_layer_and_channel_reruns_cleanly() -> None:
    at = page_app("feature_maps").run()
    slider = at.select_slider(key="fm_layer_efficientnet_lite0")
    slider.set_value("_blocks.3").run()
    assert_clean(at)
    at.number_input(key="fm_channel_efficientnet_lite0__blocks.3").set_value(5).run()
    assert_clean(at)
    assert at.subheader[1].value.startswith("Layer _blocks.3: 40 channels")


def test_untrained_tiny_cnn_works_on_the_page() -> None:
    at = page_app("feature_maps").run()
    at.selectbox(key="fm_model").set_value("tiny_cnn").run()
    assert_clean(at)
