"""Turning a trained model into a variant's model, and rebuilding a saved variant's structure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from torch import nn

from ..data import Dataset
from ..hw import (
    QuantSpec,
    finalize_pruning,
    quantizable_layers,
    layer_names,
    prune_channels,
    prune_unstructured,
    quantize_model,
    resolve_layers,
)
from ..hw.approx import Multiplier, approximate_model, get_multiplier
from ..spaces import Architecture
from ..train import TrainConfig, prepare_model, train
from ._recipe import CALIBRATION_IMAGES, Variant
from ._tuning import retrain


@dataclass(frozen=True, eq=False)
class VariantModel:
    model: nn.Module
    architecture: Architecture  # after channel pruning: the smaller genotype
    variant: Variant


def multiplier_plan(variant: Variant, lut_dirs: tuple[str, ...] = ()) -> dict[str, Multiplier] | Multiplier:
    """The variant's multipliers: one for every layer (or the listed ones), or a per-layer assignment."""
    if variant.multipliers:
        return {layer: get_multiplier(spec, dirs=lut_dirs) for layer, spec in variant.assignment.items()}
    mult = get_multiplier(variant.multiplier, dirs=lut_dirs)
    return {n: mult for n in variant.approx_layers} if variant.approx_layers else mult


def apply_variant(model: nn.Module, arch: Architecture, dataset: Dataset, variant: Variant,
                  train_config: TrainConfig = TrainConfig(), lut_dirs: tuple[str, ...] = ()) -> VariantModel:
    """Channel pruning, then unstructured pruning (+ fine-tuning), then quantization (+ QAT) or
    approximate multipliers (+ straight-through retraining). `model` itself is left unchanged. Every
    training step uses the variant's training recipe (adversarial fine-tuning: robust compression)."""
    variant = readable_layers(model, variant)
    m = model
    train_config = replace(train_config, recipe=variant.training_recipe)
    if variant.channels:
        m = prune_channels(m, variant.channels, dataset.input_shape)
        arch = arch.of_model(m)
    if variant.prune:
        m = prune_unstructured(m, variant.prune, variant.prune_scope)
    if (variant.channels or variant.prune) and variant.finetune:
        train(m, dataset, replace(train_config, epochs=variant.finetune, lr=train_config.lr * 0.3))
    if variant.prune:
        m = finalize_pruning(m)
    if variant.bits is not None:
        m = quantize_model(m, _quant_spec(variant), calibration=dataset.train.x)
        if variant.qat:
            train(m, dataset, replace(train_config, epochs=variant.qat, lr=train_config.lr * 0.1))
    if variant.multiplier is not None or variant.multipliers:
        m = approximate_model(m, multiplier_plan(variant, lut_dirs), dataset.train.x[:CALIBRATION_IMAGES],
                              exact_layers=variant.exact_layers, float_layers=variant.float_layers)
        if variant.retrain:
            retrain(m, dataset, variant.retrain, train_config)
    m.eval()
    return VariantModel(m, arch, variant)


def readable_layers(model: nn.Module, variant: Variant) -> Variant:
    """The variant with its layers by readable name (conv1, fc1, classifier), whichever names were given
    (readable or module names such as 1.1): one model, one variant string."""
    if not (variant.approx_layers or variant.exact_layers or variant.float_layers or variant.multipliers):
        return variant
    names = layer_names(model)

    def readable(layers: tuple[str, ...], what: str) -> tuple[str, ...]:
        return tuple(names[n] for n in resolve_layers(model, layers, what))

    assignment = variant.assignment
    return replace(variant, approx_layers=readable(variant.approx_layers, "layers"),
                   exact_layers=readable(variant.exact_layers, "exact layers"),
                   float_layers=readable(variant.float_layers, "float layers"),
                   multipliers=tuple(f"{layer}@{spec}" for layer, spec in
                                     zip(readable(tuple(assignment), "multipliers"), assignment.values())))


def _quant_spec(variant: Variant) -> QuantSpec:
    return QuantSpec(variant.bits, variant.act_bits, per_channel=not variant.per_tensor)


def variant_structure(model: nn.Module, variant: Variant,
                      multipliers: Mapping[str, Multiplier] | None = None) -> nn.Module:
    """The variant's modules wrapped around `model`'s layers with no training and no calibration:
    the skeleton a saved variant's state dict (quantizer ranges included) loads into.
    `model` is already of the pruned architecture; pruning leaves no modules of its own."""
    m = prepare_model(model, variant.training_recipe)
    if variant.bits is not None:
        m = quantize_model(m, _quant_spec(variant))
    if multipliers:  # every 8-bit layer's table was saved: the layers without one are float
        m = approximate_model(m, dict(multipliers), None,
                              float_layers=[n for n in quantizable_layers(m) if n not in multipliers])
    return m
