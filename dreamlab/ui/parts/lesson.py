"""Guided lessons: ``?lesson=cnn`` walks the source blog post, one page and its settings per step.

A lesson is a small TOML file in the app's lessons folder (``dreamlab/ui/lessons/NAME.toml``): a
title and steps, each a page, its settings as an address query, a title and a note, in English and
French (English is used where French is missing). ``?lesson=NAME`` opens one by name: names only,
never paths. The address carries ``lesson`` and ``step`` (counted from 1), so a step is a link too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

import streamlit as st
import tomllib

from dreamlab.ui import query
from dreamlab.ui.i18n import DEFAULT_LANG, current_lang, t
from dreamlab.ui.theme import presenting

__all__ = [
    "LESSONS_DIR",
    "Lesson",
    "LessonError",
    "Step",
    "lesson_names",
    "load_lesson",
    "panel",
    "route",
    "sidebar_entry",
]

LESSONS_DIR = Path(__file__).parents[1] / "lessons"  # dreamlab/ui/lessons
DEFAULT_LESSON = "cnn"
PAGES = ("convolution", "feature_maps", "deepdream", "feature_vis", "train")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_STATE = "lesson_at"  # session key: (name, step) this session last went to
_GO = "lesson_go"  # session key: (name, step) a button asked for, routed on the next run
_MAX_STEPS = 50
_MAX_BYTES = 200_000


class LessonError(ValueError):
    """A lesson that cannot be opened; ``problem`` (``unknown`` name or ``bad`` file) picks its
    one line in the lesson catalogue (``lesson.error_<problem>``)."""

    def __init__(self, message: str, problem: str = "bad") -> None:
        super().__init__(message)
        self.problem = problem


@dataclass(frozen=True)
class Step:
    """One step: a page, its settings (address parameters), a title and a note per language."""

    page: str
    params: dict[str, str]
    title: dict[str, str]
    note: dict[str, str]


@dataclass(frozen=True)
class Lesson:
    """A lesson: its name, title per language and steps."""

    name: str
    title: dict[str, str]
    steps: tuple[Step, ...]


def lesson_names() -> list[str]:
    """The lessons in the app's lessons folder, by name (the default one first)."""
    names = sorted(p.stem for p in LESSONS_DIR.glob("*.toml") if _NAME.match(p.stem))
    return sorted(names, key=lambda n: n != DEFAULT_LESSON)


def _texts(table: object, what: str) -> dict[str, str]:
    """``{"en": ..., "fr": ...}`` (English required), or a LessonError."""
    if not isinstance(table, dict) or not isinstance(table.get(DEFAULT_LANG), str):
        raise LessonError(f"{what} needs an English text ({what}.en)")
    return {k: str(v).strip() for k, v in table.items() if isinstance(v, str)}


def _step(raw: object, index: int) -> Step:
    if not isinstance(raw, dict) or raw.get("page") not in PAGES:
        raise LessonError(f"step {index}: page must be one of {', '.join(PAGES)}")
    text = raw.get("query", "")
    if not isinstance(text, str) or len(text) > 2000:
        raise LessonError(f"step {index}: query must be a short text")
    params = dict(parse_qsl(text.lstrip("?")))
    return Step(
        raw["page"],
        params,
        _texts(raw.get("title"), f"step {index} title"),
        _texts(raw.get("note"), f"step {index} note"),
    )


