"""The LeNet-5 family: 1-3 conv blocks and 0-2 hidden fully connected layers plus the classifier.

Canonical string (blocks joined by '|'):
    r32-valid|c6k5-relu-max|c16k5-relu-max|f120-relu|f84-relu
head  : 'native' or 'r<side>' (resize the input to side x side inside the model), then 'valid' or 'same' padding
conv  : c<channels>k<kernel>-<activation>-<pool>[-bn]   kernel 3|5, pool max|avg|none
fc    : f<width>-<activation>                           hidden layers; the classifier is always added
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from ..errors import ArchitectureError
from ..layers import Resize
from ._base import SPACES, SearchSpace

ACTIVATIONS = ("relu", "relu6", "tanh", "sigmoid", "abs", "gelu")
POOLS = ("max", "avg", "none")
KERNELS = (3, 5)
PADDINGS = ("valid", "same")
MAX_WIDTH = 1024
# What sample() and mutate() draw from; parse() accepts any width 1..MAX_WIDTH.
CONV_CHANNELS = (4, 6, 8, 12, 16, 24, 32, 48, 64)
FC_WIDTHS = (16, 32, 64, 84, 120, 128, 256)
RESIZES = (0, 32)


@dataclass(frozen=True)
class ConvGene:
    channels: int
    kernel: int = 5
    act: str = "relu"
    pool: str = "max"
    bn: bool = False

    def __str__(self) -> str:
        return f"c{self.channels}k{self.kernel}-{self.act}-{self.pool}" + ("-bn" if self.bn else "")


@dataclass(frozen=True)
class FcGene:
    width: int
    act: str = "relu"

    def __str__(self) -> str:
        return f"f{self.width}-{self.act}"


@dataclass(frozen=True)
class LeNetGenotype:
    convs: tuple[ConvGene, ...]
    fcs: tuple[FcGene, ...] = ()
    padding: str = "valid"
    resize: int = 0  # 0: keep the input's side

    def __post_init__(self) -> None:
        if not 1 <= len(self.convs) <= 3:
            raise ArchitectureError(f"lenet: got {len(self.convs)} conv blocks, expected 1..3")
        if not 0 <= len(self.fcs) <= 2:
            raise ArchitectureError(f"lenet: got {len(self.fcs)} hidden fc layers, expected 0..2")
        if self.padding not in PADDINGS:
            raise ArchitectureError(f"lenet: padding {self.padding!r}, expected one of {', '.join(PADDINGS)}")
        if self.resize != 0 and not 4 <= self.resize <= 256:
            raise ArchitectureError(f"lenet: resize side {self.resize}, expected 0 (native) or 4..256")
        for g in self.convs:
            _check("conv channels", g.channels, range(1, MAX_WIDTH + 1))
            _check("kernel", g.kernel, KERNELS)
            _check("activation", g.act, ACTIVATIONS)
            _check("pool", g.pool, POOLS)
        for g in self.fcs:
            _check("fc width", g.width, range(1, MAX_WIDTH + 1))
            _check("activation", g.act, ACTIVATIONS)

    def __str__(self) -> str:
        head = ("native" if self.resize == 0 else f"r{self.resize}") + f"-{self.padding}"
        return "|".join([head, *map(str, self.convs), *map(str, self.fcs)])


def _check(what: str, value: object, allowed) -> None:  # noqa: ANN001
    if value not in allowed:
        shown = f"{allowed.start}..{allowed.stop - 1}" if isinstance(allowed, range) else ", ".join(map(str, allowed))
        raise ArchitectureError(f"lenet: {what} {value!r}, expected {shown}")


_HEAD = re.compile(r"^(native|r(\d+))-(\w+)$")
_CONV = re.compile(r"^c(\d+)k(\d+)-(\w+)-(\w+)(-bn)?$")
_FC = re.compile(r"^f(\d+)-(\w+)$")


class Abs(nn.Module):
    """|x|: a symmetric activation used in some LeNet variants."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.abs()

    def interval_forward(self, lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """|x| over [lo, hi]: 0 where the box holds 0, else the nearer end's magnitude."""
        low = torch.where((lo <= 0) & (hi >= 0), torch.zeros_like(lo), torch.minimum(lo.abs(), hi.abs()))
        return low, torch.maximum(lo.abs(), hi.abs())



def activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU, "relu6": nn.ReLU6, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "abs": Abs, "gelu": nn.GELU}[name]()


