"""Opening a saved model for a job: the model, its metadata and the dataset it is measured on, checked to fit."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ..data import DataConfig, Dataset, load_dataset
from ..errors import ConfigError
from ..evaluate import check_input_shape
from ..modelfile import ModelMeta, architecture_of, load_model
from ..variant import Variant, apply_variant


def load_for_eval(model: str | Path, dataset: str | None = None, data_dir: str | None = None,
                  split_seed: int = 0) -> tuple[nn.Module, ModelMeta, Dataset]:
    """A saved model (any variant) and the dataset to evaluate it on (its own by default), checked to fit."""
    net, meta = load_model(model)
    data = load_dataset(DataConfig(name=dataset or meta.dataset, root=data_dir, seed=split_seed))
    check_input_shape(meta.input_shape, data)
    if data.n_classes != meta.n_classes:
        raise ConfigError(f"--dataset: {data.name!r} has {data.n_classes} classes, the model has {meta.n_classes}")
    return net, meta, data


def load_quantized(model: str | Path, bits: int | None, dataset: str | None = None, data_dir: str | None = None,
                   split_seed: int = 0) -> tuple[nn.Module, ModelMeta, Dataset, Variant]:
    """load_for_eval, then (with `bits`) real post-training quantization of the float model, calibrated
    on the training split. A model that is already a variant is not quantized again under a new label."""
    net, meta, data = load_for_eval(model, dataset, data_dir, split_seed)
    variant = Variant.parse(meta.variant)
    if bits is not None:
        if not variant.is_base:
            raise ConfigError(f"--bits: the model is already the variant {meta.variant!r}; quantize the float model")
        vm = apply_variant(net, architecture_of(meta), data, Variant(recipe=variant.recipe, bits=bits))
        net, variant = vm.model, vm.variant
    return net, meta, data, variant
