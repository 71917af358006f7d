"""NAS-Bench-201: a 4-node cell with 6 edges, in the exact CIFAR skeleton of the benchmark.

Cell string: |op~0|+|op~0|op~1|+|op~0|op~1|op~2|  (edges 0-1 | 0-2 1-2 | 0-3 1-3 2-3).
NASLib's tuple orders the same edges as (1-2, 1-3, 1-4, 2-3, 2-4, 3-4) with 1-based nodes,
i.e. (0-1, 0-2, 0-3, 1-2, 1-3, 2-3), and codes ops as 0 skip, 1 none, 2 conv3x3, 3 conv1x1, 4 avgpool.

Skeleton: 3x3 conv stem (16 ch) + BN; three stages of 5 cells at 16/32/64 channels joined by
residual reduction blocks (ReLU-Conv3x3(s2)-BN, ReLU-Conv3x3-BN, shortcut AvgPool2x2 + Conv1x1);
BN-ReLU, global average pool, linear classifier. Its parameter count reproduces the benchmark's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from ..errors import ArchitectureError
from ..layers import LayerShape, Op, OpRecorder, changed, fuse, interval_bounds
from ._base import SPACES, SearchSpace

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
# (from node, to node) of each position of the cell string
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
# position in the NASLib tuple of each position of the cell string
_NASLIB_POS = (0, 1, 3, 2, 4, 5)
STEM_CHANNELS = 16
CELLS_PER_STAGE = 5
NASLIB_PATHS = ((2,), (0, 4), (1, 5), (0, 3, 5))  # input-to-output paths over NASLib edges 0:1-2 1:1-3 2:1-4 3:2-3 4:2-4 5:3-4


@dataclass(frozen=True)
class CellGenotype:
    ops: tuple[str, ...]  # one op per edge, in cell-string order

    def __post_init__(self) -> None:
        if len(self.ops) != 6:
            raise ArchitectureError(f"nb201 cell: got {len(self.ops)} ops, expected 6")
        for op in self.ops:
            if op not in OPS:
                raise ArchitectureError(f"nb201 cell: unknown op {op!r}, expected one of {', '.join(OPS)}")

    def __str__(self) -> str:
        o = self.ops
        return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"

    @property
    def naslib(self) -> tuple[int, ...]:
        """The NASLib op-index tuple of this cell."""
        out = [0] * 6
        for i, op in enumerate(self.ops):
            out[_NASLIB_POS[i]] = NASLIB_OPS.index(op)
        return tuple(out)

    @classmethod
    def from_naslib(cls, codes: tuple[int, ...]) -> "CellGenotype":
        if len(codes) != 6 or any(not 0 <= c < 5 for c in codes):
            raise ArchitectureError(f"nb201 NASLib tuple {codes}: expected 6 op indices in 0..4")
        return cls(tuple(NASLIB_OPS[codes[_NASLIB_POS[i]]] for i in range(6)))


_CELL = re.compile(r"^\|([a-z0-9_]+)~0\|\+\|([a-z0-9_]+)~0\|([a-z0-9_]+)~1\|\+\|([a-z0-9_]+)~0\|([a-z0-9_]+)~1\|([a-z0-9_]+)~2\|$")
_TUPLE = re.compile(r"^\(?\s*(\d)\s*,\s*(\d)\s*,\s*(\d)\s*,\s*(\d)\s*,\s*(\d)\s*,\s*(\d)\s*,?\s*\)?$")


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """The 'none' op: contributes nothing to its node."""

    reads_input = False  # its zeros depend on nothing: the cost models see no data flowing through it
    costs_nothing = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)

    def interval_forward(self, lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return lo.mul(0.0), hi.mul(0.0)


def make_op(op: str, channels: int) -> nn.Module:
    if op == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1)
    if op == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if op == "skip_connect":
        return nn.Identity()
    return Zero()


class Cell(nn.Module):
    def __init__(self, genotype: CellGenotype, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(make_op(op, channels) for op in genotype.ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for target in (1, 2, 3):
            into = [k for k, (_, dst) in enumerate(EDGES) if dst == target]
            live = [k for k in into if not isinstance(self.edges[k], Zero)] or into[:1]  # adding zeros changes nothing
            total = None
            for k in live:
                y = self.edges[k](nodes[EDGES[k][0]])
                total = y if total is None else total + y
            nodes.append(total)
        return nodes[3]

    def interval_forward(self, lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The same sums over boxes: a node's bounds are the sums of its live edges' bounds."""
        nodes = [(lo, hi)]
        for target in (1, 2, 3):
            into = [k for k, (_, dst) in enumerate(EDGES) if dst == target]
            live = [k for k in into if not isinstance(self.edges[k], Zero)] or into[:1]
            boxes = [interval_bounds(self.edges[k], *nodes[EDGES[k][0]], f"edge{k}") for k in live]
            nodes.append((sum(b[0] for b in boxes), sum(b[1] for b in boxes)))
        return nodes[3]


