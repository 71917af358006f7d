"""Layer geometry shared by the cost models and the search spaces that compute it analytically."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("conv", "linear", "pool", "batchnorm", "activation", "add", "concat")


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
    operands: int = 1  # maps an element-wise sum reads (2, or 1 when fused into an operand's producer)
    fused: bool = False  # folded into a neighbour (see layers.fuse): moves no data of its own
    fan_out: int = 1  # operations reading its output (0: the network's output); set by layers.fuse
    to_activations: int = 0  # how many of those readers are activations (a runtime may fuse a sum with its ReLU)

    def __hash__(self) -> int:
        # cost caches hash tuples of shapes on the search's inner loop: compute each hash once
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.name, self.kind, self.in_channels, self.out_channels, self.in_area, self.out_area,
                      self.kernel_area, self.groups, self.bias, self.operands, self.fused, self.fan_out, self.to_activations))
            object.__setattr__(self, "_hash", h)
        return h

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
        """Words read: every operand of a sum; a concatenation's in_channels are all its inputs'."""
        return self.in_channels * self.in_area * (self.operands if self.kind == "add" else 1)

    @property
    def output_count(self) -> int:
        return self.out_channels * self.out_area
