"""Objectives: exact values on hand-made activations, composition, and each one improving when
optimized on the seed's tiny CNN."""

from __future__ import annotations

import pytest
import torch

from dreamlab.models import UnknownLayerError, load_model
from dreamlab.optvis import (
    LOGITS,
    Objective,
    as_objective,
    channel,
    channels,
    class_logit,
    deepdream,
    direction,
    diversity,
    layer,
    neuron,
    visualize,
)


def _acts() -> dict[str, torch.Tensor]:
    t = torch.arange(2 * 3 * 3 * 3, dtype=torch.float32).view(2, 3, 3, 3)  # (B, C, h, w)
    return {"a": t, LOGITS: torch.tensor([[1.0, 2.0, 3.0], [5.0, 6.0, 7.0]])}


def test_exact_values() -> None:
    acts = _acts()
    t = acts["a"]
    assert float(channel("a", 1)(acts)) == pytest.approx(float(t[:, 1].mean()))
    assert float(channel("a", 1, batch=1)(acts)) == pytest.approx(float(t[1, 1].mean()))
    assert float(neuron("a", 2)(acts)) == pytest.approx(float(t[:, 2, 1, 1].mean()))
    assert float(neuron("a", 2, x=2, y=0)(acts)) == pytest.approx(float(t[:, 2, 0, 2].mean()))
    assert float(layer("a")(acts)) == pytest.approx(float(t.pow(2).mean()))
    assert deepdream is layer
    assert float(class_logit(2)(acts)) == pytest.approx(5.0)
    assert float(class_logit(0, batch=0)(acts)) == pytest.approx(1.0)
    assert float(channels("a", [2, 0])(acts)) == pytest.approx(
        float((t[0, 2].mean() + t[1, 0].mean()) / 2)
    )


def test_direction_is_a_cosine_similarity() -> None:
    t = torch.zeros(1, 2, 1, 2)
    t[0, :, 0, 0] = torch.tensor([1.0, 0.0])
    t[0, :, 0, 1] = torch.tensor([1.0, 1.0])
    got = float(direction("a", [3.0, 0.0])({"a": t}))
    assert got == pytest.approx((1.0 + 2**-0.5) / 2)


def test_diversity_is_minus_the_mean_gram_similarity() -> None:
    same = torch.rand(3, 4, 5, 5).clamp_min(0.1)
    same[:] = same[0]
    assert float(diversity("a")({"a": same})) == pytest.approx(-1.0, abs=1e-5)
    apart = torch.zeros(2, 2, 2, 2)
    apart[0, 0] = 1.0  # image 0 only uses channel 0, image 1 only channel 1: orthogonal Grams
    apart[1, 1] = 1.0
    assert float(diversity("a")({"a": apart})) == pytest.approx(0.0, abs=1e-6)
    assert float(diversity("a")({"a": torch.rand(1, 2, 3, 3)})) == 0.0


def test_composition() -> None:
    acts = _acts()
    a, b = channel("a", 0), class_logit(1)
    combo = 2 * a - b / 4 + 1.5
    want = 2 * float(a(acts)) - float(b(acts)) / 4 + 1.5
    assert float(combo(acts)) == pytest.approx(want)
    assert combo.layers == ("a", LOGITS) and combo.needs_logits
    assert float((-a)(acts)) == pytest.approx(-float(a(acts)))
    assert float((3 - a)(acts)) == pytest.approx(3 - float(a(acts)))
    assert float(sum([a, a, a])(acts)) == pytest.approx(3 * float(a(acts)))
    assert "channel(a:0)" in combo.name and "class(1)" in combo.name
    with pytest.raises(TypeError):
        _ = a * b
    with pytest.raises(ValueError):
        _ = a * float("nan")
    with pytest.raises(ValueError):
        _ = a / 0


def test_string_form_like_lucent() -> None:
    assert as_objective("_blocks.9:12").name == "channel(_blocks.9:12)"
    assert as_objective("_blocks.9").name == "layer(_blocks.9)"
    assert as_objective("logits:281").name == "class(281)"
    assert as_objective("labels:3").layers == (LOGITS,)
    obj = channel("x", 1)
    assert as_objective(obj) is obj
    for bad in ["", "  ", ":3", "_blocks.9:x", "logits", 12, None]:
        with pytest.raises(ValueError):
            as_objective(bad)  # type: ignore[arg-type]


def test_out_of_range_is_one_line() -> None:
    acts = _acts()
    with pytest.raises(ValueError, match=r"channel 7 is out of range: a has 3 channels \(0-2\)"):
        channel("a", 7)(acts)
    with pytest.raises(ValueError, match="class 9"):
        class_logit(9)(acts)
    with pytest.raises(ValueError, match="outside"):
        neuron("a", 0, x=5)(acts)
    with pytest.raises(ValueError, match="batch index"):
        channel("a", 0, batch=4)(acts)
    with pytest.raises(ValueError, match="16 channels"):
        next(visualize(load_model("tiny_cnn", device="cpu"), "conv2:16", steps=1, size=32))


def test_unknown_layer_lists_the_valid_ones(tiny) -> None:
    with pytest.raises(UnknownLayerError, match="valid layers: conv1, relu1"):
        visualize(tiny, "features.30:3")


def _improves(model, obj: Objective, **kw) -> tuple[float, float]:
    settings = {"steps": 8, "size": 32, "transforms": False, **kw}
    losses = [f.loss for f in visualize(model, obj, **settings)]
    return losses[0], losses[-1]


@pytest.mark.parametrize(
    "obj",
    [
        channel("conv2", 3),
        neuron("conv2", 5),
        layer("conv1"),
        class_logit(4),
        direction("conv2", torch.linspace(-1, 1, 16)),
        channel("relu2", 1) - 0.5 * layer("conv1"),
    ],
    ids=lambda o: o.name,
)
def test_each_objective_improves_in_a_few_steps(tiny, obj: Objective) -> None:
    first, last = _improves(tiny, obj)
    assert last > first


def test_diversity_and_batched_channels_improve(tiny) -> None:
    first, last = _improves(tiny, diversity("conv2"), batch=3, lr=0.1)
    assert last > first
    first, last = _improves(tiny, channels("conv2", [0, 1, 2, 3]), batch=4)
    assert last > first


def test_regularized_run_improves_too(tiny) -> None:
    first, last = _improves(tiny, channel("conv2", 3), steps=15, transforms=True, size=48)
    assert last > first
