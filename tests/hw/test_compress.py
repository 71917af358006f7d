from __future__ import annotations

import pytest
import torch
from torch import nn

from paretonet import DataConfig, TrainConfig, train_architecture
from paretonet.errors import ConfigError
from paretonet.evaluate import RobustnessConfig, accuracy, has_gradient_free_layers
from paretonet.hw import (
    LayerBits,
    QuantSpec,
    best_encoding,
    count_macs,
    encoding_sizes,
    layer_bits,
    model_energy,
    prune_unstructured,
    quantize_model,
    storage_bytes,
    weight_density,
)
from paretonet.hw._quantize import quantize_weight
from paretonet.pipeline import variant_record
from paretonet.variant import Variant, VariantModel, apply_variant


@pytest.fixture(scope="module")
def lenet():
    return train_architecture("lenet:lenet5", DataConfig("digits"), TrainConfig(epochs=15))


def test_weight_quantization_grid():
    w = torch.tensor([[-1.0, -0.3, 0.0, 0.26, 1.0]])
    q = quantize_weight(w, 2, per_channel=True)  # levels -2..1 times 1.0
    assert torch.equal(q, torch.tensor([[-1.0, 0.0, 0.0, 0.0, 1.0]]))
    w8 = torch.randn(4, 3, 3, 3)
    q8 = quantize_weight(w8, 8, per_channel=True)
    step = w8.abs().amax(dim=(1, 2, 3), keepdim=True) / 127
    assert torch.allclose(q8 / step, torch.round(q8 / step), atol=1e-4) and (q8 - w8).abs().max() <= step.max() / 2 + 1e-6
    # straight-through gradient
    w8.requires_grad_(True)
    quantize_weight(w8, 4, per_channel=False).sum().backward()
    assert torch.equal(w8.grad, torch.ones_like(w8))


def test_ptq_8bit_keeps_accuracy_and_shrinks_size_and_energy(lenet):
    base = accuracy(lenet.model, lenet.dataset.test)
    q = quantize_model(lenet.model, QuantSpec(8), calibration=lenet.dataset.train.x)
    assert base - accuracy(q, lenet.dataset.test) <= 0.01
    assert storage_bytes(q) < 0.27 * storage_bytes(lenet.model)
    assert count_macs(q, (1, 8, 8)).total_macs == count_macs(lenet.model, (1, 8, 8)).total_macs
    assert has_gradient_free_layers(q) and not has_gradient_free_layers(lenet.model)
    assert accuracy(lenet.model, lenet.dataset.test) == base  # the original is untouched


