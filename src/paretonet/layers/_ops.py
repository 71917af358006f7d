"""The operations a network executes, in order, and which of them a dataflow accelerator fuses.

Both the tracer (hw.layer_shapes, from a forward pass) and the spaces that compute their layers
analytically (nb201) describe a network as a list of Op: a LayerShape, the tensors it reads and the
tensor it writes. `fuse` then decides, by the same rules for both, what moves data of its own:

- a batch norm right after a conv or linear layer that nothing else reads is folded into it
  (scale into the weights, shift into a bias): no data, no arithmetic;
- an activation is applied as its producer (conv, linear, folded batch norm) writes, or as its one
  consumer (conv, linear) reads: no data of its own, one operation per element;
- an element-wise sum whose operand was written by the operation just before it, and is read by
  nothing else, is done as that operation writes: it reads only its other operand;
- everything else (pooling, sums, concatenations, unfused activations and batch norms) reads its
  inputs and writes its output. A skip connection (identity) is no operation: it costs nothing.

First, as a compiler for a device does, operations whose result never reaches the network's output
(the last operation's) are removed: a degenerate NAS-Bench-201 cell computes branches nothing reads.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ._shapes import LayerShape

COMPUTE = ("conv", "linear", "pool", "batchnorm", "activation", "add", "concat")


def changed(s: LayerShape, **fields: object) -> LayerShape:
    """dataclasses.replace for LayerShape, without its cost: the pricing of every nb201 cell calls it often."""
    new = object.__new__(LayerShape)
    new.__dict__.update(s.__dict__)
    new.__dict__.pop("_hash", None)
    new.__dict__.update(fields)
    return new


@dataclass(frozen=True)
class Op:
    shape: LayerShape
    inputs: tuple[int, ...]  # tensor ids read
    output: int  # tensor id written


def live(ops: list[Op]) -> list[Op]:
    """The operations the last one's result depends on (dead branches removed), in order."""
    if not ops:
        return []
    needed, keep = {ops[-1].output}, []
    for op in reversed(ops):
        if op.output in needed:
            keep.append(op)
            needed.update(op.inputs)
    return keep[::-1]


def fuse(ops: list[Op], sources: set[int] | None = None) -> list[LayerShape]:
    """The layers of `ops` (in execution order) that reach the output, with fused flags, the operands sums
    really read, and where each result goes (fan_out, to_activations). `sources` are the tensors no operation
    writes (the input, constants): when an operation reads any other unwritten tensor, the graph has a link
    the trace did not see, and nothing is removed as dead."""
    written = {op.output for op in ops}
    if sources is None or all(t in written or t in sources for op in ops for t in op.inputs):
        ops = live(ops)
    producer = {op.output: i for i, op in enumerate(ops)}
    readers = Counter(t for op in ops for t in op.inputs)
    consumer: dict[int, Op] = {}
    activations: Counter[int] = Counter()  # readers of each tensor that are activations
    for op in ops:
        for t in op.inputs:
            consumer.setdefault(t, op)
            activations[t] += op.shape.kind == "activation"
    out: list[LayerShape] = []
    folded: set[int] = set()  # indices of folded batch norms

    def made_by(t: int, kinds: tuple[str, ...]) -> int | None:
        i = producer.get(t)
        return i if i is not None and readers[t] == 1 and (ops[i].shape.kind in kinds or i in folded) else None

    for i, op in enumerate(ops):
        s, kind = op.shape, op.shape.kind
        # where its result goes: what a runtime can fuse it with (device models)
        s = changed(s, fan_out=readers[op.output], to_activations=activations[op.output])
        if kind == "batchnorm" and made_by(op.inputs[0], ("conv", "linear")) is not None:
            folded.add(i)
            out.append(changed(s, fused=True))
        elif kind == "activation" and (
                made_by(op.inputs[0], ("conv", "linear")) is not None
                or (readers[op.output] == 1 and consumer[op.output].shape.kind in ("conv", "linear"))):
            out.append(changed(s, fused=True))
        elif kind == "add" and i > 0 and any(producer.get(t) == i - 1 and readers[t] == 1 and ops[i - 1].shape.kind in COMPUTE
                                            for t in op.inputs):
            out.append(changed(s, operands=len(op.inputs) - 1, fused=True))
        else:
            out.append(changed(s, operands=len(op.inputs)) if kind == "add" and s.operands != len(op.inputs) else s)
    return out


class OpRecorder:
    """Builds an Op list: `op` records one operation on tensor ids and returns the id of its output."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self._next = 0

    def tensor(self) -> int:
        """A fresh tensor id (the network's input, or a tensor no costed operation writes)."""
        self._next += 1
        return self._next

    def op(self, shape: LayerShape, *inputs: int) -> int:
        t = self.tensor()
        self.ops.append(Op(shape, tuple(inputs), t))
        return t