class LeNetSpace(SearchSpace):
    name = "lenet"
    named = {
        "lenet5": "r32-valid|c6k5-relu-max|c16k5-relu-max|f120-relu|f84-relu",
        "lenet5-tanh": "r32-valid|c6k5-tanh-avg|c16k5-tanh-avg|f120-tanh|f84-tanh",
        "lenet1": "r28-valid|c4k5-tanh-avg|c12k5-tanh-avg",
        "lenet-tiny": "native-same|c8k3-relu-max|c16k3-relu-max|f32-relu",
    }

    def parse(self, text: str) -> LeNetGenotype:
        parts = text.strip().split("|")
        head = _HEAD.match(parts[0])
        if head is None:
            raise ArchitectureError(
                f"lenet architecture {text!r}: first block {parts[0]!r} must be 'native-<padding>' or 'r<side>-<padding>'; "
                f"named members: {', '.join(self.named)}"
            )
        convs, fcs = [], []
        for block in parts[1:]:
            if m := _CONV.match(block):
                if fcs:
                    raise ArchitectureError(f"lenet architecture {text!r}: conv block {block!r} after an fc block")
                convs.append(ConvGene(int(m[1]), int(m[2]), m[3], m[4], bool(m[5])))
            elif m := _FC.match(block):
                fcs.append(FcGene(int(m[1]), m[2]))
            else:
                raise ArchitectureError(
                    f"lenet architecture {text!r}: block {block!r} is neither 'c<ch>k<k>-<act>-<pool>[-bn]' nor 'f<width>-<act>'"
                )
        resize = int(head[2]) if head[2] else 0
        return LeNetGenotype(tuple(convs), tuple(fcs), head[3], resize)

    # -- geometry ---------------------------------------------------------
    def feature_sides(self, g: LeNetGenotype, input_shape: tuple[int, int, int]) -> list[int]:
        """Spatial side after each conv block; raises ArchitectureError when a block gets no input."""
        _, h, w = input_shape
        if g.resize == 0 and h != w:
            raise ArchitectureError(f"lenet: input shape {tuple(input_shape)} is not square; use a resize head (r<side>)")
        side = g.resize or h
        sides = []
        for i, c in enumerate(g.convs, 1):
            out = side if g.padding == "same" else side - c.kernel + 1
            if out < 1:
                raise ArchitectureError(
                    f"lenet:{g} does not fit input shape {tuple(input_shape)}: conv block {i} (kernel {c.kernel}, "
                    f"{g.padding}) gets a {side}x{side} input"
                )
            if c.pool != "none":
                if out < 2:
                    raise ArchitectureError(
                        f"lenet:{g} does not fit input shape {tuple(input_shape)}: pooling after conv block {i} gets {out}x{out}"
                    )
                out //= 2
            side = out
            sides.append(side)
        return sides

    def fits(self, g: LeNetGenotype, input_shape: tuple[int, int, int]) -> bool:
        try:
            self.feature_sides(g, input_shape)
        except ArchitectureError:
            return False
        return True

    def build(self, g: LeNetGenotype, input_shape: tuple[int, int, int], n_classes: int) -> nn.Module:
        sides = self.feature_sides(g, input_shape)
        layers: list[nn.Module] = []
        if g.resize and g.resize != input_shape[1]:
            layers.append(Resize(g.resize))
        c_in = input_shape[0]
        for c in g.convs:
            pad = c.kernel // 2 if g.padding == "same" else 0
            layers.append(nn.Conv2d(c_in, c.channels, c.kernel, padding=pad, bias=not c.bn))
            if c.bn:
                layers.append(nn.BatchNorm2d(c.channels))
            layers.append(activation(c.act))
            if c.pool == "max":
                layers.append(nn.MaxPool2d(2))
            elif c.pool == "avg":
                layers.append(nn.AvgPool2d(2))
            c_in = c.channels
        layers.append(nn.Flatten())
        width = c_in * sides[-1] ** 2
        for f in g.fcs:
            layers += [nn.Linear(width, f.width), activation(f.act)]
            width = f.width
        layers.append(nn.Linear(width, n_classes))
        return nn.Sequential(*layers)

    def genotype_of(self, model: nn.Module, g: LeNetGenotype) -> LeNetGenotype:
        convs = [mod for mod in model.modules() if isinstance(mod, nn.Conv2d)]
        linears = [mod for mod in model.modules() if isinstance(mod, nn.Linear)][:-1]
        if len(convs) != len(g.convs) or len(linears) != len(g.fcs):
            raise ArchitectureError(f"lenet:{g}: the model has {len(convs)} conv and {len(linears) + 1} linear layers, "
                                    f"the genotype {len(g.convs)} and {len(g.fcs) + 1}")
        return replace(g, convs=tuple(replace(c, channels=k.out_channels) for c, k in zip(g.convs, convs)),
                       fcs=tuple(replace(f, width=lin.out_features) for f, lin in zip(g.fcs, linears)))

    def encode(self, g: LeNetGenotype) -> tuple[list[str], list[float]]:
        convs, fcs = list(g.convs), list(g.fcs)
        names = ["n_conv", "n_fc", "conv_channels", "first_channels", "last_channels", "kernel5", "max_pools",
                 "avg_pools", "bn", "fc_width", "relu_like"]
        values = [len(convs), len(fcs), sum(c.channels for c in convs), convs[0].channels if convs else 0,
                  convs[-1].channels if convs else 0, sum(c.kernel == 5 for c in convs),
                  sum(c.pool == "max" for c in convs), sum(c.pool == "avg" for c in convs), sum(bool(c.bn) for c in convs),
                  sum(f.width for f in fcs), sum(c.act in ("relu", "relu6", "gelu") for c in convs)]
        return names, [float(v) for v in values]

    # -- sampler parameters: fixed length; the slots past n_conv / n_fc are ignored --------
    def search_params(self) -> dict[str, tuple]:
        params: dict[str, tuple] = {"resize": RESIZES, "padding": PADDINGS, "n_conv": (1, 2, 3), "n_fc": (0, 1, 2)}
        for i in range(3):
            params.update({f"conv{i}_channels": CONV_CHANNELS, f"conv{i}_kernel": KERNELS, f"conv{i}_act": ACTIVATIONS,
                           f"conv{i}_pool": POOLS, f"conv{i}_bn": (False, True)})
        for i in range(2):
            params.update({f"fc{i}_width": FC_WIDTHS, f"fc{i}_act": ACTIVATIONS})
        return params

    def from_params(self, params: dict) -> LeNetGenotype:
        convs = tuple(ConvGene(int(params[f"conv{i}_channels"]), int(params[f"conv{i}_kernel"]), str(params[f"conv{i}_act"]),
                               str(params[f"conv{i}_pool"]), bool(params[f"conv{i}_bn"])) for i in range(int(params["n_conv"])))
        fcs = tuple(FcGene(int(params[f"fc{i}_width"]), str(params[f"fc{i}_act"])) for i in range(int(params["n_fc"])))
        return LeNetGenotype(convs, fcs, str(params["padding"]), int(params["resize"]))

    # -- sampling ---------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> LeNetGenotype:
        n_conv = int(rng.integers(1, 4))
        convs = tuple(
            ConvGene(
                int(rng.choice(CONV_CHANNELS)), int(rng.choice(KERNELS)), str(rng.choice(ACTIVATIONS)),
                str(rng.choice(POOLS)), bool(rng.integers(2)),
            )
            for _ in range(n_conv)
        )
        fcs = tuple(FcGene(int(rng.choice(FC_WIDTHS)), str(rng.choice(ACTIVATIONS))) for _ in range(int(rng.integers(0, 3))))
        return LeNetGenotype(convs, fcs, str(rng.choice(PADDINGS)), int(rng.choice(RESIZES)))

    def mutate(self, g: LeNetGenotype, rng: np.random.Generator) -> LeNetGenotype:
        while True:
            new = self._mutate_once(g, rng)
            if new != g:
                return new

    def _mutate_once(self, g: LeNetGenotype, rng: np.random.Generator) -> LeNetGenotype:
        kind = str(rng.choice(["conv", "fc", "depth", "head"]))
        convs, fcs = list(g.convs), list(g.fcs)
        if kind == "conv":
            i = int(rng.integers(len(convs)))
            field = str(rng.choice(["channels", "kernel", "act", "pool", "bn"]))
            choices = {"channels": CONV_CHANNELS, "kernel": KERNELS, "act": ACTIVATIONS, "pool": POOLS, "bn": (False, True)}
            value = rng.choice(choices[field])
            convs[i] = replace(convs[i], **{field: type(getattr(convs[i], field))(value)})
        elif kind == "fc" and fcs:
            i = int(rng.integers(len(fcs)))
            if rng.integers(2):
                fcs[i] = replace(fcs[i], width=int(rng.choice(FC_WIDTHS)))
            else:
                fcs[i] = replace(fcs[i], act=str(rng.choice(ACTIVATIONS)))
        elif kind == "depth" or kind == "fc":
            target = str(rng.choice(["conv", "fc"]))
            seq = convs if target == "conv" else fcs
            lo, hi = (1, 3) if target == "conv" else (0, 2)
            grow = len(seq) == lo or (len(seq) < hi and bool(rng.integers(2)))
            if grow:
                seq.append(self.sample(rng).convs[0] if target == "conv" else FcGene(int(rng.choice(FC_WIDTHS))))
            else:
                seq.pop(int(rng.integers(len(seq))))
        else:
            if rng.integers(2):
                return replace(g, padding="same" if g.padding == "valid" else "valid")
            return replace(g, resize=int(rng.choice(RESIZES)))
        return LeNetGenotype(tuple(convs), tuple(fcs), g.padding, g.resize)


SPACES.add("lenet", LeNetSpace())
