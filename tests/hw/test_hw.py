from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from paretonet.errors import ArchitectureError
from paretonet.hw import QuantSpec, count_macs, count_params, profile_layers, quantize_model, storage_bytes
from paretonet.spaces import Architecture, build_model, sample_architecture


def reference_macs(model: nn.Module, shape) -> int:
    """torch's own counter reports 2 FLOPs per MAC for conv, linear and matmul."""
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, *shape))
    return counter.get_total_flops() // 2


def test_lenet5_macs_match_the_literature():
    model = build_model(Architecture.parse("lenet5", space="lenet"), (1, 32, 32), 10)
    macs = count_macs(model, (1, 32, 32))
    assert macs.total_macs == 416_520
    assert [m for _, m in macs.per_layer] == [117_600, 240_000, 48_000, 10_080, 840]
    assert count_params(model) == 61_706


@pytest.mark.parametrize("space,shape", [("lenet", (1, 8, 8)), ("lenet", (3, 32, 32)), ("nb201", (3, 32, 32))])
def test_macs_equal_torch_flop_counter(space, shape):
    for seed in range(6):
        model = build_model(sample_architecture(space, seed, shape), shape, 10)
        assert count_macs(model, shape).total_macs == reference_macs(model, shape)


def test_grouped_and_depthwise_convs_are_counted_per_group():
    model = nn.Sequential(
        nn.Conv2d(8, 16, 3, padding=1, groups=4),  # grouped
        nn.Conv2d(16, 16, 3, stride=2, padding=1, groups=16),  # depthwise, strided
        nn.Conv2d(16, 8, 1),
        nn.Flatten(),
        nn.Linear(8 * 5 * 5, 3),
    )
    macs = count_macs(model, (8, 10, 10))
    expected = [16 * 100 * 2 * 9, 16 * 25 * 1 * 9, 8 * 25 * 16, 200 * 3]
    assert [m for _, m in macs.per_layer] == expected
    assert macs.total_macs == reference_macs(model, (8, 10, 10))
    depthwise = next(p for p in profile_layers(model, (8, 10, 10)) if p.groups == 16)
    assert depthwise.stride == 2 and depthwise.out_shape == (16, 5, 5)


def test_storage_bytes_reads_the_widths_off_the_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 3))  # 30 weights + 3 biases
    assert storage_bytes(model) == 132  # float32
    assert storage_bytes(quantize_model(model, QuantSpec(8))) == 30 + 12  # weights at 8 bits, biases stay 32-bit
    assert storage_bytes(quantize_model(model, QuantSpec(4))) == 15 + 12
    with torch.no_grad():
        model[0].weight[:, 1:] = 0  # 3 non-zeros of 30: a sparse encoding is smaller than dense
    assert storage_bytes(model) < 132


def test_profile_restores_mode_and_rejects_bad_shapes():
    model = build_model(Architecture.parse("lenet5", space="lenet"), (1, 8, 8), 10).train()
    profile_layers(model, (1, 8, 8))
    assert model.training
    with pytest.raises(ArchitectureError, match="input_shape"):
        profile_layers(model, (8, 8))
    with pytest.raises(ArchitectureError, match=r"model does not accept input shape \(3, 8, 8\)"):
        profile_layers(model, (3, 8, 8))
