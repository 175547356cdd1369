"""The embedded EfficientNet-Lite0: its architecture fits the shipped weights and it sees correctly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dreamlab.activations import forward_until
from dreamlab.models import LoadedModel
from dreamlab.models.efficientnet_lite import (
    LITE0_STAGES,
    MBConvBlock,
    efficientnet_lite0,
    weights_path,
)
from dreamlab.models.registry import load_state_dict_bytes

CATS = {"Egyptian cat", "tabby", "tiger cat"}


def test_weights_file_is_embedded() -> None:
    path = weights_path()
    assert path.is_file() and path.stat().st_size > 10_000_000


def test_architecture_keys_and_shapes_match_the_shipped_state_dict() -> None:
    shipped = load_state_dict_bytes(weights_path())
    own = efficientnet_lite0().state_dict()
    assert set(own) == set(shipped)
    wrong = [k for k in own if own[k].shape != shipped[k].shape]
    assert not wrong, wrong[:5]


def test_block_layout_follows_the_stage_table() -> None:
    model = efficientnet_lite0()
    blocks = list(model._blocks)
    assert len(blocks) == sum(stage[0] for stage in LITE0_STAGES) == 16
    i = 0
    for repeats, kernel, stride, expansion, cin, cout in LITE0_STAGES:
        for r in range(repeats):
            block = blocks[i]
            assert isinstance(block, MBConvBlock)
            dw = block._depthwise_conv
            assert dw.kernel_size == (kernel, kernel) and dw.padding == (kernel // 2, kernel // 2)
            assert dw.stride == ((stride, stride) if r == 0 else (1, 1))
            assert block._project_conv.out_channels == cout
            block_in = cin if r == 0 else cout
            assert block.has_expand == (expansion != 1)
            assert dw.groups == dw.in_channels == block_in * expansion
            assert block.residual == (dw.stride == (1, 1) and block_in == cout)
            i += 1


def test_lite_means_relu6_no_squeeze_excite_and_bn_eps() -> None:
    model = efficientnet_lite0()
    kinds = {type(m) for m in model.modules()}
    assert nn.ReLU6 in kinds and nn.SiLU not in kinds and nn.ReLU not in kinds
    assert not any("_se_" in name for name, _ in model.named_modules())
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(bn.eps == pytest.approx(1e-3) for bn in bns)
    assert model._conv_stem.out_channels == 32 and model._conv_head.out_channels == 1280
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(4.65e6, rel=0.01)


def test_residual_block_adds_its_input() -> None:
    block = MBConvBlock(3, 1, 6, 8, 8).eval()
    for p in block._project_conv.parameters():
        nn.init.zeros_(p)  # the branch then outputs BN(0) = bias = 0: only the skip remains
    x = torch.randn(1, 8, 6, 6)
    with torch.no_grad():
        assert torch.allclose(block(x), x)


def test_layer_shapes(lite0: LoadedModel) -> None:
    x = lite0.preprocess(torch.rand(1, 3, 64, 96))  # strides 2, 16 and 32
    with torch.no_grad():
        out = forward_until(lite0.module, x, ["_stem_act", "_blocks.9", "_blocks.15", "_head_act"])
    assert out["_stem_act"].shape == (1, 32, 32, 48)
    assert out["_blocks.9"].shape == (1, 112, 4, 6)
    assert out["_blocks.15"].shape == (1, 320, 2, 3)
    assert out["_head_act"].shape == (1, 1280, 2, 3)
    # ReLU6 outputs stay in [0, 6]
    assert float(out["_stem_act"].min()) >= 0 and float(out["_stem_act"].max()) <= 6


def test_logits_shape_and_any_input_size(lite0: LoadedModel) -> None:
    with torch.no_grad():
        assert lite0.module(torch.rand(2, 3, 64, 64)).shape == (2, 1000)
        assert lite0.module(torch.rand(1, 3, 37, 51)).shape == (1, 1000)


def test_classifies_chelsea_as_a_cat(lite0: LoadedModel, chelsea: np.ndarray) -> None:
    top = lite0.classify(chelsea, top=5)
    assert len(top) == 5
    assert top[0][0] in CATS, top
    assert sum(p for label, p in top if label in CATS) > 0.5
    probs = [p for _, p in top]
    assert probs == sorted(probs, reverse=True) and all(0 <= p <= 1 for p in probs)


def test_classifies_coffee_as_espresso(lite0: LoadedModel, coffee: np.ndarray) -> None:
    label, prob = lite0.classify(coffee, top=1)[0]
    assert label == "espresso" and prob > 0.5


def test_classify_accepts_a_tensor_and_a_pil_image(lite0: LoadedModel, coffee: np.ndarray) -> None:
    from PIL import Image

    from dreamlab.images import to_tensor

    by_array = lite0.classify(coffee, top=1)[0]
    by_tensor = lite0.classify(to_tensor(coffee), top=1)[0]
    by_pil = lite0.classify(Image.fromarray(coffee), top=1)[0]
    assert by_array[0] == by_tensor[0] == by_pil[0] == "espresso"
    assert by_array[1] == pytest.approx(by_tensor[1], abs=1e-5)


def test_classify_leaves_the_shared_model_untouched(
    lite0: LoadedModel, chelsea: np.ndarray
) -> None:
    before = {k: v.clone() for k, v in lite0.module.state_dict().items()}
    lite0.classify(chelsea)
    after = lite0.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN stats unchanged too
    assert not lite0.module.training
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in lite0.module.modules())


def test_a_random_image_is_not_confidently_a_cat(lite0: LoadedModel) -> None:
    """The cat answer above comes from the photo, not from a model that always says cat."""
    noise = np.random.default_rng(0).integers(0, 256, (224, 224, 3), np.uint8)
    label, prob = lite0.classify(noise, top=1)[0]
    assert not (label in CATS and prob > 0.3)
