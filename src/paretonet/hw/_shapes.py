"""Layer geometry for the cost models: from a traced model, or analytically for nb201 cells.

The analytic nb201 path lets the search price all 15,625 cells without building one network;
tests hold it equal to the traced path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from torch import nn

from ._counting import profile_layers

KINDS = ("conv", "linear", "pool", "batchnorm", "activation")


@dataclass(frozen=True)
class LayerShape:
    """One layer for one image. Areas are pixel counts (m^2 in Sima et al.); linear layers have area 1."""

    name: str
    kind: str
    in_channels: int
    out_channels: int
    in_area: int
    out_area: int
    kernel_area: int = 1  # r^2 for conv, window size for pooling
    groups: int = 1
    bias: bool = False

    @property
    def macs(self) -> int:
        if self.kind in ("conv", "linear"):
            return self.out_channels * (self.in_channels // self.groups) * self.kernel_area * self.out_area
        return 0

    @property
    def weight_count(self) -> int:
        if self.kind in ("conv", "linear"):
            return self.out_channels * (self.in_channels // self.groups) * self.kernel_area
        return 0

    @property
    def input_count(self) -> int:
        return self.in_channels * self.in_area

    @property
    def output_count(self) -> int:
        return self.out_channels * self.out_area


def layer_shapes(model: nn.Module, input_shape: tuple[int, int, int]) -> list[LayerShape]:
    """Shapes of the costed layers of any model, from one traced forward pass."""
    out = []
    for p in profile_layers(model, input_shape):
        kind = "pool" if p.kind == "adaptive_pool" else p.kind
        if kind not in KINDS:
            continue
        in_area = p.in_shape[1] * p.in_shape[2] if len(p.in_shape) == 3 else 1
        out_area = p.out_shape[1] * p.out_shape[2] if len(p.out_shape) == 3 else 1
        shape = LayerShape(p.name, kind, p.in_shape[0], p.out_shape[0], in_area, out_area,
                           p.kernel_area if kind in ("conv", "pool") else 1, p.groups)
        has_bias = kind in ("conv", "linear") and p.params > shape.weight_count
        out.append(replace(shape, bias=has_bias) if has_bias else shape)
    return out


def _relu_conv_bn(name: str, ci: int, co: int, k: int, a_in: int, a_out: int) -> list[LayerShape]:
    return [LayerShape(f"{name}.relu", "activation", ci, ci, a_in, a_in),
            LayerShape(f"{name}.conv", "conv", ci, co, a_in, a_out, k * k),
            LayerShape(f"{name}.bn", "batchnorm", co, co, a_out, a_out)]


def nb201_edge_layers(op: str, channels: int, area: int, name: str = "edge") -> list[LayerShape]:
    """The layers of one cell edge with this op (none and skip_connect have none)."""
    if op in ("nor_conv_3x3", "nor_conv_1x1"):
        return _relu_conv_bn(name, channels, channels, 3 if op == "nor_conv_3x3" else 1, area, area)
    if op == "avg_pool_3x3":
        return [LayerShape(name, "pool", channels, channels, area, area, 9)]
    return []


def nb201_stages(input_shape: tuple[int, int, int]) -> list[tuple[int, int]]:
    """(channels, area) of the three stages."""
    from ..spaces.nb201 import STEM_CHANNELS

    _, h, w = input_shape
    out = []
    for stage in range(3):
        out.append((STEM_CHANNELS * 2**stage, h * w))
        h, w = (h + 1) // 2, (w + 1) // 2
    return out


def nb201_skeleton_layers(input_shape: tuple[int, int, int] = (3, 32, 32), n_classes: int = 10) -> list[LayerShape]:
    """Every layer of the nb201 network outside the cells: stem, reductions, head."""
    stages = nb201_stages(input_shape)
    c, area = stages[0]
    layers = [LayerShape("stem.conv", "conv", input_shape[0], c, area, area, 9),
              LayerShape("stem.bn", "batchnorm", c, c, area, area)]
    for stage in (1, 2):
        (ci, a_in), (co, a_out) = stages[stage - 1], stages[stage]
        name = f"reduction{stage}"
        layers += _relu_conv_bn(f"{name}.a", ci, co, 3, a_in, a_out)
        layers += _relu_conv_bn(f"{name}.b", co, co, 3, a_out, a_out)
        layers += [LayerShape(f"{name}.pool", "pool", ci, ci, a_in, a_out, 4),
                   LayerShape(f"{name}.shortcut", "conv", ci, co, a_out, a_out, 1)]
    c, area = stages[2]
    layers += [LayerShape("head.bn", "batchnorm", c, c, area, area), LayerShape("head.relu", "activation", c, c, area, area),
               LayerShape("head.pool", "pool", c, c, area, 1, area), LayerShape("head.fc", "linear", c, n_classes, 1, 1, bias=True)]
    return layers


def nb201_layer_shapes(ops: tuple[str, ...], input_shape: tuple[int, int, int] = (3, 32, 32),
                       n_classes: int = 10) -> list[LayerShape]:
    """The same layers layer_shapes() traces from the nb201 network, computed from the cell's ops."""
    from ..spaces.nb201 import CELLS_PER_STAGE

    layers = nb201_skeleton_layers(input_shape, n_classes)
    for stage, (c, area) in enumerate(nb201_stages(input_shape)):
        for cell in range(CELLS_PER_STAGE):
            for edge, op in enumerate(ops):
                layers += nb201_edge_layers(op, c, area, f"stage{stage}.cell{cell}.edge{edge}")
    return layers
