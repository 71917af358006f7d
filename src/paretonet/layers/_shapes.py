"""Layer geometry shared by the cost models and the search spaces that compute it analytically."""

from __future__ import annotations

from dataclasses import dataclass

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

    def __hash__(self) -> int:
        # cost caches hash tuples of shapes on the search's inner loop: compute each hash once
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.name, self.kind, self.in_channels, self.out_channels, self.in_area, self.out_area,
                      self.kernel_area, self.groups, self.bias))
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
        return self.in_channels * self.in_area

    @property
    def output_count(self) -> int:
        return self.out_channels * self.out_area
