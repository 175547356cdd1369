"""The Train a CNN page through AppTest: controls, a short training, a kept Stop, bad data sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from dreamlab.models import list_models
from dreamlab.training import TrainConfig, TrainStep, train
from tests.ui.conftest import assert_clean, page_app


@pytest.fixture(autouse=True)
def _own_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Trained models go to a temp folder; no torchvision data set is on disk."""
    monkeypatch.setenv("DREAMLAB_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("DREAMLAB_DATA", str(tmp_path / "data"))
    return tmp_path / "models"


def _texts(at) -> str:
    return "\n".join(str(m.value) for m in [*at.markdown, *at.caption, *at.success, *at.info])


def _small(at):
    """One short epoch on 200 images (the smallest settings the page offers)."""
    at.select_slider(key="train_size_shapes").set_value(200)
    at.slider(key="train_epochs").set_value(1)
    return at


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_page_renders_controls_and_architecture(lang: str) -> None:
    at = page_app("train", lang=lang).run()
    assert_clean(at)
    if lang == "en":
        assert at.title[0].value == "Train a CNN"
        labels = [b.label for b in at.button]
        assert "Train" in labels and "Stop" in labels
        assert at.selectbox(key="train_dataset").label == "Data set"
        assert at.select_slider(key="train_lr").label == "Learning rate"
        assert at.select_slider(key="train_batch").label == "Batch size"
        assert at.slider(key="train_epochs").label == "Epochs"
        assert at.radio(key="train_optimizer").label == "Optimizer"
    table = at.dataframe[0].value
    assert len(table) == 13  # the input, the 11 modules and the flatten
    assert table.iloc[:, 3].sum() == 62006
    assert "62,006" in _texts(at)
    assert at.select_slider(key="train_lr").value == TrainConfig().lr


def test_a_short_training_shows_results_and_registers_the_model(_own_folders: Path) -> None:
    at = _small(page_app("train").run())
    at.button(key="train_start").click().run()
    assert_clean(at)
    text = _texts(at)
    assert "Trained: test accuracy" in text
    assert len(at.metric) == 1 and at.metric[0].value.endswith("%")
    assert len(at.get("vega_lite_chart")) == 3  # loss, accuracy, confusion matrix
    assert len(at.get("image")) >= 2  # filters and test images
    assert at.get("download_button")
    saved = list(_own_folders.glob("tiny_cnn_shapes_*.pt"))
    assert len(saved) == 1
    name = saved[0].stem
    assert name in {m.name for m in list_models()}
    assert name.split("_")[-1][:6] in at.success[0].value
    at.run()  # a rerun draws the same results from the session, without training again
    assert_clean(at)
    assert "Trained: test accuracy" in _texts(at)
    assert len(list(_own_folders.glob("*.pt"))) == 1


def test_a_stopped_run_is_evaluated_and_saved_on_the_next_run(_own_folders: Path) -> None:
    """A Stop leaves the run "stopped" with its weights; the next script run finishes it."""
    from dreamlab.ui.train import _Run

    config = TrainConfig(train_size=200, test_size=100, epochs=5, device="cpu")
    run = _Run(config)
    for item in train(config):
        if isinstance(item, TrainStep):
            run.add_step(item)
            if item.step == 4:
                run.snapshot = item.state_dict()
                break
        else:
            run.add_eval(item)
    run.status = "stopped"
    run.finished.set()
    at = page_app("train")
    at.session_state["train_run"] = run
    at.run()
    assert_clean(at)
    assert "Stopped at epoch 1, batch 4: the network trained so far is kept (test accuracy" in (
        _texts(at)
    )
    assert at.get("download_button") and len(at.metric) == 1
    assert len(list(_own_folders.glob("*.pt"))) == 1


def test_articles_settings_button_sets_sgd() -> None:
    at = page_app("train").run()
    at.button(key="train_seed_settings").click().run()
    assert_clean(at)
    assert at.radio(key="train_optimizer").value == "sgd"
    assert at.select_slider(key="train_lr").value == 0.001
    assert at.select_slider(key="train_batch").value == 4
    assert not at.slider(key="train_momentum").disabled


def test_an_unavailable_data_set_says_why_and_disables_train() -> None:
    at = page_app("train").run()
    at.selectbox(key="train_dataset").set_value("cifar10").run()
    assert_clean(at)
    assert at.warning and "CIFAR-10 cannot be used here" in at.warning[0].value
    assert at.button(key="train_start").disabled
    at.selectbox(key="train_dataset").set_value("shapes").run()
    assert not at.button(key="train_start").disabled


def test_french_training_run_is_clean() -> None:
    at = _small(page_app("train", lang="fr").run())
    at.button(key="train_start").click().run()
    assert_clean(at)
    assert "Entraîné : précision sur le test" in _texts(at)


def test_presenter_mode_folds_the_secondary_settings() -> None:
    at = page_app("train", present=True).run()
    assert_clean(at)
    assert len(at.expander) == 2  # the lesson and the secondary settings
    assert at.slider(key="train_momentum").label == "Momentum (SGD)"
