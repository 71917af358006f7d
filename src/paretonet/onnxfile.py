"""ONNX files as PyTorch modules: the CNN operators of image classifiers, checked against onnxruntime at load.

onnx2torch, the maintained converter, imports torchvision, which cannot be imported beside this CPU torch;
so the conversion is written here for the operators image CNNs export to: Conv, Gemm / MatMul, batch
normalization, ReLU / LeakyReLU / sigmoid / tanh, max / average / global average pooling, Flatten and
Reshape to (batch, -1), Add and Concat of activations, Identity. Each becomes the torch module the rest of
paretonet knows (nn.Conv2d, nn.Linear, ...), so quantization, approximate multipliers, attacks and the cost
models work on it as on any model. Any other operator is an error naming the node. At load the module's
outputs on seeded random inputs must equal onnxruntime's within ONNX_TOLERANCE, or the file is refused.
Extra: `pip install paretonet[onnx]`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ._schema import read_json
from .errors import ConfigError, ModelFileError

ONNX_TOLERANCE = 1e-5  # |ours - onnxruntime| <= ONNX_TOLERANCE * (1 + |onnxruntime|), element-wise
CHECK_IMAGES = 4  # seeded random images the conversion is checked on
MAX_BATCH = 64  # a static batch size larger than this is not an image classifier's export
MAX_INPUT_ELEMENTS = 3 * 1024 * 1024  # values per image: a 1024x1024 RGB image; bounded before anything is allocated
SUPPORTED = ("Conv", "Gemm", "MatMul", "BatchNormalization", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "MaxPool",
             "AveragePool", "GlobalAveragePool", "Flatten", "Reshape", "Add", "Concat", "Identity", "Constant")
_MODULES = {"Relu": nn.ReLU, "Sigmoid": nn.Sigmoid, "Tanh": nn.Tanh}


class OnnxNetwork(nn.Module):
    """The converted graph: layers as named modules, run in the file's node order."""

    def __init__(self, layers: dict[str, nn.Module], steps: list[tuple[str, str, tuple[str, ...], str]],
                 input_name: str, output_name: str) -> None:
        super().__init__()
        self.layers = nn.ModuleDict(layers)
        self.steps, self.input_name, self.output_name = steps, input_name, output_name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = {self.input_name: x}
        for kind, key, inputs, output in self.steps:
            args = [values[i] for i in inputs]
            if kind == "module":
                values[output] = self.layers[key](args[0])
            elif kind == "add":
                values[output] = args[0] + args[1]
            elif kind == "concat":
                values[output] = torch.cat(args, dim=1)
            else:  # alias
                values[output] = args[0]
        return values[self.output_name]


def _attrs(node: Any) -> dict[str, Any]:  # noqa: ANN401
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _symmetric(pads: list[int], where: str) -> tuple[int, int]:
    if not pads:
        return (0, 0)
    if len(pads) != 4 or pads[0] != pads[2] or pads[1] != pads[3]:
        raise ModelFileError(f"ONNX node {where}: asymmetric padding {pads} is not supported")
    return (int(pads[0]), int(pads[1]))


def _param(t: np.ndarray) -> nn.Parameter:
    return nn.Parameter(torch.from_numpy(np.array(t, dtype=np.float32)))  # a copy: onnx arrays are read-only


