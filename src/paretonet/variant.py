"""A variant: a trained model plus a recipe (bits, pruning, later multipliers and noise).

apply_variant() turns the model into the variant's model; evaluate_variant() measures all four
objectives the same way for every variant, so later stages treat them uniformly.
Canonical string: 'bits=4,act_bits=4,per_tensor,qat=2,prune=0.5,prune_scope=layer,channels=0.5,finetune=2'
or 'multiplier=mul8u_L40,exact_layers=net.fc3,retrain=2' (only non-default fields, in this order;
'' is the float model as trained).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import nn

from .data import Dataset
from .errors import ConfigError, check_choice, check_float, check_int
from .evaluate import RobustnessConfig, accuracy, evaluate_robustness
from .hw import FLOAT32, model_energy
from .records import Objective, Record, versions
from .spaces import Architecture
from .train import TrainConfig, train


CALIBRATION_IMAGES = 2000


@dataclass(frozen=True)
class Variant:
    bits: int | None = None  # weight bits of every conv/linear layer; None: float
    act_bits: int | None = None  # None: same as bits
    per_tensor: bool = False  # weights per tensor instead of per output channel
    qat: int = 0  # quantization-aware training epochs (straight-through estimator)
    prune: float = 0.0  # unstructured magnitude pruning ratio
    prune_scope: str = "global"
    channels: float = 0.0  # channel pruning ratio (filters removed)
    finetune: int = 0  # epochs of fine-tuning after pruning
    multiplier: str | None = None  # approximate 8x8 multiplier (name, design spec or .bin) in conv/linear layers
    approx_layers: tuple[str, ...] = ()  # layers that get the multiplier (empty: all)
    exact_layers: tuple[str, ...] = ()  # layers left float
    retrain: int = 0  # straight-through retraining epochs of the approximate model

    def __post_init__(self) -> None:
        if self.bits is not None:
            check_int("bits", self.bits, minimum=1, maximum=16)
        if self.act_bits is not None:
            check_int("act_bits", self.act_bits, minimum=1, maximum=16)
            if self.bits is None:
                raise ConfigError("act_bits: quantized activations need --bits for the weights too")
        check_int("qat", self.qat, minimum=0)
        if self.qat and self.bits is None:
            raise ConfigError("qat: quantization-aware training needs --bits")
        check_float("prune", self.prune, minimum=0.0, maximum=1.0, max_inclusive=False)
        check_choice("prune_scope", self.prune_scope, ("global", "layer"))
        check_float("channels", self.channels, minimum=0.0, maximum=1.0, max_inclusive=False)
        check_int("finetune", self.finetune, minimum=0)
        check_int("retrain", self.retrain, minimum=0)
        if self.multiplier is None and (self.approx_layers or self.exact_layers or self.retrain):
            raise ConfigError("multiplier: --layers, --exact-layers and --retrain need a multiplier")
        if self.multiplier is not None and self.bits is not None:
            raise ConfigError("multiplier: approximate layers are 8-bit by construction; drop --bits")

    def __str__(self) -> str:
        parts = []
        for f in fields(self):
            v = getattr(self, f.name)
            if v == f.default:
                continue
            if isinstance(v, tuple):
                v = "+".join(v)
            parts.append(f.name if v is True else f"{f.name}={v:g}" if isinstance(v, float) else f"{f.name}={v}")
        return ",".join(parts)


@dataclass(frozen=True, eq=False)
class VariantModel:
    model: nn.Module
    architecture: Architecture
    variant: Variant


def apply_variant(model: nn.Module, arch: Architecture, dataset: Dataset, variant: Variant,
                  train_config: TrainConfig = TrainConfig(), lut_dirs: tuple[str, ...] = ()) -> VariantModel:
    """Channel pruning, then unstructured pruning (+ fine-tuning), then quantization (+ QAT) or
    approximate multipliers (+ straight-through retraining)."""
    from .hw._prune import finalize_pruning, lenet_architecture_of, prune_channels, prune_unstructured
    from .hw._quantize import QuantSpec, quantize_model

    m = model
    if variant.channels:
        m = prune_channels(m, variant.channels, dataset.input_shape)
        arch = lenet_architecture_of(m, arch)
    if variant.prune:
        m = prune_unstructured(m, variant.prune, variant.prune_scope)
    if (variant.channels or variant.prune) and variant.finetune:
        train(m, dataset, replace(train_config, epochs=variant.finetune, lr=train_config.lr * 0.3))
    if variant.prune:
        m = finalize_pruning(m)
    if variant.bits is not None:
        spec = QuantSpec(variant.bits, variant.act_bits, per_channel=not variant.per_tensor)
        m = quantize_model(m, spec, calibration=dataset.train.x)
        if variant.qat:
            train(m, dataset, replace(train_config, epochs=variant.qat, lr=train_config.lr * 0.1))
    if variant.multiplier is not None:
        from .hw.approx import approximate_model, get_multiplier, retrain

        mult = get_multiplier(variant.multiplier, dirs=lut_dirs)
        plan = {n: mult for n in variant.approx_layers} if variant.approx_layers else mult
        m = approximate_model(m, plan, dataset.train.x[:CALIBRATION_IMAGES], exact_layers=variant.exact_layers)
        if variant.retrain:
            retrain(m, dataset, variant.retrain, train_config)
    m.eval()
    return VariantModel(m, arch, variant)


def variant_objectives(vm: VariantModel, dataset: Dataset, robustness: RobustnessConfig | None,
                       images: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[Objective, ...]:
    """Accuracy, robust accuracy (when asked), size in bytes (best encoding) and energy of a variant."""
    from .hw._prune import weight_density
    from .hw._energy import LayerBits
    from .hw._quantize import QuantLayer, quantized_bits
    from .hw._sparse import best_encoding
    from .hw.approx import approx_layers, power_factors

    m = vm.model
    objs = [Objective("accuracy", accuracy(m, dataset.test), "fraction", "max")]
    if robustness is not None:
        x, y = images if images is not None else (dataset.test.x, dataset.test.y)
        objs.append(evaluate_robustness(m, x, y, robustness).objective())
    wbits = {f"{n}.layer.weight": q.weight_bits for n, q in m.named_modules() if isinstance(q, QuantLayer)}
    approx = approx_layers(m)
    wbits.update({f"{n}.weight": 8 for n in approx})
    size = 0
    for name, p in m.named_parameters():
        b = wbits.get(name, 32)
        size += best_encoding(p, b)[1] if name.endswith("weight") and p.dim() > 1 else (p.numel() * b + 7) // 8
    objs.append(Objective("size_bytes", float(size), "bytes", "min"))
    bits = quantized_bits(m) | {n: LayerBits(8, 8, 32, is_float=False) for n in approx} or FLOAT32
    density = weight_density(m)
    e = model_energy(m, dataset.input_shape, "horowitz45", "A", bits=bits, weight_density=density,
                     mult_factor=power_factors(m))
    objs.append(Objective("energy_pj@horowitz45:A", e.total_pj, "pJ", "min"))
    return tuple(objs)


def variant_record(vm: VariantModel, dataset: Dataset, seed: int, robustness: RobustnessConfig | None,
                   images: tuple[torch.Tensor, torch.Tensor] | None = None) -> Record:
    return Record(str(vm.architecture), dataset.name, seed, variant_objectives(vm, dataset, robustness, images),
                  variant=str(vm.variant), versions=versions())
