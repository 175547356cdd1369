"""The one frame throttle the pages share."""

from __future__ import annotations

from dreamlab.ui.parts.model_picker import model_key
from dreamlab.ui.parts.throttle import Throttle


def test_throttle_keeps_the_first_and_the_last_frame() -> None:
    assert list(Throttle(float("inf")).latest(range(10))) == [0, 9]
    assert list(Throttle(0.0).latest(range(4))) == [0, 1, 2, 3]
    assert list(Throttle(float("inf")).latest([])) == []
    t = Throttle(float("inf"))
    assert t.due() and not t.due() and t.due(force=True)


def test_model_key_tells_models_apart(lite0) -> None:
    assert model_key(lite0) == model_key(lite0) and lite0.name in model_key(lite0)
