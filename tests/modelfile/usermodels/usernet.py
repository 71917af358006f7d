"""A user's own networks, outside paretonet's search spaces: loaded by entry point ('usernet:resnet')."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    """A basic residual block: the skip's add is an operation of its own."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.bn1, self.relu1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()
        self.conv2, self.bn2, self.relu2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()

    def forward(self, x):  # noqa: ANN001, ANN201
        return self.relu2(x + self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x))))))


class ResNet(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.block = Block(8)
        self.head = nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, classes))

    def forward(self, x):  # noqa: ANN001, ANN201
        return self.head(self.block(self.stem(x)))


class WithLSTM(nn.Module):
    """Rows of the image read by an LSTM: an operation the energy model cannot price."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(8, 16, batch_first=True)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):  # noqa: ANN001, ANN201
        out, _ = self.rnn(x[:, 0])
        return self.fc(out[:, -1])


class Functional(nn.Module):
    """Activations and pooling called as functions in forward, as much research code does."""

    def __init__(self, pool: bool) -> None:
        super().__init__()
        self.conv, self.fc, self.pool = nn.Conv2d(1, 4, 3, padding=1), nn.Linear(4 * 64 if not pool else 4 * 16, 10), pool

    def forward(self, x):  # noqa: ANN001, ANN201
        x = torch.relu(self.conv(x))
        if self.pool:
            x = F.max_pool2d(x, 2)
        return self.fc(x.flatten(1))


def functional_relu() -> nn.Module:
    return Functional(pool=False)


def functional_pool() -> nn.Module:
    return Functional(pool=True)


def resnet() -> nn.Module:
    return ResNet()


def lstm() -> nn.Module:
    return WithLSTM()


def not_a_module() -> int:
    return 42
