"""Every page in French, walked headless: no English word may reach the screen.

Every string an element carries (titles, labels, options, help texts, captions, alerts, table
headers...) is read from the page's protobuf messages and split into words. A word fails if it is
a common English UI word or a word of the English catalogue that the French catalogue never uses,
unless it is a proper noun (a model, a data set, a library) or code.
"""

from __future__ import annotations

import re

import pytest
from google.protobuf.message import Message

from dreamlab.ui.app import PAGES
from dreamlab.ui.i18n import catalogue
from tests.ui.conftest import page_app


def _words_of(text: str) -> set[str]:
    return set(re.split(r"\s+", text))


# Common English words of user interfaces: they must never show in French.
COMMON_ENGLISH = _words_of(
    """
    the and with from into of for this that these those your you are is was were will would
    can cannot could should must not no yes none all any each every some more less most least
    click pick choose upload download loading loaded downloading waiting running stopped finished
    start stop play step reset apply run show hide open close settings setting advanced options
    image images photo photos picture model models layer layers channel channels weights weight
    kernel kernels filter filters output input size width height sample samples random seed
    embedded cached downloadable unavailable untrained trained training accuracy offline online
    cache torch downsized enlarged error warning note only then when where which while what how
    why before after above below left right top bottom first last next previous value values
    shared per scale colour color colors colours map maps grid tile tiles field receptive
    probability class label predictions prediction shapes synthetic test train epochs epoch loss
    """.strip()
)
# Names and code that are the same in both languages.
ALLOWED = _words_of(
    """
    dreamlab efficientnet lite0 lite vgg19 vgg16 googlenet resnet alexnet imagenet pytorch torch
    torchvision lucent lucid cifar mnist fashion cnn relu relu6 rgb png gif mp4 json jpeg webp bmp
    tiff cpu gpu cuda mps auto sobel prewitt laplacian gaussian chelsea astronaut coffee tabby adam
    sgd fft dreamlab_classify blocks conv stem head features inception deepdream
    """.strip()
)
_WORD = re.compile(r"[A-Za-zÀ-ÿ]+(?:'[A-Za-z]+)?")
# Fields that hold identifiers, URLs, data or formats, never text a person reads.
_SKIP_FIELDS = {
    "id",
    "form_id",
    "key",
    "url",
    "src",
    "type",
    "format",
    "icon",
    "data",
    "spec",
    "css",
    "arrow_data",
    "styler",
    "value_json",
    "component_name",
    "json_args",
    "page_script_hash",
    "page_name",
    "url_path",
    "page_hash",
    "vega_lite_chart",
    "theme",
    "column_config",
    "markdown_allowed",
    "selected",
}


def _strings(msg: Message) -> list[str]:
    """Every string field of a protobuf message, recursively, but identifiers and data."""
    found = []
    for field, value in msg.ListFields():
        if field.name in _SKIP_FIELDS:
            continue
        items = value if field.is_repeated else [value]
        for item in items:
            # JSON is data and <style> is the presenter CSS: neither is text a person reads
            if isinstance(item, str) and not item.lstrip().startswith(("{", "[", "<style")):
                found.append(item)
            elif isinstance(item, Message):
                found.extend(_strings(item))
    return found


def _walk(node) -> list[str]:
    found = []
    proto = getattr(node, "proto", None)
    if isinstance(proto, Message):
        found.extend(_strings(proto))
    for child in getattr(node, "children", {}).values():
        found.extend(_walk(child))
    return found


def _english_words() -> set[str]:
    words = lambda texts: {w.lower() for text in texts for w in _WORD.findall(text)}  # noqa: E731
    en, fr = words(catalogue("en").values()), words(catalogue("fr").values())
    return ((en - fr) | COMMON_ENGLISH) - fr - ALLOWED


def _clean(text: str) -> str:
    """Drop what is code, not language: LaTeX, `code`, layer names, file names, URLs."""
    text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\\[a-zA-Z]+", " ", text)
    text = re.sub(r"\S*(?:\w[_./:]\w|_)\S*", " ", text)  # _blocks.9, chelsea.png, features:30
    return text


def _assert_french(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    english = _english_words()
    shown = [_clean(s) for s in _walk(at._tree)]
    found = sorted({w for s in shown for w in _WORD.findall(s) if w.lower() in english})
    context = [s for s in shown if any(re.search(rf"\b{w}\b", s) for w in found)][:8]
    assert not found, (found, context)


@pytest.mark.parametrize("name", [name for name, *_ in PAGES])
def test_french_pages_show_no_english(name: str) -> None:
    _assert_french(page_app(name, lang="fr").run())


def test_french_feature_maps_of_the_untrained_cnn_and_presenter_mode() -> None:
    at = page_app("feature_maps", lang="fr", present=True).run()
    at.selectbox(key="fm_model").set_value("tiny_cnn").run()
    _assert_french(at)


def test_french_convolution_with_a_large_kernel_and_the_sliding_window_played() -> None:
    at = page_app("convolution", lang="fr").run()
    at.selectbox(key="conv_preset").set_value("laplacian_of_gaussian").run()
    at.select_slider(key="conv_size").set_value(11).run()
    at.button(key="conv_slide_step").click().run()
    _assert_french(at)
