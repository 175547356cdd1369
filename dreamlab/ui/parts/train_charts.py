"""The "Train a CNN" page's pictures: the network's layers, the loss and accuracy curves, the
first layer's filters, the preview predictions and the confusion matrix, read from a
:class:`~dreamlab.train.session.TrainingRun`."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dreamlab.train.loop import architecture
from dreamlab.train.session import TrainingRun
from dreamlab.ui.i18n import t
from dreamlab.viz import mosaic

__all__ = ["confusion_chart", "curve_chart", "filter_image", "preview_image", "show_architecture"]

_MAX_POINTS = 400  # points per curve sent to the browser


@st.cache_data(show_spinner=False)
def _layers() -> list[tuple[str, str, str, int]]:
    """The network's layers, measured once per server."""
    return [
        (r.name, f"{r.kind} {r.detail}".strip(), " x ".join(map(str, r.output_shape)), r.params)
        for r in architecture()
    ]


def _architecture_rows() -> list[tuple[str, str, str, int]]:
    return [(t("train.input"), "", "3 x 32 x 32", 0), *_layers()]


def show_architecture() -> None:
    st.subheader(t("train.architecture"))
    rows = _architecture_rows()
    names = [t("train.layer"), t("train.kind"), t("train.shape"), t("train.params")]
    st.dataframe(
        {name: [r[i] for r in rows] for i, name in enumerate(names)},
        hide_index=True,
        width=700,
        height=36 * (len(rows) + 1) + 3,  # every row visible, no inner scrolling
        column_config={
            names[0]: st.column_config.TextColumn(width="small"),
            names[1]: st.column_config.TextColumn(width="medium"),
            names[2]: st.column_config.TextColumn(width="small"),
            names[3]: st.column_config.NumberColumn(width="small", format="localized"),
        },
    )
    st.caption(t("train.total_params", total=f"{sum(r[3] for r in rows):,}"))


def _thin(values: list[float]) -> list[float]:
    step = max(1, len(values) // _MAX_POINTS)
    return values[::step]


def curve_chart(run: TrainingRun, train_values: list[float], col: int, title: str) -> alt.Chart:
    """Smoothed per-batch values as a line, test-set values per epoch as points on a line."""
    x = _thin(run.x)
    train_name, test_name = t("train.series_train"), t("train.series_test")
    frames = [
        pd.DataFrame({"x": x, "v": _thin(train_values), "s": train_name, "test": False}),
        pd.DataFrame(
            {
                "x": [e[0] for e in run.evals],
                "v": [e[col] for e in run.evals],
                "s": test_name,
                "test": True,
            }
        ),
    ]
    data = pd.concat(frames, ignore_index=True)
    y_scale = alt.Scale(domain=[0, 1]) if col == 1 else alt.Scale(zero=True)
    base = alt.Chart(data).encode(
        x=alt.X("x:Q", title=t("train.x_epochs")),
        y=alt.Y("v:Q", title=None, scale=y_scale),
        color=alt.Color(
            "s:N",
            title=None,
            legend=alt.Legend(orient="top", labelLimit=300),
            scale=alt.Scale(domain=[train_name, test_name], range=["#4c8bf5", "#ff8c1a"]),
        ),
    )
    test = base.transform_filter(alt.datum.test)  # a flag, not the (translated) name
    return (base.mark_line() + test.mark_point(filled=True, size=50)).properties(
        title=title, height=300
    )


def filter_image(run: TrainingRun) -> np.ndarray:
    """The 6 conv1 filters as RGB tiles on the run's one symmetric scale (grey = 0)."""
    w = run.filters  # (6, 3, 5, 5)
    rgb = np.clip(w / run.filter_scale * 0.5 + 0.5, 0, 1)  # (6, 3, 5, 5)
    tiles = (rgb.transpose(0, 2, 3, 1) * 255).round().astype(np.uint8)  # (6, 5, 5, 3)
    return mosaic(tiles, [str(i) for i in range(len(tiles))], cols=6, tile_size=80, pad=6)


def preview_image(run: TrainingRun) -> np.ndarray:
    """Test images tripled in size, framed green (right) or red (wrong), labelled with the guess."""
    images = run.preview_images  # (P, 32, 32, 3)
    tiles = []
    for img, true, guess in zip(images, run.preview_labels, run.previews, strict=False):
        big = img.repeat(3, axis=0).repeat(3, axis=1)  # (96, 96, 3)
        colour = (40, 170, 70) if true == guess else (210, 50, 50)
        tiles.append(np.pad(big, ((4, 4), (4, 4), (0, 0)), constant_values=0))
        tiles[-1][:4], tiles[-1][-4:], tiles[-1][:, :4], tiles[-1][:, -4:] = (colour,) * 4
    labels = [run.classes[g] for g in run.previews]
    return mosaic(np.stack(tiles), labels, cols=5, pad=6)


def confusion_chart(run: TrainingRun) -> alt.Chart:
    e = run.result
    k = len(e.classes)
    true_t, pred_t, count_t = t("train.true_class"), t("train.predicted_class"), t("train.count")
    data = pd.DataFrame(
        {
            true_t: np.repeat(e.classes, k),
            pred_t: np.tile(e.classes, k),
            count_t: e.confusion.reshape(-1),
        }
    )
    order = list(e.classes)
    base = alt.Chart(data).encode(
        x=alt.X(
            f"{pred_t}:N",
            sort=order,
            axis=alt.Axis(orient="top", labelAngle=-40, labelOverlap=False),
        ),
        y=alt.Y(f"{true_t}:N", sort=order, axis=alt.Axis(labelOverlap=False)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(f"{count_t}:Q", scale=alt.Scale(scheme="blues"), legend=None)
    )
    top = max(int(e.confusion.max()), 1)
    text = base.mark_text(fontSize=11).encode(
        text=f"{count_t}:Q",
        color=alt.condition(alt.datum[count_t] > top / 2, alt.value("white"), alt.value("black")),
    )
    return (cells + text).properties(height=380)
