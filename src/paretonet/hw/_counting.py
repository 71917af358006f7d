"""Parameter, size, MAC and FLOP counts, per layer and in total, from one traced forward pass."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ArchitectureError
from ..layers import eval_mode, gradient_mode

# Leaf modules whose work we count; those that cost nothing (Identity, Flatten, and paretonet's modules that say
# costs_nothing: Zero, Normalize, Resize, ActQuant) are "free"; anything else is "other": the cost models refuse it.
_FREE = (nn.Identity, nn.Flatten, nn.Unflatten, nn.Dropout)
_CONV = (nn.Conv1d, nn.Conv2d)
_POOL = (nn.AvgPool2d, nn.MaxPool2d)
_ADAPTIVE_POOL = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
_ACT = (nn.ReLU, nn.ReLU6, nn.Tanh, nn.Sigmoid, nn.GELU, nn.ELU, nn.LeakyReLU)


@dataclass(frozen=True)
class LayerProfile:
    """One layer as seen in a forward pass on a single image (batch dimension dropped)."""

    name: str
    kind: str  # conv | linear | batchnorm | activation | pool | adaptive_pool | free | other (cannot be priced)
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int
    macs: int
    kernel_area: int = 1
    stride: int = 1
    groups: int = 1
    inputs: tuple[int, ...] = ()  # ids of the activation tensors read (see layers.Op)
    output: int = 0  # id of the tensor written
    module: str = ""  # the layer's class name


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
    if isinstance(m, _FREE) or getattr(m, "costs_nothing", False):
        return "free"
    return "other"


def _macs(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    if isinstance(m, _CONV):
        # every output element is a dot product over (in_channels / groups) x kernel window
        return int(y[0].numel()) * (m.in_channels // m.groups) * math.prod(m.kernel_size)
    if isinstance(m, nn.Linear):
        return int(y[0].numel()) * m.in_features
    return 0


_ADDS = {torch.add, torch.Tensor.add, torch.Tensor.__add__, torch.Tensor.__radd__, torch.Tensor.__iadd__,
         torch.Tensor.add_}
_CATS = {torch.cat, torch.concat}
# Work a user's forward may do as a function rather than a module: element-wise activations are priced as
# activations; the rest has no shape the cost models know and is refused by name (use the module instead).
_F = torch.nn.functional
_ACT_FUNCTIONS = {torch.relu, torch.relu_, _F.relu, _F.relu6, torch.sigmoid, _F.sigmoid, torch.tanh, _F.tanh, _F.gelu,
                  _F.elu, _F.leaky_relu, torch.Tensor.relu, torch.Tensor.sigmoid, torch.Tensor.tanh}
_VIEW_FUNCTIONS = {torch.flatten, torch.Tensor.flatten, torch.Tensor.view, torch.reshape, torch.Tensor.reshape,
                   torch.squeeze, torch.Tensor.squeeze, torch.unsqueeze, torch.Tensor.unsqueeze, torch.Tensor.contiguous}
_COMPUTE_FUNCTIONS = {_F.conv2d, _F.linear, torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, _F.max_pool2d,
                      _F.avg_pool2d, _F.adaptive_avg_pool2d, _F.adaptive_max_pool2d, _F.batch_norm, _F.softmax,
                      torch.softmax, _F.layer_norm, _F.interpolate, torch.mul, torch.Tensor.mul, torch.Tensor.__mul__}


class _Tensors:
    """Stable ids for the activations of one traced pass (holding them, so no id is reused)."""

    def __init__(self) -> None:
        self.ids: dict[int, int] = {}
        self.alive: list[torch.Tensor] = []

    def id(self, t: torch.Tensor) -> int:
        key = id(t)
        if key not in self.ids:
            self.ids[key] = len(self.ids) + 1
            self.alive.append(t)
        return self.ids[key]

    def known(self, t: object) -> bool:
        return isinstance(t, torch.Tensor) and id(t) in self.ids


class _FunctionalOps(torch.overrides.TorchFunctionMode):
    """Records sums and channel concatenations of activations done outside any leaf module (a cell's
    node sums, a residual add): weights and scalars are not activations and are left alone."""

    def __init__(self, tensors: _Tensors, records: list, scope: list[str]) -> None:
        super().__init__()
        self.tensors, self.records, self.scope = tensors, records, scope
        self.inside_leaf = 0
        self.inside_own = 0  # inside a paretonet module (a wrapper's own arithmetic is priced by its layer)
        self.count: Counter[str] = Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        out = func(*args, **(kwargs or {}))
        if self.inside_leaf or not isinstance(out, torch.Tensor):
            return out
        if func in _ACT_FUNCTIONS | _COMPUTE_FUNCTIONS | _VIEW_FUNCTIONS and not self.inside_own and args and \
                self.tensors.known(args[0]) and out is not args[0]:
            return self._function(func, args[0], out)
        if func in _ADDS and len(args) >= 2 and all(self.tensors.known(a) and a.shape == out.shape for a in args[:2]):
            operands = args[:2]
        elif func in _CATS and isinstance(args[0], (list, tuple)) and len(args[0]) > 1 and out.dim() == 4 and \
                (kwargs or {}).get("dim", args[1] if len(args) > 1 else 0) in (1, -3) and \
                all(self.tensors.known(a) for a in args[0]):
            operands = tuple(args[0])
        else:
            return out
        kind = "add" if func in _ADDS else "concat"
        where = self.scope[-1] if self.scope else ""
        name = f"{where}.{kind}{self.count[where]}" if where else f"{kind}{self.count[where]}"
        self.count[where] += 1
        shape = tuple(int(d) for d in out.shape[1:])
        self.records.append(LayerProfile(name, kind, shape, shape, 0, 0,
                                         inputs=tuple(self.tensors.id(a) for a in operands), output=self.tensors.id(out)))
        return out

    def _function(self, func, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        """An activation or another operation called as a function in a user's forward."""
        where = self.scope[-1] if self.scope else ""
        fname = getattr(func, "__name__", str(func))
        name = f"{where}.{fname}{self.count[where]}" if where else f"{fname}{self.count[where]}"
        self.count[where] += 1
        kind = "activation" if func in _ACT_FUNCTIONS else "free" if func in _VIEW_FUNCTIONS else "other"
        self.records.append(LayerProfile(name, kind, tuple(int(d) for d in x.shape[1:]), tuple(int(d) for d in out.shape[1:]),
                                         0, 0, inputs=(self.tensors.id(x),), output=self.tensors.id(out),
                                         module=f"{fname} called as a function"))
        return out


