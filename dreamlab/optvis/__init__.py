"""Feature visualization, lucent-style, in pure PyTorch (no lucent, no kornia).

``visualize(model, "_blocks.9:12")`` optimizes an image from noise so channel 12 of ``_blocks.9``
fires as much as possible, with Lucid's regularization: an FFT, colour-decorrelated parameterization
and random transforms. Objectives compose (``channel(...) + 10 * diversity(...)``); they, the
transforms, the fast model copy and Adam come from the optimization core (:mod:`dreamlab.ascent`).
"""

from dreamlab.ascent.objectives import (
    LOGITS,
    Objective,
    as_objective,
    channel,
    channels,
    class_logit,
    deepdream,
    direction,
    diversity,
    layer,
    neuron,
)
from dreamlab.optvis.render import (
    LUCENT_STEPS,
    FeatureVisConfig,
    VisFrame,
    facets,
    gallery,
    layer_width,
    objective_value,
    visualize,
)

__all__ = [
    "LOGITS",
    "LUCENT_STEPS",
    "FeatureVisConfig",
    "Objective",
    "VisFrame",
    "as_objective",
    "channel",
    "channels",
    "class_logit",
    "deepdream",
    "direction",
    "diversity",
    "facets",
    "gallery",
    "layer",
    "layer_width",
    "neuron",
    "objective_value",
    "visualize",
]