def _layer(op: str, a: dict[str, Any], weights: list[np.ndarray | None], where: str) -> nn.Module:
    """The torch module of one weighted or element-wise node."""
    if op == "Conv":
        w, b = weights[0], weights[1] if len(weights) > 1 else None
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or w is None or w.ndim != 4:
            raise ModelFileError(f"ONNX node {where}: only 2-D convolutions with explicit padding are supported")
        groups = int(a.get("group", 1))
        m = nn.Conv2d(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]), stride=tuple(a.get("strides", (1, 1))),
                      padding=_symmetric(list(a.get("pads", [])), where), dilation=tuple(a.get("dilations", (1, 1))),
                      groups=groups, bias=b is not None)
        m.weight = _param(w)
        if b is not None:
            m.bias = _param(b)
        return m
    if op in ("Gemm", "MatMul"):
        w, b = weights[0], weights[1] if len(weights) > 1 else None
        if w is None or a.get("transA", 0):
            raise ModelFileError(f"ONNX node {where}: {op} needs a constant weight matrix (and transA = 0)")
        w = w.T if op == "MatMul" or not a.get("transB", 0) else w  # Linear holds (out, in)
        w = w * float(a.get("alpha", 1.0))
        m = nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
        m.weight = _param(w)
        if b is not None:
            m.bias = _param(np.broadcast_to(b * float(a.get("beta", 1.0)), (w.shape[0],)))
        return m
    if op == "BatchNormalization":
        scale, bias, mean, var = weights[:4]
        m = nn.BatchNorm2d(len(scale), eps=float(a.get("epsilon", 1e-5)))
        m.weight, m.bias = _param(scale), _param(bias)
        m.running_mean.copy_(torch.from_numpy(mean.astype(np.float32)))
        m.running_var.copy_(torch.from_numpy(var.astype(np.float32)))
        return m.eval()
    if op in ("MaxPool", "AveragePool"):
        k = tuple(a["kernel_shape"])
        kw = {"stride": tuple(a.get("strides", k)), "padding": _symmetric(list(a.get("pads", [])), where),
              "ceil_mode": bool(a.get("ceil_mode", 0))}
        if op == "MaxPool":
            return nn.MaxPool2d(k, dilation=tuple(a.get("dilations", (1, 1))), **kw)
        return nn.AvgPool2d(k, count_include_pad=bool(a.get("count_include_pad", 0)), **kw)
    if op == "GlobalAveragePool":
        return nn.AdaptiveAvgPool2d(1)
    if op == "LeakyRelu":
        return nn.LeakyReLU(float(a.get("alpha", 0.01)))
    return _MODULES[op]()


def convert(model: Any) -> OnnxNetwork:  # noqa: ANN401
    """An onnx.ModelProto as an OnnxNetwork (one image input, one logits output)."""
    from onnx import numpy_helper

    g = model.graph
    const = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    inputs = [i.name for i in g.input if i.name not in const]
    if len(inputs) != 1 or len(g.output) != 1:
        raise ModelFileError(f"ONNX graph: {len(inputs)} inputs and {len(g.output)} outputs; expected one image input "
                             "and one output")
    layers: dict[str, nn.Module] = {}
    steps: list[tuple[str, str, tuple[str, ...], str]] = []
    for k, node in enumerate(g.node):
        op, a = node.op_type, _attrs(node)
        where = f"{node.name or k} ({op})"
        if op not in SUPPORTED:
            raise ModelFileError(f"ONNX node {where}: operator {op} is not supported; supported: {', '.join(SUPPORTED)}")
        if op == "Constant":
            const[node.output[0]] = numpy_helper.to_array(a["value"])
            continue
        if op == "Identity" and node.input[0] in const:
            const[node.output[0]] = const[node.input[0]]
            continue
        acts = tuple(i for i in node.input if i and i not in const)
        if op in ("Add", "Concat"):
            if op == "Concat" and int(a.get("axis", 1)) != 1 or len(acts) != len(node.input):
                raise ModelFileError(f"ONNX node {where}: only sums / channel concatenations of activations are supported")
            steps.append(("add" if op == "Add" else "concat", "", acts, node.output[0]))
            continue
        if op == "Identity":
            steps.append(("alias", "", acts, node.output[0]))
            continue
        if op in ("Flatten", "Reshape"):
            shape = const.get(node.input[1]) if op == "Reshape" and len(node.input) > 1 else None
            if (op == "Flatten" and int(a.get("axis", 1)) != 1) or (
                    op == "Reshape" and (shape is None or len(shape) != 2 or shape[1] != -1)):
                raise ModelFileError(f"ONNX node {where}: only flattening to (batch, -1) is supported")
            key = f"flatten{k}"
            layers[key] = nn.Flatten(1)
        else:
            key = f"{op.lower()}{k}"
            layers[key] = _layer(op, a, [const.get(i) for i in node.input[1:] if i], where)
        steps.append(("module", key, acts[:1], node.output[0]))
    return OnnxNetwork(layers, steps, inputs[0], g.output[0].name).eval()


