"""Both catalogues have the same keys, and the placeholders in each string agree."""

from __future__ import annotations

import string

from dreamlab.ui.i18n import LANGS, catalogue, translate


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