def load_lesson(name: str) -> Lesson:
    """The lesson ``name`` from the lessons folder (a name, never a path), checked."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise LessonError(f"no lesson named {name[:40]!r}", problem="unknown")
    path = LESSONS_DIR / f"{name}.toml"
    if not path.is_file():
        raise LessonError(f"no lesson named {name!r}", problem="unknown")
    return _parse(name, path.read_bytes()[: _MAX_BYTES + 1])


def _parse(name: str, data: bytes) -> Lesson:
    if len(data) > _MAX_BYTES:
        raise LessonError("the lesson file is too large")
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LessonError(f"the lesson file does not read as TOML: {exc}") from None
    steps = raw.get("steps")
    if not isinstance(steps, list) or not 1 <= len(steps) <= _MAX_STEPS:
        raise LessonError(f"a lesson has 1 to {_MAX_STEPS} [[steps]]")
    return Lesson(
        name,
        _texts(raw.get("title"), "title"),
        tuple(_step(s, i + 1) for i, s in enumerate(steps)),
    )


def _text(texts: dict[str, str]) -> str:
    return texts.get(current_lang()) or texts[DEFAULT_LANG]


# ---------------------------------------------------------------- the app's side


def _wanted() -> tuple[str, int] | None:
    """The (lesson, step) a button or the address asks for, or None (no lesson)."""
    go = st.session_state.pop(_GO, None)
    if go is not None:
        return go
    name = st.query_params.get("lesson")
    if name is None:
        return None
    try:
        step = int(st.query_params.get("step", "1"))
    except ValueError:
        step = 1
    return name, step


def route() -> tuple[str, dict[str, str]] | None:
    """The page (its name in ``ui/app.py``'s PAGES) and query to switch to when a lesson's step
    changes (opened, **Next**, **Previous**); None when the current page is the step's already.

    An unknown or broken lesson gives one line and the page as it is.
    """
    wanted = _wanted()
    if wanted is None:
        st.session_state.pop(_STATE, None)
        return None
    name, step = wanted
    try:
        lesson = load_lesson(name)
    except LessonError as exc:
        st.warning(t(f"lesson.error_{exc.problem}", name=name[:40], reason=str(exc)), icon="⚠️")
        st.session_state.pop(_STATE, None)
        return None
    step = min(max(step, 1), len(lesson.steps))
    if st.session_state.get(_STATE) == (name, step):
        return None
    st.session_state[_STATE] = (name, step)
    target = lesson.steps[step - 1]
    query.reset(target.page)  # the step's settings replace the page's, defaults for the rest
    keep = {k: v for k, v in st.query_params.to_dict().items() if k in ("lang", "present")}
    return target.page, {**keep, **target.params, "lesson": name, "step": str(step)}


def panel() -> None:
    """The current step above the page: lesson title, "step k of n", the step's title and note,
    **Previous** / **Next** (large in presenter mode)."""
    at = st.session_state.get(_STATE)
    if at is None or "lesson" not in st.query_params:
        return
    try:
        lesson = load_lesson(at[0])
    except LessonError:
        return
    k, n = at[1], len(lesson.steps)
    step = lesson.steps[k - 1]
    with st.container(border=True, key="lesson_panel"):
        if presenting():
            st.markdown(_PRESENTER_CSS, unsafe_allow_html=True)
        st.caption(f"{_text(lesson.title)} · {t('lesson.step_of', k=k, n=n)}")
        st.markdown(f"### {_text(step.title)}")
        st.markdown(_text(step.note))
        prev, nxt, leave = st.columns(3)
        prev.button(
            t("lesson.previous"),
            key="lesson_prev",
            disabled=k <= 1,
            on_click=_go,
            args=(lesson.name, k - 1),
            icon=":material/arrow_back:",
            width="stretch",
        )
        nxt.button(
            t("lesson.next"),
            key="lesson_next",
            type="primary",
            disabled=k >= n,
            on_click=_go,
            args=(lesson.name, k + 1),
            icon=":material/arrow_forward:",
            width="stretch",
        )
        leave.button(t("lesson.leave"), key="lesson_leave", on_click=_leave, width="stretch")


# Presenter mode: the step's title and note large enough to read from the back of the room.
_PRESENTER_CSS = """
<style>
.st-key-lesson_panel h3 { font-size: 2.6rem !important; }
.st-key-lesson_panel [data-testid="stMarkdownContainer"] p { font-size: 1.7rem !important; }
</style>
"""


def _go(name: str, step: int) -> None:
    st.session_state[_GO] = (name, step)


def _leave() -> None:
    for key in ("lesson", "step"):
        st.query_params.pop(key, None)
    st.session_state.pop(_STATE, None)


def sidebar_entry() -> None:
    """**Lesson** in the sidebar: starts the guided lesson (a choice when the folder has more)."""
    names = lesson_names()
    if not names:
        return
    with st.sidebar:
        name = names[0]
        if len(names) > 1:
            name = st.selectbox(t("lesson.pick"), names, key="lesson_pick")
        st.button(
            t("lesson.entry"),
            key="lesson_start",
            on_click=_go,
            args=(name, 1),
            icon=":material/school:",
            width="stretch",
        )
