"""Parameter, size, MAC and FLOP counts, per layer and in total, from one traced forward pass."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ArchitectureError
from ..layers import eval_mode, gradient_mode

# Leaf modules whose work we count; everything else (Identity, Flatten, Zero, Normalize...) costs nothing here.
_CONV = (nn.Conv1d, nn.Conv2d)
_POOL = (nn.AvgPool2d, nn.MaxPool2d)
_ADAPTIVE_POOL = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
_ACT = (nn.ReLU, nn.ReLU6, nn.Tanh, nn.Sigmoid, nn.GELU, nn.ELU, nn.LeakyReLU)


@dataclass(frozen=True)
class LayerProfile:
    """One layer as seen in a forward pass on a single image (batch dimension dropped)."""

    name: str
    kind: str  # conv | linear | batchnorm | activation | pool | adaptive_pool | other
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int
    macs: int
    kernel_area: int = 1
    stride: int = 1
    groups: int = 1


@dataclass(frozen=True)
class MacCount:
    total_macs: int
    per_layer: tuple[tuple[str, int], ...]  # (layer name, MACs) for every conv and linear layer


def _kind(m: nn.Module) -> str:
    if isinstance(m, _CONV):
        return "conv"
    if isinstance(m, nn.Linear):
        return "linear"
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        return "batchnorm"
    if isinstance(m, _ACT) or type(m).__name__ == "Abs":
        return "activation"
    if isinstance(m, _POOL):
        return "pool"
    if isinstance(m, _ADAPTIVE_POOL):
        return "adaptive_pool"
    return "other"


def _macs(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    if isinstance(m, _CONV):
        # every output element is a dot product over (in_channels / groups) x kernel window
        return int(y[0].numel()) * (m.in_channels // m.groups) * math.prod(m.kernel_size)
    if isinstance(m, nn.Linear):
        return int(y[0].numel()) * m.in_features
    return 0


def profile_layers(model: nn.Module, input_shape: tuple[int, ...]) -> list[LayerProfile]:
    """Trace one zero image through `model` (in eval mode, restored after) and profile each leaf layer."""

    if len(input_shape) != 3 or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in input_shape):
        raise ArchitectureError(f"input_shape: got {tuple(input_shape)}, expected (channels, height, width)")
    records: list[LayerProfile] = []
    names = {m: n for n, m in model.named_modules()}

    def hook(m: nn.Module, inputs: tuple, y: torch.Tensor) -> None:
        x = inputs[0]
        k = _kind(m)
        ks = getattr(m, "kernel_size", 1)
        if isinstance(m, _ADAPTIVE_POOL):
            area = (x.shape[-1] * x.shape[-2]) // max(1, y.shape[-1] * y.shape[-2])
        else:
            area = math.prod(ks) if isinstance(ks, tuple) else int(ks) ** 2 if k == "pool" else 1
        stride = getattr(m, "stride", 1)
        records.append(LayerProfile(
            name=names.get(m, type(m).__name__),
            kind=k,
            in_shape=tuple(int(d) for d in x.shape[1:]),
            out_shape=tuple(int(d) for d in y.shape[1:]),
            params=sum(p.numel() for p in m.parameters(recurse=False)),
            macs=_macs(m, x, y),
            kernel_area=int(area),
            stride=int(stride[0] if isinstance(stride, tuple) else stride or 1),
            groups=int(getattr(m, "groups", 1)),
        ))

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        # the differentiable twin has the same layers and shapes and runs them as ordinary modules
        with eval_mode(model), torch.no_grad(), gradient_mode(model, "surrogate"):
            model(torch.zeros(1, *input_shape))
    except RuntimeError as e:
        raise ArchitectureError(f"model does not accept input shape {tuple(input_shape)}: {str(e).splitlines()[0]}") from None
    finally:
        for h in handles:
            h.remove()
    return records


def count_params(model: nn.Module) -> int:
    """Trainable and frozen parameters (not buffers such as BN running statistics)."""
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> MacCount:
    """Multiply-accumulates of conv and linear layers for one image; grouped/depthwise conv counted per group."""
    layers = [p for p in profile_layers(model, input_shape) if p.kind in ("conv", "linear")]
    return MacCount(sum(p.macs for p in layers), tuple((p.name, p.macs) for p in layers))


# The NAS-Bench-201 'flops' column (NAS-Bench-Suite-Zero) counts more than MACs. Verified on all
# 9,445 rows of the shared CSV: conv/linear MACs + 2 per batch-norm output + 1 per activation
# output + kernel area per pooling output, plus a term that is the same for every cell and that
# we have not traced to a layer (5,184 FLOPs for 10 classes = global average pool 4,096 +
# classifier bias 10 + 1,078).
NB201_FIXED_FLOPS = 5184


def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs under the convention above, without the fixed NAS-Bench-201 term."""
    total = 0
    for p in profile_layers(model, input_shape):
        out = math.prod(p.out_shape)
        if p.kind in ("conv", "linear"):
            total += p.macs
        elif p.kind == "batchnorm":
            total += 2 * out
        elif p.kind == "activation":
            total += out
        elif p.kind == "pool":
            total += p.kernel_area * out
    return total
