"""The core's controls on the pages: DeepDream's Target, Feature visualization's Octaves and defaults."""

from __future__ import annotations

from dreamlab.optvis import FeatureVisConfig
from tests.ui.conftest import assert_clean, page_app


def test_deepdream_target_neuron_dreams_that_neuron() -> None:
    at = page_app("deepdream").run()
    at.slider(key="dd_octaves").set_value(1)
    at.slider(key="dd_iterations").set_value(2)
    at.select_slider(key="dd_max_side").set_value(128)
    at.selectbox(key="dd_target").set_value("neuron")
    at.number_input(key="dd_channel").set_value(4)
    (button,) = [b for b in at.button if b.key == "dd_dream"]
    button.click().run()
    assert_clean(at)
    config = at.session_state["dd_runs"]["photo"].config
    assert (config.objective, config.channel) == ("neuron", 4)


def test_feature_vis_starts_from_the_config_defaults_and_renders_octaves() -> None:
    at = page_app("feature_vis").run()
    defaults = FeatureVisConfig()
    assert at.slider(key="fv_steps").value == defaults.steps
    assert at.select_slider(key="fv_size").value == defaults.size
    assert at.slider(key="fv_octaves").value == defaults.octaves
    at.slider(key="fv_steps").set_value(16)
    at.select_slider(key="fv_size").set_value(64)
    at.slider(key="fv_octaves").set_value(2)
    at.button(key="fv_go").click().run()
    assert_clean(at)
    result = at.session_state["fv_single"]
    assert result.params["octaves"] == 2 and result.images.shape == (1, 64, 64, 3)