def profile_layers(model: nn.Module, input_shape: tuple[int, ...]) -> list[LayerProfile]:
    """Trace one zero image through `model` (in eval mode, restored after) and profile each leaf layer,
    and each sum or concatenation of activations done between layers (kinds add, concat)."""

    if len(input_shape) != 3 or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in input_shape):
        raise ArchitectureError(f"input_shape: got {tuple(input_shape)}, expected (channels, height, width)")
    records: list[LayerProfile] = []
    names = {m: n for n, m in model.named_modules()}
    tensors, scope, entered, own = _Tensors(), [], [], []
    capture = _FunctionalOps(tensors, records, scope)

    def enter(m: nn.Module, inputs: tuple) -> None:
        scope.append(names.get(m, type(m).__name__))
        own.append(type(m).__module__.startswith("paretonet.") and bool(list(m.children())) and
                   not hasattr(m, "interval_forward"))  # a wrapper, not a space's cell or block
        capture.inside_own += own[-1]
        entered.append(inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None)
        if not list(m.children()):
            capture.inside_leaf += 1

    def reads(x: torch.Tensor) -> int:
        """The activation a leaf reads. A wrapper (a quantized or approximate layer) hands its leaf a transformed
        copy of its own input (fake-quantized): the leaf then reads what the wrapper was given."""
        if not tensors.known(x):
            outer = next((t for t in reversed(entered[:-1]) if t is not None and tensors.known(t)), None)
            if outer is not None:
                return tensors.id(outer)
        return tensors.id(x)

    def leave(m: nn.Module, inputs: tuple, y: torch.Tensor) -> None:
        if not list(m.children()):
            capture.inside_leaf -= 1
            record(m, inputs, y)  # before popping: reads() looks at the modules around this one
        scope.pop()
        entered.pop()
        capture.inside_own -= own.pop()

    def record(m: nn.Module, inputs: tuple, y: torch.Tensor) -> None:
        if isinstance(y, (tuple, list)):  # (output, state) of a recurrent layer: the output is what flows on
            y = next((t for t in y if isinstance(t, torch.Tensor)), torch.zeros(1))
        x = inputs[0]
        k = _kind(m)
        ks = getattr(m, "kernel_size", 1)
        if isinstance(m, _ADAPTIVE_POOL):
            area = (x.shape[-1] * x.shape[-2]) // max(1, y.shape[-1] * y.shape[-2])
        else:
            area = math.prod(ks) if isinstance(ks, tuple) else int(ks) ** 2 if k == "pool" else 1
        stride = getattr(m, "stride", 1)
        # a module that ignores its input's values (nb201's none op: zeros) depends on nothing
        read = (reads(x),) if isinstance(x, torch.Tensor) and getattr(m, "reads_input", True) else ()
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
            inputs=read,
            # an identity passes its input on: the reader of its output reads what its producer wrote
            output=tensors.id(y) if isinstance(y, torch.Tensor) else 0,
            module=type(m).__name__,
        ))

    handles = [h for m in model.modules() for h in (m.register_forward_pre_hook(enter), m.register_forward_hook(leave))]
    try:
        # the differentiable twin has the same layers and shapes and runs them as ordinary modules
        with eval_mode(model), torch.no_grad(), gradient_mode(model, "surrogate"):
            x = torch.zeros(1, *input_shape)
            tensors.id(x)
            with capture:
                model(x)
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
    """Multiply-accumulates of conv and linear layers for one image; grouped/depthwise conv counted per group.
    A layer whose work is not counted (a user's LSTM, a convolution called as a function) is an error, not 0."""
    profiles = profile_layers(model, input_shape)
    unknown = next((p for p in profiles if p.kind == "other"), None)
    if unknown is not None:
        raise ArchitectureError(f"macs: layer {unknown.name} ({unknown.module}) is not counted; MACs are counted for "
                                "conv and linear modules")
    layers = [p for p in profiles if p.kind in ("conv", "linear")]
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
