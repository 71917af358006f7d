"""Layer geometry for the cost models, traced from any model (spaces compute theirs analytically)."""

from __future__ import annotations

from dataclasses import replace

from torch import nn

from ..errors import ArchitectureError
from ..layers import KINDS, LayerShape, Op, fuse
from ._counting import profile_layers


def layer_shapes(model: nn.Module, input_shape: tuple[int, int, int]) -> list[LayerShape]:
    """Shapes of the costed operations of any model, from one traced forward pass, in execution order,
    with the fusions of layers.fuse applied."""
    ops, alias, sources = [], {}, {1}  # tensor 1: the image the trace starts from
    for p in profile_layers(model, input_shape):
        kind = "pool" if p.kind == "adaptive_pool" else p.kind
        inputs = tuple(alias.get(t, t) for t in p.inputs)
        if kind == "other":
            raise ArchitectureError(
                f"energy: layer {p.name} ({p.module}) is an operation the cost model cannot price; it prices conv, "
                "linear, batch norm, activations (ReLU, ReLU6, tanh, sigmoid, GELU, ELU, leaky ReLU), pooling, "
                "adds and concatenations, and takes flatten, identity and dropout as free")
        if kind not in KINDS:
            # costs nothing (flatten, identity, dropout): its output is its input, for what depends on what;
            # one that reads nothing (nb201's none op) writes a constant
            if len(inputs) == 1:
                alias[p.output] = inputs[0]
            elif not inputs:
                sources.add(p.output)
            continue
        in_area = p.in_shape[1] * p.in_shape[2] if len(p.in_shape) == 3 else 1
        out_area = p.out_shape[1] * p.out_shape[2] if len(p.out_shape) == 3 else 1
        shape = LayerShape(p.name, kind, p.in_shape[0], p.out_shape[0], in_area, out_area,
                           p.kernel_area if kind in ("conv", "pool") else 1, p.groups)
        has_bias = kind in ("conv", "linear") and p.params > shape.weight_count
        ops.append(Op(replace(shape, bias=has_bias) if has_bias else shape, inputs, p.output))
    return fuse(ops, sources)
