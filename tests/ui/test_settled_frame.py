"""A finished dream's last frame, as a session keeps it: the same picture, maps and loss, without
the float tensors (30 sessions each kept ~2.5 MB of them)."""

from __future__ import annotations

import numpy as np

from dreamlab.dream import dream
from dreamlab.models import load_model
from dreamlab.ui.pages.deepdream import _settled


def test_a_settled_frame_keeps_its_results_and_lets_the_tensors_go() -> None:
    model = load_model("tiny_cnn", device="cpu")
    image = np.full((96, 128, 3), 120, np.uint8)
    run = dream(image, model, layer="conv2", num_octaves=1, iterations=2, max_side=128)
    *_, last = list(run)
    light = _settled(last)
    assert light is not None and _settled(None) is None
    assert np.array_equal(light.image, last.image) and light.image.shape == (96, 128, 3)
    assert np.array_equal(light.activations, last.activations) and light.loss == last.loss
    assert (light.step, light.octave, light.done, light.size) == (
        last.step,
        last.octave,
        last.done,
        last.size,
    )
    kept = light.x.untyped_storage().nbytes() + light.maps.untyped_storage().nbytes()
    assert kept <= 8 and last.x.untyped_storage().nbytes() >= 96 * 128 * 3 * 4