class ResidualReduction(nn.Module):
    """The stride-2 basic residual block between stages."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))

    def interval_forward(self, lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = interval_bounds(self.downsample, lo, hi, "downsample")
        c = interval_bounds(self.conv_b, *interval_bounds(self.conv_a, lo, hi, "conv_a"), "conv_b")
        return d[0] + c[0], d[1] + c[1]


class NB201Network(nn.Sequential):
    def __init__(self, genotype: CellGenotype, in_channels: int, n_classes: int) -> None:
        c = STEM_CHANNELS
        layers: list[nn.Module] = [nn.Conv2d(in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)]
        for stage in range(3):
            if stage:
                layers.append(ResidualReduction(c, 2 * c))
                c *= 2
            layers += [Cell(genotype, c) for _ in range(CELLS_PER_STAGE)]
        layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, n_classes)]
        super().__init__(*layers)


# -- geometry for the cost models (tests hold it equal to the traced network) --------------
def stages(input_shape: tuple[int, int, int]) -> list[tuple[int, int]]:
    """(channels, area) of the three stages."""
    _, h, w = input_shape
    out = []
    for stage in range(3):
        out.append((STEM_CHANNELS * 2**stage, h * w))
        h, w = (h + 1) // 2, (w + 1) // 2
    return out


def _relu_conv_bn(rec: OpRecorder, x: int, name: str, ci: int, co: int, k: int, a_in: int, a_out: int) -> int:
    x = rec.op(LayerShape(f"{name}.relu", "activation", ci, ci, a_in, a_in), x)
    x = rec.op(LayerShape(f"{name}.conv", "conv", ci, co, a_in, a_out, k * k), x)
    return rec.op(LayerShape(f"{name}.bn", "batchnorm", co, co, a_out, a_out), x)


def _cell(rec: OpRecorder, x: int, ops: tuple[str, ...], c: int, area: int, name: str) -> int:
    """Cell.forward, as operations: none edges are left out of node sums, a skip reads its input as it is."""
    nodes = [x]
    for target in (1, 2, 3):
        into = [k for k, (_, dst) in enumerate(EDGES) if dst == target]
        live = [k for k in into if ops[k] != "none"]
        if not live:
            nodes.append(rec.tensor())  # zeros: written by no costed operation
            continue
        total = None
        for k in live:
            src, op = nodes[EDGES[k][0]], ops[k]
            if op in ("nor_conv_3x3", "nor_conv_1x1"):
                y = _relu_conv_bn(rec, src, f"{name}.edge{k}", c, c, 3 if op == "nor_conv_3x3" else 1, area, area)
            elif op == "avg_pool_3x3":
                y = rec.op(LayerShape(f"{name}.edge{k}", "pool", c, c, area, area, 9), src)
            else:
                y = src
            total = y if total is None else rec.op(LayerShape(f"{name}.node{target}.add", "add", c, c, area, area, operands=2),
                                                   total, y)
        nodes.append(total)
    return nodes[3]


def _network_ops(ops: tuple[str, ...], input_shape: tuple[int, int, int], n_classes: int,
                 cells_per_stage: int = CELLS_PER_STAGE) -> list[Op]:
    """NB201Network.forward as operations, in execution order."""
    rec = OpRecorder()
    parts = stages(input_shape)
    c, area = parts[0]
    x = rec.op(LayerShape("stem.conv", "conv", input_shape[0], c, area, area, 9), rec.tensor())
    x = rec.op(LayerShape("stem.bn", "batchnorm", c, c, area, area), x)
    for stage, (c, area) in enumerate(parts):
        if stage:
            (ci, a_in), name = parts[stage - 1], f"reduction{stage}"
            short = rec.op(LayerShape(f"{name}.pool", "pool", ci, ci, a_in, area, 4), x)
            short = rec.op(LayerShape(f"{name}.shortcut", "conv", ci, c, area, area, 1), short)
            y = _relu_conv_bn(rec, x, f"{name}.a", ci, c, 3, a_in, area)
            y = _relu_conv_bn(rec, y, f"{name}.b", c, c, 3, area, area)
            x = rec.op(LayerShape(f"{name}.add", "add", c, c, area, area, operands=2), short, y)
        for cell in range(cells_per_stage):
            x = _cell(rec, x, ops, c, area, f"stage{stage}.cell{cell}")
    x = rec.op(LayerShape("head.bn", "batchnorm", c, c, area, area), x)
    x = rec.op(LayerShape("head.relu", "activation", c, c, area, area), x)
    x = rec.op(LayerShape("head.pool", "pool", c, c, area, 1, area), x)
    rec.op(LayerShape("head.fc", "linear", c, n_classes, 1, 1, bias=True), x)
    return rec.ops


def cell_layer_shapes(ops: tuple[str, ...], input_shape: tuple[int, int, int] = (3, 32, 32),
                      n_classes: int = 10) -> list[LayerShape]:
    """The same layers layer_shapes() traces from the nb201 network (fused alike), computed from the cell's ops."""
    return fuse(_network_ops(tuple(ops), tuple(input_shape), n_classes))


