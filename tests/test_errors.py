"""DreamLab's errors carry a machine-readable kind and params next to their English message."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from dreamlab.convolution import KernelError, convolve
from dreamlab.errors import DreamLabError
from dreamlab.images import ImageError, load_image
from dreamlab.models.registry import ModelError, load_state_dict_bytes


def test_kind_and_params_survive_pickling() -> None:
    err = pickle.loads(
        pickle.dumps(ImageError("a.png: the file is empty", "empty_file", name="a.png"))
    )
    assert isinstance(err, ImageError) and isinstance(err, ValueError)
    assert (str(err), err.kind, err.params) == (
        "a.png: the file is empty",
        "empty_file",
        {"name": "a.png"},
    )


def test_an_error_without_a_kind_still_works() -> None:
    err = ModelError("something else")
    assert err.kind == "" and err.params == {} and str(err) == "something else"
    assert isinstance(err, DreamLabError)


def test_image_errors_name_their_kind_at_the_raise_site() -> None:
    with pytest.raises(ImageError) as exc:
        load_image(b"not an image at all", name="holiday.jpg")
    assert exc.value.kind == "not_an_image" and exc.value.params == {"name": "holiday.jpg"}
    with pytest.raises(ImageError) as exc:
        load_image(np.zeros((4, 4, 3), np.uint8))
    assert exc.value.kind == "too_small" and exc.value.params["w"] == 4


def test_garbage_weights_are_not_a_weights_file() -> None:
    with pytest.raises(ModelError) as exc:
        load_state_dict_bytes(b"garbage!")  # 8 bytes, not a pickle at all
    assert exc.value.kind == "not_weights"
    assert "not a PyTorch weights file" in str(exc.value)
    assert "Python objects" not in str(exc.value)


def test_a_pickle_of_objects_is_refused_as_objects() -> None:
    with pytest.raises(ModelError) as exc:
        load_state_dict_bytes(pickle.dumps({"w": object}))
    assert exc.value.kind == "weights_objects"


def test_an_emptied_kernel_cell_is_named() -> None:
    kernel = np.ones((3, 3))
    kernel[2, 0] = np.nan
    with pytest.raises(KernelError) as exc:
        convolve(np.zeros((8, 8)), kernel)
    assert exc.value.kind == "kernel_cell" and exc.value.params == {"row": 3, "col": 1}
    assert "row 3, column 1" in str(exc.value)
