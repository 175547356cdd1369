"""The seed's small CNN: conv(3,6,5) -> pool -> conv(6,16,5) -> pool -> fc 400-120-84-10.

Activations and pools are modules (not ``F.relu`` calls) so their outputs have names to hook; the
parameter names match the seed's, so a state dict saved by the seed's code loads here.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CIFAR10_CLASSES", "TINY_CNN_LAYERS", "TinyCNN"]

CIFAR10_CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TINY_CNN_LAYERS = ("conv1", "relu1", "pool1", "conv2", "relu2", "pool2")


class TinyCNN(nn.Module):
    """3 x 32 x 32 in, ``num_classes`` logits out (the seed's ``Net``)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(120, 84)
        self.relu4 = nn.ReLU()
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))  # (B, 6, 14, 14)
        x = self.pool2(self.relu2(self.conv2(x)))  # (B, 16, 5, 5)
        x = torch.flatten(x, 1)  # (B, 400)
        x = self.relu4(self.fc2(self.relu3(self.fc1(x))))  # (B, 84)
        return self.fc3(x)  # (B, num_classes)