@lru_cache(maxsize=32768)
def cost_groups(ops: tuple[str, ...], input_shape: tuple[int, int, int] = (3, 32, 32),
                n_classes: int = 10) -> tuple[tuple[int, tuple[LayerShape, ...]], ...]:
    """cell_layer_shapes as (multiplicity, layers) groups: the layers outside cells once, the first cell of
    each stage once and the second once per later cell (what fuses depends only on the operation before a
    cell, the same for all later cells). Layers are named by their role only, so equal groups price once."""
    outside: list[LayerShape] = []
    cells: dict[str, list[LayerShape]] = {}
    for s in fuse(_network_ops(tuple(ops), tuple(input_shape), n_classes, cells_per_stage=2)):
        if s.name.startswith("stage"):
            where, _, role = s.name.partition(".cell")
            cells.setdefault(where + role[0], []).append(changed(s, name=role[2:]))
        else:
            outside.append(s)
    groups = [(1, tuple(outside))]
    for key, layers in cells.items():
        groups.append((1 if key.endswith("0") else CELLS_PER_STAGE - 1, tuple(layers)))
    return tuple(groups)


class NB201Space(SearchSpace):
    name = "nb201"
    named = {
        "resnet": "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|",
        "best-cifar10": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    }

    def parse(self, text: str) -> CellGenotype:
        text = text.strip()
        if m := _CELL.match(text):
            return CellGenotype(tuple(m.groups()))
        if m := _TUPLE.match(text):
            return CellGenotype.from_naslib(tuple(int(v) for v in m.groups()))
        raise ArchitectureError(
            f"nb201 architecture {text!r}: expected a cell string '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|', "
            f"a NASLib tuple '(2, 0, 3, 1, 4, 0)', or one of {', '.join(self.named)}"
        )

    def build(self, g: CellGenotype, input_shape: tuple[int, int, int], n_classes: int) -> nn.Module:
        return NB201Network(g, input_shape[0], n_classes)

    def fits(self, g: CellGenotype, input_shape: tuple[int, int, int]) -> bool:
        return min(input_shape[1:]) >= 4  # two stride-2 reductions

    def layer_shapes(self, g: CellGenotype, input_shape: tuple[int, int, int], n_classes: int) -> list[LayerShape]:
        return cell_layer_shapes(g.ops, input_shape, n_classes)

    def cost_groups(self, g: CellGenotype, input_shape: tuple[int, int, int],
                    n_classes: int) -> tuple[tuple[int, tuple[LayerShape, ...]], ...]:
        return cost_groups(g.ops, tuple(input_shape), n_classes)

    def encode(self, g: CellGenotype) -> tuple[list[str], list[float]]:
        """One-hot of the op on each edge, op counts, and path features in the spirit of GRAF
        (Kadlecova et al. 2024): live input-to-output paths, convolutions on them, pooling and skips.
        Pooling per path too: the most robust cells pool every path from the input (APGD 0.53-0.54 at
        eps 1/255 on CIFAR-10), and a path with no pool, or an identity path, lets the perturbation through
        unsmoothed. With these, a surrogate fitted on 100 cells explains 0.68 of the APGD variance, 0.50 without."""
        ops = list(g.naslib)  # NASLib op codes, NASLib edge order
        onehot = np.zeros((6, 5))
        onehot[np.arange(6), ops] = 1
        names = [f"edge{e}_{op}" for e in range(6) for op in NASLIB_OPS] + [f"count_{op}" for op in NASLIB_OPS]
        code = {op: NASLIB_OPS.index(op) for op in NASLIB_OPS}
        live = [p for p in NASLIB_PATHS if all(ops[e] != code["none"] for e in p)]
        conv = (code["nor_conv_3x3"], code["nor_conv_1x1"])
        convs = [sum(ops[e] in conv for e in p) for p in live]
        conv3 = [sum(ops[e] == code["nor_conv_3x3"] for e in p) for p in live]
        pools = [sum(ops[e] == code["avg_pool_3x3"] for e in p) for p in live]
        unpooled_convs = [c for c, n in zip(convs, pools) if n == 0]
        identity = any(all(ops[e] == code["skip_connect"] for e in p) for p in live)
        values = [*onehot.ravel(), *onehot.sum(0),
                  len(live), max(convs, default=0), min(convs, default=0), sum(c > 0 for c in convs),
                  max(conv3, default=0), sum(convs), sum(pools),
                  sum(ops[e] == code["skip_connect"] for p in live for e in p),
                  min(pools, default=0), max(pools, default=0), sum(n > 0 for n in pools),
                  len(unpooled_convs), max(unpooled_convs, default=0), identity]
        names += ["live_paths", "max_path_convs", "min_path_convs", "paths_with_conv", "max_path_conv3",
                  "live_path_convs", "live_path_pools", "live_path_skips",
                  "min_path_pools", "max_path_pools", "paths_with_pool", "unpooled_paths", "max_unpooled_path_convs",
                  "identity_path"]
        return names, [float(v) for v in values]

    def canonical(self, g: CellGenotype) -> str:
        """NAS-Bench-201's own isomorphism (its API's to_unique_str with consider_zero=True): a skip passes its
        input's expression on, a none edge or a zero input gives zero ('#'), each node sorts its summands. The
        robustness dataset measured one cell of each class: robust accuracies are equal within a class."""
        nodes = ["0"]
        for j in (1, 2, 3):
            terms = []
            for op, (a, b) in zip(g.ops, EDGES):
                if b == j:
                    x = nodes[a]
                    terms.append("#" if op == "none" or x == "#" else x if op == "skip_connect" else f"({x})@{op}")
            nodes.append("+".join(sorted(terms)))
        return nodes[3]

    def device_encoding(self, g: CellGenotype) -> tuple[list[str], list[float]]:
        """The predictor's encoding plus, for the cell's input and its two inner nodes, which readers the node's
        tensor has: (convolutions, other operations) among its non-none out-edges, one-hot. A runtime fuses a
        tensor's ReLU into its one consumer, or materializes it for several: on the Jetson a node read by exactly
        one convolution costs about 0.23 ms less than one read by a pool or skip alone (HW-NAS-Bench, all cells)."""
        names, values = self.encode(g)
        for node in (0, 1, 2):  # node 3 is the cell's output, read by the next cell
            outs = [op for op, (a, _) in zip(g.ops, EDGES) if a == node and op != "none"]
            convs = sum(op.startswith("nor_conv") for op in outs)
            degree = sum(a == node for a, _ in EDGES)
            for c, o in ((c, o) for c in range(degree + 1) for o in range(degree + 1 - c) if c + o > 0):
                names.append(f"node{node}_read_by_{c}conv_{o}other")
                values.append(float((convs, len(outs) - convs) == (c, o)))
        return names, values

    def sample(self, rng: np.random.Generator) -> CellGenotype:
        return CellGenotype(tuple(str(op) for op in rng.choice(OPS, size=6)))

    def search_params(self) -> dict[str, tuple]:
        return {f"edge{e}": OPS for e in range(6)}

    def from_params(self, params: dict) -> CellGenotype:
        return CellGenotype(tuple(str(params[f"edge{e}"]) for e in range(6)))

    def params_of(self, g: CellGenotype) -> dict[str, str]:
        return {f"edge{e}": op for e, op in enumerate(g.ops)}

    def mutate(self, g: CellGenotype, rng: np.random.Generator) -> CellGenotype:
        i = int(rng.integers(6))
        others = [op for op in OPS if op != g.ops[i]]
        ops = list(g.ops)
        ops[i] = str(rng.choice(others))
        return CellGenotype(tuple(ops))

    def all_genotypes(self) -> list[CellGenotype]:
        """All 5^6 = 15,625 cells, in NASLib tuple order."""
        import itertools

        return [CellGenotype.from_naslib(t) for t in itertools.product(range(5), repeat=6)]


SPACES.add("nb201", NB201Space())