def _check_against_onnxruntime(path: Path, net: nn.Module, input_shape: tuple[int, ...], batch: int) -> None:
    """Our outputs equal onnxruntime's on CHECK_IMAGES seeded random images, fed `batch` at a time (the file's static
    batch size, or all at once when the batch is dynamic)."""
    import onnxruntime

    n = batch * -(-CHECK_IMAGES // batch)  # whole batches, at least CHECK_IMAGES images
    x = torch.rand((n, *input_shape), generator=torch.Generator().manual_seed(0))
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        ref = np.concatenate([session.run(None, {name: x[i:i + batch].numpy()})[0] for i in range(0, len(x), batch)])
    except Exception as e:  # noqa: BLE001 - onnxruntime's own error kinds: the file is refused with its reason
        raise ModelFileError(f"ONNX file {path}: onnxruntime cannot run it: {type(e).__name__}: "
                             f"{(str(e).splitlines() or [''])[0][:200]}") from None
    with torch.no_grad():
        ours = net(x).numpy()
    if ours.shape != ref.shape or not np.all(np.abs(ours - ref) <= ONNX_TOLERANCE * (1 + np.abs(ref))):
        worst = float(np.max(np.abs(ours - ref))) if ours.shape == ref.shape else float("nan")
        raise ModelFileError(f"ONNX file {path}: the converted network differs from onnxruntime by {worst:.3g} "
                             f"(allowed {ONNX_TOLERANCE:g} x (1 + |output|))")


def load_onnx(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The network of an .onnx file and what a model's metadata needs: architecture key ('onnx:<sha256[:12]>'),
    input shape and class count (from the graph), dataset (from PATH.json beside it)."""
    try:
        import onnx
    except ImportError:
        raise ModelFileError("ONNX files need the 'onnx' extra: pip install 'paretonet[onnx]'") from None
    p = Path(path)
    try:
        data = p.read_bytes()
        model = onnx.load_from_string(data)
        onnx.checker.check_model(model)
    except Exception as e:  # noqa: BLE001 - reading, protobuf's decoding and the checker each raise their own kinds
        raise ModelFileError(f"ONNX file {p} does not parse: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    const = {t.name for t in model.graph.initializer}
    image = [i for i in model.graph.input if i.name not in const]
    dims = [d.dim_value for d in image[0].type.tensor_type.shape.dim] if image else []
    if len(dims) != 4 or min(dims[1:]) < 1:
        raise ModelFileError(f"ONNX file {p}: input dims {dims}; expected (batch, channels, height, width)")
    if dims[0] > MAX_BATCH or int(np.prod(dims[1:], dtype=np.int64)) > MAX_INPUT_ELEMENTS:  # before any allocation
        raise ModelFileError(f"ONNX file {p}: input dims {dims}; allowed a batch of at most {MAX_BATCH} and at most "
                             f"{MAX_INPUT_ELEMENTS:,} values per image")
    try:
        net = convert(model)
    except ModelFileError:
        raise
    except Exception as e:  # noqa: BLE001 - a malformed node (missing attribute, wrong weight shape): one line
        raise ModelFileError(f"ONNX file {p}: cannot convert the graph: {type(e).__name__}: "
                             f"{(str(e).splitlines() or [''])[0][:200]}") from None
    _check_against_onnxruntime(p, net, tuple(dims[1:]), dims[0] or CHECK_IMAGES)
    side = p.with_suffix(".json")
    try:
        extra = read_json(side, f"ONNX metadata {side}") if side.is_file() else {}
    except ConfigError as e:
        raise ModelFileError(str(e)) from None
    if not isinstance(extra, dict) or not isinstance(extra.get("dataset"), str):
        raise ModelFileError(f"ONNX file {p}: name its dataset in {side}, e.g. {{\"dataset\": \"digits\"}}")
    with torch.no_grad():
        classes = int(net(torch.zeros(1, *dims[1:])).shape[1])  # the converted network takes any batch size
    return net, {"architecture": f"onnx:{hashlib.sha256(data).hexdigest()[:12]}", "input_shape": tuple(dims[1:]),
                 "n_classes": classes, "dataset": extra["dataset"], "seed": int(extra.get("seed", 0))}
