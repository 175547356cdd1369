"""Training the seed's small CNN live: its settings, data sets, loop, a page's run, and its store.

- :mod:`~dreamlab.train.config`: :class:`TrainConfig` (every default) and ``PRESETS`` (the seed's);
- :mod:`~dreamlab.train.datasets`: synthetic shapes and torchvision data sets;
- :mod:`~dreamlab.train.loop`: ``train()``, a generator of ``TrainStep`` / ``EvalResult``;
- :mod:`~dreamlab.train.session`: ``TrainingRun``, one run as a page drives it;
- :mod:`~dreamlab.train.store`: trained models kept for a session or saved for everyone.

This package is itself callable as ``train`` (as :mod:`dreamlab.dream` is as ``dream``):
``import dreamlab.train`` puts the *package* on ``dreamlab.train``, so the package and the
function must be one object for ``dreamlab.train(...)`` and ``from dreamlab import train`` to keep
meaning the function.
"""

import inspect as _inspect
import sys as _sys
import types as _types
from collections.abc import Iterator as _Iterator
from typing import Any as _Any

from dreamlab.train.config import OPTIMIZERS, PRESETS, TrainConfig, TrainPreset
from dreamlab.train.loop import EvalResult, TrainStep
from dreamlab.train.loop import train as _train

__all__ = [
    "OPTIMIZERS",
    "PRESETS",
    "EvalResult",
    "TrainConfig",
    "TrainPreset",
    "TrainStep",
    "train",
]


class _CallablePackage(_types.ModuleType):
    """The ``dreamlab.train`` package, callable as :func:`dreamlab.train.loop.train`."""

    def __call__(self, *args: _Any, **kwargs: _Any) -> _Iterator[TrainStep | EvalResult]:
        return _train(*args, **kwargs)


train = _sys.modules[__name__]
train.__class__ = _CallablePackage
train.__signature__ = _inspect.signature(_train)
train.__wrapped__ = _train
