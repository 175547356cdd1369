"""The Feature maps page through AppTest."""

from __future__ import annotations

import re

import pytest

from dreamlab.ui.i18n import translate
from tests.ui.conftest import assert_clean, page_app


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_page_renders_maps_filters_and_predictions(lang: str) -> None:
    at = page_app("feature_maps", lang=lang).run()
    assert_clean(at)
    # photo, colour bar, overlay, filters; the grid and the large map are clickable components
    assert len(at.get("image")) >= 4 and len(at.get("component_instance")) == 2
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
    assert (
        at.number_input(key="fm_channel_efficientnet_lite0__blocks.3").label == "Channel (0 to 39)"
    )


def test_untrained_tiny_cnn_works_on_the_page() -> None:
    at = page_app("feature_maps").run()
    at.selectbox(key="fm_model").set_value("tiny_cnn").run()
    assert_clean(at)


def test_deep_layer_maps_are_readable_and_the_page_says_so() -> None:
    at = page_app("feature_maps").run()
    heading = at.subheader[1].value  # "Layer _blocks.9: 112 channels of H x W, ..."
    h, w = (int(v) for v in re.search(r"of (\d+) x (\d+)", heading).groups())
    assert heading.startswith("Layer _blocks.9: 112 channels of ") and min(h, w) >= 28
    assert any("enlarged from 451 x 300" in c.value for c in at.caption)
    # the channel label says the same as the Feature visualization page: "0 to last"
    assert (
        at.number_input(key="fm_channel_efficientnet_lite0__blocks.9").label == "Channel (0 to 111)"
    )


def test_scaling_switch_is_said_under_the_grid() -> None:
    at = page_app("feature_maps").run()
    per = translate("en", "feature_maps.scale_per_channel_signed")
    assert any(c.value == per for c in at.caption)
    at.radio(key="fm_scaling").set_value("shared").run()
    assert_clean(at)
    assert any(c.value == translate("en", "feature_maps.scale_shared") for c in at.caption)
    assert not any(c.value == per for c in at.caption)


def test_top5_on_the_page_is_the_cli_classify_output(capsys) -> None:
    from dreamlab.cli import main
    from dreamlab.images import sample_path

    at = page_app("feature_maps").run()
    table = at.dataframe[0].value
    main(["classify", str(sample_path("chelsea")), "--top", "5"])
    lines = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    assert list(table.iloc[:, 0]) == [label for label, _ in lines]
    assert list(table.iloc[:, 1]) == [prob for _, prob in lines]  # "0.3997" both


def test_feature_maps_in_french_use_french_numbers() -> None:
    at = page_app("feature_maps", lang="fr").run()
    probs = list(at.dataframe[0].value.iloc[:, 1])
    assert all("," in p and "." not in p for p in probs)
