"""The Train a CNN page through AppTest: controls, a short training kept for its session only,
Save for everyone, a kept Stop, bad data sets."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dreamlab.models import list_models
from dreamlab.train.config import TrainConfig
from dreamlab.train.loop import TrainStep, train
from dreamlab.ui.i18n import set_outside_run_lang
from tests.ui.conftest import assert_clean, page_app

pytestmark = pytest.mark.usefixtures("own_registry")

# The Train page, then a model picker of the same session (what the other pages draw).
_WITH_PICKER = """
import streamlit as st
from dreamlab.ui.parts.layout import setup_sidebar
from dreamlab.ui.parts.model_picker import model_picker
from dreamlab.ui.pages import train
setup_sidebar()
train.render()
model = model_picker("probe")
st.session_state["probe_loaded"] = None if model is None else (model.name, model.categories)
"""


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


def _with_picker() -> AppTest:
    """The Train page and a model picker in one session, in English."""
    set_outside_run_lang("en")
    return AppTest.from_string(_WITH_PICKER, default_timeout=120)


def _trained(with_picker: bool = False) -> AppTest:
    at = _small((_with_picker() if with_picker else page_app("train")).run())
    at.button(key="train_start").click().run()
    assert_clean(at)
    return at


def _probe_options(at: AppTest) -> list[str]:
    return list(at.selectbox(key="probe_model").options)


def test_a_short_training_is_kept_for_its_session_only(_own_folders: Path) -> None:
    at = _trained(with_picker=True)
    text = _texts(at)
    assert "Trained: test accuracy" in text
    assert len(at.metric) == 1 and at.metric[0].value.endswith("%")
    assert len(at.get("vega_lite_chart")) == 3  # loss, accuracy, confusion matrix
    assert len(at.get("image")) >= 2  # filters and test images
    assert at.get("download_button")
    assert not _own_folders.exists()  # nothing on disk...
    (name,) = at.session_state["session_models"]
    assert name.startswith("tiny_cnn_shapes_")
    assert name not in {m.name for m in list_models()}  # ...nor registered for everyone
    assert "Kept for this session" in at.success[0].value
    assert name.split("_")[-1][:6] in at.success[0].value
    assert any(name.split("_")[-1][:6] in o for o in _probe_options(at))  # the other pages' pickers
    at.selectbox(key="probe_model").set_value(
        name
    ).run()  # a rerun draws the same results from the session, without training again
    assert_clean(at)
    assert "Trained: test accuracy" in _texts(at)
    loaded, categories = at.session_state["probe_loaded"]
    assert loaded == name and categories[0] == "circle"  # the shapes classes, this session's net
    other = _with_picker().run()  # another browser
    assert_clean(other)
    assert not any(name.split("_")[-1][:6] in o for o in _probe_options(other))
    assert "session_models" not in other.session_state


def test_save_for_everyone_refuses_a_bad_name_then_saves(_own_folders: Path) -> None:
    at = _trained()
    assert at.button(key="train_save").label == "Save for everyone"
    assert at.text_input(key="train_model_name").label == "Model name"
    at.text_input(key="train_model_name").input("my model").run()
    at.button(key="train_save").click().run()
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    assert "1 to 40 letters, digits, - or _" in at.error[0].value
    assert not _own_folders.exists()
    at.text_input(key="train_model_name").input("efficientnet_lite0").run()
    at.button(key="train_save").click().run()
    assert "already exists" in at.error[0].value
    at.text_input(key="train_model_name").input("class_shapes").run()
    at.button(key="train_save").click().run()
    assert_clean(at)
    assert "Saved for everyone as the model **class_shapes**" in at.success[-1].value
    assert (_own_folders / "class_shapes.pt").is_file()
    assert "class_shapes" in {m.name for m in list_models()}
    other = _with_picker().run()  # every session sees it
    assert any(o.startswith("class_shapes · ") for o in _probe_options(other))


def test_a_stopped_run_is_evaluated_and_kept_on_the_next_run(_own_folders: Path) -> None:
    """A Stop leaves the run "stopped" with its weights; the next script run finishes it."""
    from dreamlab.ui.pages.train import _Run

    config = TrainConfig(train_size=200, test_size=100, epochs=5, device="cpu")
    run = _Run(config)
    frames = train(config)
    for item in frames:
        run.add(item)
        if isinstance(item, TrainStep) and item.step == 4:
            break  # what a Stop click does: the page stops pulling, the generator stays paused
    run.close()
    assert run.status == "stopped" and run.snapshot is not None and run.finished.is_set()
    at = page_app("train")
    at.session_state["train_run"] = run
    at.run()
    assert_clean(at)
    assert "Stopped at epoch 1, batch 4: the network trained so far is kept (test accuracy" in (
        _texts(at)
    )
    assert at.get("download_button") and len(at.metric) == 1
    assert len(at.session_state["session_models"]) == 1 and not _own_folders.exists()


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
    assert "Gardé pour cette session comme le modèle **Petit CNN · " in at.success[0].value
    assert at.button(key="train_save").label == "Enregistrer pour tous"
    assert at.text_input(key="train_model_name").label == "Nom du modèle"


def test_presenter_mode_folds_the_secondary_settings() -> None:
    at = page_app("train", present=True).run()
    assert_clean(at)
    assert len(at.expander) == 2  # the lesson and the secondary settings
    assert at.slider(key="train_momentum").label == "Momentum (SGD)"