def test_mixed_precision_per_layer(lenet):
    names = [n for n, m in lenet.model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    spec = QuantSpec({names[0]: 8, names[1]: 4, names[-1]: 8})
    q = quantize_model(lenet.model, spec, calibration=lenet.dataset.train.x[:256])
    assert layer_bits(q) == {f"{names[0]}.layer": LayerBits.integer(8), f"{names[1]}.layer": LayerBits.integer(4),
                             f"{names[-1]}.layer": LayerBits.integer(8)}
    with pytest.raises(ConfigError, match="unknown layer"):
        quantize_model(lenet.model, QuantSpec({"nope": 4}))
    with pytest.raises(ConfigError, match="bits: got 17"):
        quantize_model(lenet.model, QuantSpec(17))


def test_uncalibrated_activation_quantizer_is_an_error(lenet):
    q = quantize_model(lenet.model, QuantSpec(8))
    with pytest.raises(ConfigError, match="before calibration"):
        q(lenet.dataset.test.x[:2])


def test_qat_recovers_low_bit_accuracy(lenet):
    ds, arch = lenet.dataset, lenet.architecture
    ptq = apply_variant(lenet.model, arch, ds, Variant(bits=2), TrainConfig(epochs=15))
    qat = apply_variant(lenet.model, arch, ds, Variant(bits=2, qat=3), TrainConfig(epochs=15))
    assert accuracy(qat.model, ds.test) > accuracy(ptq.model, ds.test) + 0.03
    four = apply_variant(lenet.model, arch, ds, Variant(bits=4, qat=2), TrainConfig(epochs=15))
    assert accuracy(lenet.model, ds.test) - accuracy(four.model, ds.test) <= 0.02


def test_channel_pruning_removes_filters_and_keeps_accuracy(lenet):
    vm = apply_variant(lenet.model, lenet.architecture, lenet.dataset, Variant(channels=0.5, finetune=3),
                       TrainConfig(epochs=15))
    assert str(vm.architecture) == "lenet:r32-valid|c3k5-relu-max|c8k5-relu-max|f60-relu|f42-relu"
    assert accuracy(vm.model, lenet.dataset.test) >= 0.93
    rebuilt = vm.architecture.build(lenet.dataset.input_shape, 10, lenet.dataset.mean, lenet.dataset.std)
    rebuilt.load_state_dict(vm.model.state_dict())  # the pruned network is again a genotype
    e0 = model_energy(lenet.model, (1, 8, 8)).total_pj
    assert model_energy(vm.model, (1, 8, 8)).total_pj < 0.5 * e0


def test_unstructured_pruning_and_sparse_size(lenet):
    pruned = prune_unstructured(lenet.model, 0.8)
    dens = weight_density(pruned)
    total = sum(m.weight.numel() for m in pruned.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    nz = sum(int((m.weight != 0).sum()) for m in pruned.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    assert nz == pytest.approx(0.2 * total, abs=2) and min(dens.values()) < 0.5
    w = torch.zeros(8, 16)
    w[:, ::4] = 1.0  # 1 of every 4 non-zero
    sizes = encoding_sizes(w, 8)
    assert sizes["dense"] == 128 and sizes["2:4"] == 64 * 10 // 8 and sizes["coo"] == 32 * (8 + 7) // 8
    assert best_encoding(torch.ones(4, 4), 8) == ("dense", 16)
    vm = apply_variant(lenet.model, lenet.architecture, lenet.dataset, Variant(prune=0.8, finetune=1),
                       TrainConfig(epochs=15))
    rec = variant_record(vm, lenet.dataset, 0, None)
    assert rec.value("size_bytes") < 0.6 * 4 * sum(p.numel() for p in lenet.model.parameters())
    assert rec.variant == "prune=0.8,finetune=1"


def test_quantized_model_robustness_uses_bpda(lenet):
    vm = apply_variant(lenet.model, lenet.architecture, lenet.dataset, Variant(bits=4))
    rc = RobustnessConfig(eps=0.1, preset="fast", queries=100, sanity=False)
    rec = variant_record(vm, lenet.dataset, 0, rc, (lenet.dataset.test.x[:80], lenet.dataset.test.y[:80]))
    assert [o.name for o in rec.objectives] == ["accuracy", "params", "size_bytes", "macs", "energy_pj@horowitz45:hierarchy",
                                                "energy_mac_pj@horowitz45:hierarchy", "energy_mult_pj@horowitz45:hierarchy",
                                                "energy_data_pj@horowitz45:hierarchy",
                                                "robust_accuracy@worst:fast:0.1"]
    assert rec.details["robustness"]["gradient_mode"] == "bpda+transfer+square"
    assert rec.budgets["robust_images"] == 80 and set(rec.budgets["attacks"]) >= {"pgd/bpda", "pgd/transfer", "square"}


@pytest.mark.parametrize("kwargs, message", [
    ({"bits": 0}, "bits: got 0"), ({"bits": 17}, "bits: got 17"), ({"prune": 1.0}, "prune: got 1"),
    ({"prune": -0.1}, "prune: got -0.1"), ({"channels": 1.5}, "channels: got 1.5"), ({"qat": 2}, "needs --bits"),
])
def test_bad_variants(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Variant(**kwargs)


def test_variant_string_is_canonical_and_parses_back():
    assert str(Variant()) == ""
    assert str(Variant(bits=4, qat=2, prune=0.5, channels=0.25, finetune=1)) == "bits=4,qat=2,prune=0.5,channels=0.25,finetune=1"
    assert str(VariantModel(nn.Identity(), None, Variant(bits=8, per_tensor=True)).variant) == "bits=8,per_tensor"
    for v in (Variant(), Variant(bits=4, act_bits=6, per_tensor=True, qat=2), Variant(prune=0.5, prune_scope="layer"),
              Variant(channels=0.25, finetune=1), Variant(multiplier="bam:h=2,v=3", exact_layers=("1.0", "1.3"), retrain=1),
              Variant(multipliers=("1.0@mul8u_L40", "1.3@bam:h=1,v=2"))):
        assert Variant.parse(str(v)) == v
    with pytest.raises(ConfigError, match="'colour=red' is not one of"):
        Variant.parse("bits=4,colour=red")
    with pytest.raises(ConfigError, match="bits='four' is not"):
        Variant.parse("bits=four")


def _rle_entries_slow(flat_nonzero: list[bool], run_bits: int = 4) -> int:
    entries, run = 0, 0
    for v in flat_nonzero:
        if v:
            entries, run = entries + 1, 0
        else:
            run += 1
            if run > 2**run_bits - 1:  # a filler entry restarts the count
                entries, run = entries + 1, 0
    return entries


@pytest.mark.parametrize("density", [0.0, 0.02, 0.3, 0.9, 1.0])
def test_rle_size_matches_the_plain_loop(density):
    g = torch.Generator().manual_seed(int(density * 100))
    w = torch.randn(37, 53, generator=g) * (torch.rand(37, 53, generator=g) < density)
    entries = _rle_entries_slow((w != 0).flatten().tolist())
    assert encoding_sizes(w, 8)["rle"] == (entries * (8 + 4) + 7) // 8
