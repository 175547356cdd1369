"""Training the seed's small CNN: the config, the generator's frames, learning, saving, reloading."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from dreamlab.cli import main
from dreamlab.models.tiny_cnn import TinyCNN
from dreamlab.train.datasets import SHAPES_CLASSES
from dreamlab.train.loop import (
    EvalResult,
    TrainConfig,
    TrainStep,
    architecture,
    evaluate_state,
    train,
)
from dreamlab.train.store import load_trained

# Small and fast: 200 training images (13 batches of 16), 100 test images.
SMALL = {"train_size": 200, "test_size": 100, "batch_size": 16, "device": "cpu"}


pytestmark = pytest.mark.usefixtures("own_models_dir")


@pytest.fixture(scope="module")
def run() -> list[TrainStep | EvalResult]:
    """Every frame of one small two-epoch run (shared by the tests that only read it)."""
    return list(train(epochs=2, preview_every=5, **SMALL))


def _final(items: list[TrainStep | EvalResult]) -> EvalResult:
    result = items[-1]
    assert isinstance(result, EvalResult) and result.final
    return result


# ---------------------------------------------------------------- config


def test_config_defaults_and_plain_dict() -> None:
    cfg = TrainConfig()
    assert (cfg.dataset, cfg.optimizer, cfg.batch_size) == ("shapes", "adam", 32)
    d = cfg.to_dict()
    assert d["lr"] == cfg.lr and d["epochs"] == cfg.epochs
    assert all(v is None or isinstance(v, str | int | float) for v in d.values())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"lr": float("nan")}, "learning rate must be a finite number"),
        ({"lr": 0.0}, "learning rate must be between"),
        ({"lr": "0.1"}, "learning rate must be a finite number"),
        ({"batch_size": 0}, "batch size must be between 1 and 4096"),
        ({"epochs": True}, "epochs must be a whole number"),
        ({"epochs": 2.5}, "epochs must be a whole number"),
        ({"momentum": 1.5}, "momentum must be between"),
        ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"),
        ({"dataset": "imagenet"}, "unknown data set 'imagenet'; data sets: shapes"),
        ({"train_size": 3}, "train size must be between 10"),
    ],
)
def test_bad_settings_give_one_clear_line(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        TrainConfig(**overrides)
    assert "\n" not in str(info.value)


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown training setting"):
        next(train(learning_rate=0.1))


# ---------------------------------------------------------------- the generator


def test_frames_come_in_order(run: list[TrainStep | EvalResult]) -> None:
    evals = [i for i in run if isinstance(i, EvalResult)]
    steps = [i for i in run if isinstance(i, TrainStep)]
    assert [e.epoch for e in evals] == [0, 1, 2]
    assert [e.final for e in evals] == [False, False, True]
    assert isinstance(run[0], EvalResult)
    assert len(steps) == 2 * 13 and steps[0].batches == 13
    assert [s.step for s in steps] == list(range(1, 27))
    assert (steps[12].epoch, steps[12].batch, steps[13].epoch, steps[13].batch) == (1, 13, 2, 1)
    assert all(s.filters.shape == (6, 3, 5, 5) for s in steps)
    assert all(0.0 <= s.accuracy <= 1.0 and math.isfinite(s.loss) for s in steps)
    previews = [s.previews for s in steps if s.previews is not None]
    assert len(previews) == 4 and all(len(p) == 10 for p in previews)  # batches 5, 10 of 2 epochs


def test_evaluation_is_consistent(run: list[TrainStep | EvalResult]) -> None:
    result = _final(run)
    assert result.confusion.shape == (10, 10)
    assert result.confusion.sum() == 100
    assert result.accuracy == pytest.approx(result.confusion.trace() / 100)
    assert result.preview_images.shape == (10, 32, 32, 3)
    assert sorted(result.preview_labels) == list(range(10))  # one test image per class
    assert result.classes == SHAPES_CLASSES
    before = run[0]
    assert before.accuracy < 0.3  # about chance before training


def test_loss_falls_over_a_few_batches() -> None:
    steps = [i for i in train(epochs=3, lr=0.003, **SMALL) if isinstance(i, TrainStep)]
    first = sum(s.loss for s in steps[:5]) / 5
    last = sum(s.loss for s in steps[-5:]) / 5
    assert first > 2.0  # about log(10) at the start
    assert last < first - 0.2


def test_same_seed_same_run_and_global_rng_untouched() -> None:
    state = torch.get_rng_state()
    threads = torch.get_num_threads()
    a = [i.loss for i in train(epochs=1, seed=7, **SMALL) if isinstance(i, TrainStep)]
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.get_num_threads() == threads  # the training's own thread setting is undone
    b = [i.loss for i in train(epochs=1, seed=7, **SMALL) if isinstance(i, TrainStep)]
    c = [i.loss for i in train(epochs=1, seed=8, **SMALL) if isinstance(i, TrainStep)]
    assert a == b and a != c


def test_step_state_dict_is_a_copy_of_the_weights_at_that_step() -> None:
    frames = train(epochs=1, **SMALL)
    next(frames)  # the evaluation before training
    step = next(frames)
    kept = step.state_dict()
    assert torch.equal(kept["conv1.weight"], step.filters)
    next(frames)  # one more batch changes the live network, not the copy
    assert torch.equal(kept["conv1.weight"], step.filters)
    assert not torch.equal(step.state_dict()["conv1.weight"], kept["conv1.weight"])
    frames.close()


def test_a_stopped_run_can_be_evaluated(run: list[TrainStep | EvalResult]) -> None:
    result = _final(run)
    again = evaluate_state(result.state_dict, result.config, epoch=2, step=result.step)
    assert again.final and again.accuracy == result.accuracy
    assert (again.confusion == result.confusion).all()
    with pytest.raises(ValueError, match="do not fit"):
        evaluate_state({"w": torch.zeros(1)}, result.config, epoch=1, step=1)


def test_a_diverging_run_stops_with_one_line() -> None:
    with pytest.raises(ValueError, match="training diverged .* try a smaller learning rate"):
        for _ in train(epochs=2, optimizer="sgd", lr=10.0, momentum=0.0, **SMALL):
            pass


# ---------------------------------------------------------------- architecture


def test_architecture_is_measured() -> None:
    rows = architecture()
    by_name = {r.name: r for r in rows}
    assert [r.name for r in rows][:7] == [
        "conv1",
        "relu1",
        "pool1",
        "conv2",
        "relu2",
        "pool2",
        "flatten",
    ]
    assert by_name["conv1"].output_shape == (6, 28, 28)
    assert by_name["pool2"].output_shape == (16, 5, 5)
    assert by_name["flatten"].output_shape == (400,)
    assert by_name["fc3"].output_shape == (10,)
    assert by_name["conv1"].params == 6 * 3 * 5 * 5 + 6
    assert sum(r.params for r in rows) == sum(p.numel() for p in TinyCNN().parameters()) == 62006
    assert len(architecture(num_classes=4)) == len(rows)
    assert architecture(num_classes=4)[-1].output_shape == (4,)


# ---------------------------------------------------------------- CLI


def test_cli_trains_and_saves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.pt"
    code = main(
        [
            "train",
            "--epochs",
            "1",
            "--train-size",
            "100",
            "--batch-size",
            "20",
            "--seed",
            "1",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("epoch 0/1") and lines[1].startswith("epoch 1/1  train loss")
    assert lines[-1].startswith(f"saved {out} (test accuracy")
    state, meta = load_trained(out)
    assert meta["config"]["train_size"] == 100 and "conv1.weight" in state


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lr", "0"], "error: learning rate must be between"),
        (["--dataset", "cifar10"], "error: CIFAR-10 is not available: offline"),
        (["--optimizer", "rms"], "error: argument --optimizer: invalid choice"),
    ],
)
def test_cli_bad_input_is_one_line(
    argv: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DREAMLAB_DATA", str(tmp_path / "data"))
    assert main(["train", *argv, "-o", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_the_seed_preset_is_the_seeds_run() -> None:
    """The blog's settings (SGD, lr 0.001, momentum 0.9, batches of 4) beside DreamLab's default."""
    from dreamlab.train import PRESETS, TrainConfig

    seed = PRESETS["seed"].config
    assert (seed.optimizer, seed.lr, seed.momentum, seed.batch_size) == ("sgd", 0.001, 0.9, 4)
    assert PRESETS["default"].config == TrainConfig()
