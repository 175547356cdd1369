"""The command line re-types no choice or default: each comes from the engine's own config."""

from __future__ import annotations

import argparse

from dreamlab.cli import build_parser


def _options(command: str) -> dict[str, argparse.Action]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {
        opt: action for action in sub.choices[command]._actions for opt in action.option_strings
    }


def test_train_choices_and_defaults_are_the_configs() -> None:
    from dreamlab.train.config import OPTIMIZERS, TrainConfig
    from dreamlab.train.datasets import dataset_names

    train = _options("train")
    assert list(train["--dataset"].choices) == dataset_names()
    assert train["--dataset"].default == TrainConfig().dataset
    assert tuple(train["--optimizer"].choices) == OPTIMIZERS


def test_dream_and_convolve_choices_are_the_configs() -> None:
    from dreamlab.convolution import BOUNDARIES, DEFAULT_VIEW, MODES, VIEWS, ConvConfig
    from dreamlab.dream.coherence import METHODS
    from dreamlab.dream.config import OBJECTIVES, PRECISIONS
    from dreamlab.dream.video import VideoConfig
    from dreamlab.optvis.param import PARAMS

    dream = _options("dream")
    assert tuple(dream["--objective"].choices) == OBJECTIVES
    assert tuple(dream["--precision"].choices) == PRECISIONS
    assert tuple(dream["--coherence"].choices) == METHODS
    assert dream["--coherence"].default == VideoConfig().coherence
    assert tuple(_options("visualize")["--param"].choices) == PARAMS
    conv = _options("convolve")
    assert tuple(conv["--mode"].choices) == MODES
    assert tuple(conv["--boundary"].choices) == BOUNDARIES
    assert set(conv["--view"].choices) == set(VIEWS)
    assert conv["--view"].default == DEFAULT_VIEW
    defaults = ConvConfig()
    for name in ("stride", "padding", "dilation", "mode", "boundary"):
        assert conv[f"--{name}"].default == getattr(defaults, name), name


def test_the_default_model_and_the_service_limits_are_named_once() -> None:
    from dreamlab.models import DEFAULT_MODEL
    from dreamlab.serve.service import Caps

    for command in ("classify", "visualize"):
        assert _options(command)["--model"].default == DEFAULT_MODEL
    serve = _options("serve")
    caps = Caps()
    assert serve["--max-batch"].default == caps.max_batch
    assert serve["--queue"].default == caps.max_waiting
    assert serve["--gather"].default == caps.gather_s
