"""The Feature visualization page through AppTest: render, visualize, compare, gallery, downloads."""

from __future__ import annotations

import pytest

from tests.ui.conftest import assert_clean, page_app


def _small(at, steps: int = 16, size: int = 64):
    """Few steps on a small image: the page works the same, the test stays fast."""
    at.slider(key="fv_steps").set_value(steps)
    at.select_slider(key="fv_size").set_value(size)
    return at


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_page_renders_with_its_controls(lang: str) -> None:
    at = page_app("feature_vis", lang=lang).run()
    assert_clean(at)
    assert (
        at.title[0].value
        == {"en": "Feature visualization", "fr": "Visualisation de caractéristiques"}[lang]
    )
    assert len(at.tabs) == 3
    labels = {b.label for b in at.button}
    assert ("Visualize" if lang == "en" else "Visualiser") in labels
    assert at.select_slider(key="fv_layer_efficientnet_lite0").value == "_blocks.9"
    assert at.number_input(key="fv_channel_efficientnet_lite0__blocks.9").max == 111


def test_visualize_shows_the_image_value_and_download() -> None:
    at = _small(page_app("feature_vis").run())
    at.number_input(key="fv_channel_efficientnet_lite0__blocks.9").set_value(12)
    at.button(key="fv_go").click().run()
    assert_clean(at)
    result = at.session_state["fv_single"]
    assert (result.step, result.steps) == (16, 16)
    assert result.images.shape == (1, 64, 64, 3)
    assert result.params["objective"] == "channel(_blocks.9:12)" and result.params["size"] == 64
    assert len(result.history) == 16  # every step's objective, not only the drawn frames
    captions = " ".join(c.value for c in at.caption)
    assert "Step 16 of 16" in captions and "channel(_blocks.9:12)" in captions
    assert len(at.get("download_button")) >= 1
    # the result stays when a control changes (no new run)
    at.slider(key="fv_steps").set_value(32).run()
    assert_clean(at)
    assert at.session_state["fv_single"].steps == 16


def test_compare_naive_and_regularized_side_by_side() -> None:
    at = _small(page_app("feature_vis").run())
    at.button(key="fv_go_compare").click().run()
    assert_clean(at)
    results = at.session_state["fv_compare"]
    assert set(results) == {"naive", "regular"}
    assert results["naive"].params["param"] == "pixel" and not results["naive"].params["transforms"]
    assert results["regular"].params["param"] == "fft" and results["regular"].params["decorrelate"]
    assert all(r.step == 16 for r in results.values())


def test_gallery_of_channels_and_facets() -> None:
    at = _small(page_app("feature_vis").run(), steps=16, size=64)
    at.slider(key="fv_count").set_value(3)
    at.button(key="fv_go_gallery").click().run()
    assert_clean(at)
    g = at.session_state["fv_gallery"]
    assert g.images.shape == (3, 64, 64, 3) and g.labels == ["#0", "#1", "#2"]
    at.radio(key="fv_gallery_mode").set_value("facets").run()
    at.slider(key="fv_count").set_value(2)
    at.button(key="fv_go_gallery").click().run()
    assert_clean(at)
    g = at.session_state["fv_gallery"]
    assert g.images.shape[0] == 2 and "diversity" in g.params["objective"]


def test_class_objective_on_the_tiny_cnn() -> None:
    at = page_app("feature_vis").run()
    at.selectbox(key="fv_model").set_value("tiny_cnn").run()
    at.radio(key="fv_kind").set_value("class").run()
    assert_clean(at)
    at.selectbox(key="fv_class_tiny_cnn").set_value(3)
    _small(at, steps=16, size=32)
    at.button(key="fv_go").click().run()
    assert_clean(at)
    assert at.session_state["fv_single"].params["objective"] == "class(3)"
    # a gallery needs a layer: the button is disabled with a hint
    assert at.button(key="fv_go_gallery").disabled
    assert len(at.info) >= 1


def test_presenter_mode_folds_the_advanced_controls() -> None:
    at = page_app("feature_vis", present=True).run()
    assert_clean(at)
    assert len(at.expander) >= 2  # the lesson and "More settings"


class _AtTheBackend:
    """A run made at a ``dreamlab serve`` backend, as the client returns it (``remote = True``);
    here the frames are made locally so that the page can run without a backend."""

    remote = True

    def __init__(self, frames) -> None:
        self._frames = iter(frames)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._frames)

    def close(self) -> None:
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()


@pytest.mark.parametrize(
    "button, result",
    [("fv_go", "fv_single"), ("fv_go_compare", "fv_compare"), ("fv_go_gallery", "fv_gallery")],
)
def test_frames_made_at_the_backend_take_no_seat_at_this_servers_gate(
    monkeypatch: pytest.MonkeyPatch, button: str, result: str
) -> None:
    """Issue 20: the page wraps the backend's iterator (recording every step's value); the gate
    must still see that the frames are remote, for the single run, the comparison and the gallery."""
    from dreamlab.backend import visualize as local
    from dreamlab.runtime.jobs import JobGate

    seats: list[object] = []
    real_enter = JobGate.enter

    def enter(self, *args, **kwargs):
        seats.append(args)
        return real_enter(self, *args, **kwargs)

    monkeypatch.setattr(JobGate, "enter", enter)
    monkeypatch.setattr(
        "dreamlab.ui.parts.vis_runs.visualize",
        lambda *a, **kw: _AtTheBackend(local(*a, **kw)),
    )
    at = _small(page_app("feature_vis").run(), steps=16, size=64)
    if button == "fv_go_gallery":
        at.slider(key="fv_count").set_value(2)
    at.button(key=button).click().run()
    assert_clean(at)
    assert at.session_state[result]  # the run drew its frames
    assert seats == []  # and never queued at this server's gate
