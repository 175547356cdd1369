"""TrainingRun: smoothed curves, the status machine, a stopped run kept and evaluated."""

from __future__ import annotations

import pytest
import torch

from dreamlab.train.config import TrainConfig
from dreamlab.train.loop import EvalResult, TrainStep, train
from dreamlab.train.session import SMOOTH_MAX, SMOOTH_SPAN, TrainingRun

CONFIG = TrainConfig(train_size=200, test_size=100, batch_size=16, epochs=2, device="cpu")


def _fed(stop_after: int | None = None) -> TrainingRun:
    """A run fed from a real training, broken off after ``stop_after`` batches, then closed."""
    run = TrainingRun(CONFIG)
    for item in train(CONFIG):
        run.add(item)
        if stop_after is not None and isinstance(item, TrainStep) and item.step == stop_after:
            break
    else:
        run.mark_done()
    run.close()
    return run


@pytest.fixture(scope="module")
def done() -> TrainingRun:
    return _fed()


def test_a_finished_run(done: TrainingRun) -> None:
    assert done.status == "done" and done.finished.is_set() and not done.pending
    assert done.result is not None and done.result.final and done.result.epoch == 2
    assert [e[0] for e in done.evals] == [0.0, 1.0, 2.0]
    assert len(done.x) == len(done.loss) == len(done.acc) == 2 * 13  # 13 batches of 16
    assert done.x[-1] == pytest.approx(2.0) and done.fraction == 1.0
    assert done.filters is not None and done.filters.shape == (6, 3, 5, 5)
    assert done.filter_scale >= float(abs(done.filters).max()) > 0.01  # over the whole run
    assert done.classes[0] == "circle" and len(done.preview_images) == 10


def _step(loss: float, acc: float, batches: int, batch: int = 1) -> TrainStep:
    filters = torch.full((6, 3, 5, 5), loss)  # (6, 3, 5, 5)
    return TrainStep(1, batch, batches, batch, loss, loss, acc, acc, filters)


def test_curves_are_smoothed_with_weight_span_over_batches_at_most_max() -> None:
    run = TrainingRun(CONFIG)
    run.add(_step(2.0, 0.0, batches=100))
    run.add(_step(1.0, 1.0, batches=100, batch=2))
    alpha = SMOOTH_SPAN / 100
    assert run.loss == [2.0, pytest.approx(2.0 - alpha)]
    assert run.acc == [0.0, pytest.approx(alpha)]
    short = TrainingRun(CONFIG)
    short.add(_step(2.0, 0.0, batches=4))
    short.add(_step(1.0, 1.0, batches=4, batch=2))
    assert short.loss[-1] == pytest.approx(2.0 - SMOOTH_MAX)  # capped: 10/4 would overshoot
    assert short.filter_scale == 2.0  # the largest |w| seen, not the latest
    assert short.position == (1, 2, 4) and short.fraction == pytest.approx(2 / 4 / CONFIG.epochs)


def test_a_stopped_run_keeps_its_last_batch_and_is_evaluated_once() -> None:
    run = _fed(stop_after=5)
    assert run.status == "stopped" and run.pending and run.result is None
    assert run.snapshot is not None and run.step == 5
    run.finish()
    assert not run.pending and run.snapshot is None
    result = run.result
    assert isinstance(result, EvalResult) and result.final and result.step == 5
    assert result.epoch == 1 and run.evals[-1][1] == result.accuracy
    evals = len(run.evals)
    run.finish()  # once only
    assert run.result is result and len(run.evals) == evals


def test_a_run_stopped_right_after_an_evaluation_reuses_it() -> None:
    run = TrainingRun(CONFIG)
    frames = train(CONFIG)
    for item in frames:
        run.add(item)
        if isinstance(item, EvalResult) and item.epoch == 1:
            break
    run.close()
    assert run.status == "stopped" and run.snapshot is None and run.pending
    run.finish()
    assert run.result is not None and run.result.final and run.result.epoch == 1
    assert run.result.accuracy == run.latest.accuracy


def test_stopped_before_any_batch_has_nothing_to_evaluate() -> None:
    run = TrainingRun(CONFIG)
    run.add(next(iter(train(CONFIG))))  # the evaluation before training only
    run.close()
    assert run.status == "stopped" and not run.pending
    run.finish()
    assert run.result is None


@pytest.mark.parametrize("first", ["done", "error", "stopped"])
def test_a_finished_status_never_moves_again(first: str) -> None:
    run = TrainingRun(CONFIG)
    {"done": run.mark_done, "error": lambda: run.mark_failed("boom"), "stopped": run.close}[first]()
    assert run.status == first and run.finished.is_set() == (first == "stopped")
    for move in (run.mark_done, lambda: run.mark_failed("again")):
        with pytest.raises(ValueError, match=f"a {first} run cannot become"):
            move()
    run.close()
    assert run.status == first and run.error == ("boom" if first == "error" else "")
