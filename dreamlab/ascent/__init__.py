"""The one optimization core that DeepDream and feature visualization both drive.

- :mod:`~dreamlab.ascent.objectives`: what grows (the DeepDream family with the norm and
  mean-square kinds, channel, neuron, direction, class logit, diversity, guide), composable;
- :mod:`~dreamlab.ascent.capture`: the one activation capture (hooks that stop the forward pass);
- :mod:`~dreamlab.ascent.fastcopy`: the fast private model copy (truncated, BatchNorm folded,
  frozen, channels-last, free of anyone else's hooks);
- :mod:`~dreamlab.ascent.graphs`: CUDA-graph capture and replay of a step;
- :mod:`~dreamlab.ascent.transforms`: roll and crop jitter, pad, scale, rotate (one matrix);
- :mod:`~dreamlab.ascent.octaves`: the octave schedule;
- :mod:`~dreamlab.ascent.steppers`: the normalized gradient step and Adam.

DeepDream (:mod:`dreamlab.dream`) = octave schedule + pixel image + normalized step;
feature visualization (:mod:`dreamlab.optvis`) = FFT or pixel image + transforms + Adam.
This package imports neither of them.
"""

from dreamlab.ascent.capture import StopForward, capture, forward_until
from dreamlab.ascent.fastcopy import FastModel, fast_model, require_model
from dreamlab.ascent.objectives import (
    DEEPDREAM_KINDS,
    LOGITS,
    Objective,
    as_objective,
    channel,
    class_logit,
    deepdream,
    direction,
    guide,
    neuron,
)
from dreamlab.ascent.octaves import octave_sizes, resize
from dreamlab.ascent.steppers import AdamStep, NormalizedStep
from dreamlab.ascent.transforms import Roll, standard_transforms

__all__ = [
    "DEEPDREAM_KINDS",
    "LOGITS",
    "AdamStep",
    "FastModel",
    "NormalizedStep",
    "Objective",
    "Roll",
    "StopForward",
    "as_objective",
    "capture",
    "channel",
    "class_logit",
    "deepdream",
    "direction",
    "fast_model",
    "forward_until",
    "guide",
    "neuron",
    "octave_sizes",
    "require_model",
    "resize",
    "standard_transforms",
]
