from __future__ import annotations

import json

import torch

import numpy as np
import pytest
from torch import nn

from paretonet.errors import ConfigError
from paretonet.hw import (
    HOROWITZ45,
    LayerBits,
    count_macs,
    estimate_energy,
    hardware,
    layer_shapes,
    mac_energy_pj,
    mult_energy_pj,
    model_energy,
)
from paretonet.analytic import architecture_energy, architecture_total_energy_pj
from paretonet.layers import LayerShape
from paretonet.spaces.nb201 import cell_layer_shapes
from paretonet.spaces import Architecture, build_model, sample_architecture

DRAM = 1950 / 64  # Horowitz: 1.95 nJ per 64-bit DRAM access, per bit


@pytest.fixture(scope="module")
def lenet5():
    # classic LeNet-5 on a 32x32 input (no resize happens): the literature's 416,520 MACs
    return build_model(Architecture.parse("lenet:lenet5"), (1, 32, 32), 10)


def test_lenet5_dataflow_a_by_hand(lenet5):
    e = model_energy(lenet5, (1, 32, 32), "horowitz45", "A")
    words = {layer.name: dict(layer.words_by_level)["global_buffer"] for layer in e.layers}
    # the formula's words, read from the two-level model's main memory (the global buffer):
    # d_l(d_{l-1} r^2 + 1) + d_l d_{l-1} m_{l-1}^2 + d_l m_l^2
    assert words["1.0"] == 6 * (1 * 25 + 1) + 6 * 1 * 32**2 + 6 * 28**2 == 11_004
    assert words["1.3"] == 16 * (6 * 25 + 1) + 16 * 6 * 14**2 + 16 * 10**2 == 22_832
    assert words["1.7"] == 120 * (400 + 1) + 120 * 400 + 120 == 96_240
    assert words["1.9"] == 84 * 121 + 84 * 120 + 84 == 20_328
    assert words["1.11"] == 10 * 85 + 10 * 84 + 10 == 1_700
    assert words["1.2"] == 6 * 28**2 + 6 * 14**2 and words["1.5"] == 16 * 100 + 16 * 25  # pooling: in + out
    assert sum(layer.macs for layer in e.layers) == 416_520
    # DRAM moves each weight, bias, input and output once; the buffer (register file) hands each of the 117,600
    # MACs its weight and input. float32: 32-bit words; a MAC is an fp32 multiply + add (3.7 + 0.9 pJ)
    conv1 = next(layer for layer in e.layers if layer.name == "1.0")
    assert dict(conv1.words_by_level) == {"dram": 150 + 6 + 1024 + 4704, "global_buffer": 11_004,
                                          "register_file": 2 * 117_600}
    assert conv1.data_pj == pytest.approx(32 * ((150 + 6 + 1024 + 4704) * DRAM + 11_004 * 100 / 64
                                                + 2 * 117_600 * 10 / 64))
    assert conv1.mac_pj == pytest.approx(117_600 * 4.6)
    assert e.total_pj == pytest.approx(e.mac_pj + e.op_pj + e.data_pj)
    # the ReLUs follow a conv or linear layer: applied as it writes, one compare per element, no data
    relu = next(layer for layer in e.layers if layer.name == "1.1")
    assert relu.data_pj == 0 and relu.op_pj == pytest.approx(6 * 28**2 * 0.9)


def test_lenet5_dataflow_b_by_hand(lenet5):
    e = model_energy(lenet5, (1, 32, 32), "horowitz45", "B")
    words = {layer.name: dict(layer.words_by_level)["global_buffer"] for layer in e.layers}
    # d_l(m_l^2 + d_{l-1}(r^2(m_l^2 + 1) + m_{l-1}^2) + 1)
    assert words["1.0"] == 6 * (28**2 + 1 * (25 * (28**2 + 1) + 32**2) + 1) == 128_604
    assert words["1.3"] == 16 * (10**2 + 6 * (25 * (10**2 + 1) + 14**2) + 1) == 262_832
    assert words["1.7"] == 120 * (1 + 400 * (1 * 2 + 1) + 1) == 144_240
    assert e.total_pj > model_energy(lenet5, (1, 32, 32), "horowitz45", "A").total_pj


def test_dataflow_a_on_one_and_two_levels():
    # two levels are Sima et al.'s model as it stands: the formula's words in main memory, the buffer feeding MACs
    from paretonet.hw import Hardware, MemoryLevel

    conv = LayerShape("c", "conv", 2, 3, 16, 16, 9, bias=False)
    two = Hardware("two", (MemoryLevel("main", 2.0), MemoryLevel("buffer", 0.5)), 0.2, 0.1, 4.6, 0.9)
    layer = estimate_energy([conv], two, "A").layers[0]
    formula = 3 * (2 * 9 + 1) + 3 * 2 * 16 + 3 * 16
    macs = 3 * 2 * 9 * 16
    assert dict(layer.words_by_level) == {"main": formula, "buffer": 2 * macs}
    assert layer.data_pj == pytest.approx(32 * (formula * 2.0 + 2 * macs * 0.5))
    one = Hardware("one", (MemoryLevel("main", 2.0),), 0.2, 0.1, 4.6, 0.9)
    assert dict(estimate_energy([conv], one, "A").layers[0].words_by_level) == {"main": formula}


def test_lenet5_hierarchy_by_hand(lenet5):
    e = model_energy(lenet5, (1, 32, 32), "horowitz45", "hierarchy")
    conv1 = dict(next(layer for layer in e.layers if layer.name == "1.0").words_by_level)
    # DRAM moves every weight, bias, input and output once: 150 + 6 + 1024 + 6 * 28^2
    assert conv1["dram"] == 150 + 6 + 1024 + 4704
    # an inner level serves MACs / reuse accesses per kind, at least one per datum (117,600 MACs); inputs and
    # outputs get the 5x5 window as extra reuse
    assert conv1["global_buffer"] == 117_600 // 16 + 6 + 1024 + 4704
    assert conv1["array"] == 117_600 // 4 + 6 + 117_600 // (4 * 25) + 4704
    assert conv1["register_file"] == 117_600 + 6 + 117_600 // 25 + 2 * 117_600 // 25


def test_int8_mac_energy_and_bits_scaling():
    hw = hardware("horowitz45")
    assert mac_energy_pj(hw, LayerBits.integer(8)) == pytest.approx(0.2 + 0.1)  # int8 mult + int32 add
    assert mac_energy_pj(hw, LayerBits.integer(4)) == pytest.approx(0.2 / 4 + 0.1)
    assert mac_energy_pj(hw, LayerBits.integer(8), mult_factor=0.5) == pytest.approx(0.1 + 0.1)
    assert mac_energy_pj(hw, LayerBits()) == pytest.approx(4.6)
    # the multiplies alone: what an approximate multiplier scales, without the accumulate it leaves as it is
    assert mult_energy_pj(hw, LayerBits.integer(8), mult_factor=0.5) == pytest.approx(0.1)
    assert mult_energy_pj(hw, LayerBits()) == pytest.approx(3.7)


def test_nb201_cell_energy_by_hand():
    # one nor_conv_3x3 edge in stage 0: ReLU-Conv(16->16, 3x3)-BN at 32x32, per cell
    shapes = cell_layer_shapes(("nor_conv_3x3", "none", "skip_connect", "none", "none", "skip_connect"))
    conv = next(s for s in shapes if s.name == "stage0.cell0.edge0.conv")
    layer = estimate_energy([conv], "horowitz45", "A").layers[0]
    assert layer.macs == 16 * 16 * 9 * 1024
    assert dict(layer.words_by_level)["global_buffer"] == 16 * (16 * 9 + 1) + 16 * 16 * 1024 + 16 * 1024
    pool = next(s for s in cell_layer_shapes(("avg_pool_3x3", "none", "skip_connect", "none", "none", "skip_connect"))
                if s.name == "stage1.cell2.edge0")
    p = estimate_energy([pool], "horowitz45", "A").layers[0]
    assert p.op_pj == pytest.approx(32 * 256 * 9 * 0.9) and p.mac_pj == 0 and p.words_by_level[0][1] == 2 * 32 * 256


def test_nb201_sums_and_skips_by_hand():
    # node 1 = conv(x); node 2 = skip(x) + skip(node 1); node 3 = skip(x) + pool(node 1) + skip(node 2)
    ops = ("nor_conv_1x1", "skip_connect", "skip_connect", "skip_connect", "avg_pool_3x3", "skip_connect")
    cell = [s for s in cell_layer_shapes(ops) if s.name.startswith("stage1.cell2.")]
    kinds = [(s.name.removeprefix("stage1.cell2."), s.kind, s.operands, s.fused) for s in cell]
    assert kinds == [
        ("edge0.relu", "activation", 1, True),  # read by its conv only: applied as the conv reads
        ("edge0.conv", "conv", 1, False),
        ("edge0.bn", "batchnorm", 1, True),  # folded into the conv
        ("node2.add", "add", 2, False),  # two skips (node 1 is read by the pool too): reads both, writes the sum
        ("edge4", "pool", 1, False),
        ("node3.add", "add", 1, True),  # the pool just wrote one operand: reads only the other
        ("node3.add", "add", 1, True),  # and so on into the same sum
    ]
    e = estimate_energy(cell, "horowitz45", "A")
    words = {layer.name.removeprefix("stage1.cell2."): layer.words_by_level[0][1] for layer in e.layers}
    area, c = 16 * 16, 32
    assert words["node2.add"] == 3 * c * area and words["node3.add"] == c * area and words["edge4"] == 2 * c * area
    assert words["edge0.relu"] == words["edge0.bn"] == 0
    # a skip connection is no operation at all; a none edge is not summed
    assert not any(f"edge{k}" in s.name for s in cell for k in (1, 2, 3, 5))  # skips are no operation
    add = next(layer for layer in e.layers if layer.name.endswith("node2.add"))
    assert add.op_pj == pytest.approx(c * area * 0.9) and add.mac_pj == 0


def test_dead_branches_cost_nothing():
    # node 3 = conv(node 1) only... and node 2 (a 3x3 conv of x) is read by nothing: a compiler drops it
    ops = ("nor_conv_1x1", "nor_conv_3x3", "none", "none", "nor_conv_1x1", "none")
    names = {s.name.removeprefix("stage0.cell0.") for s in cell_layer_shapes(ops) if s.name.startswith("stage0.cell0.")}
    assert "edge0.conv" in names and "edge4.conv" in names and "edge1.conv" not in names
    model = build_model(Architecture.parse("nb201:" + "|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_1x1~1|none~2|"),
                        (3, 32, 32), 10)
    assert sorted(map(_key, layer_shapes(model, (3, 32, 32)))) == sorted(map(_key, cell_layer_shapes(ops)))


def _key(s: LayerShape):
    return (s.kind, s.in_channels, s.out_channels, s.in_area, s.out_area, s.kernel_area, s.groups, s.bias, s.operands, s.fused,
            s.fan_out, s.to_activations)


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 8, 8)])
def test_analytic_nb201_layers_equal_the_traced_network(shape):
    for seed in range(8):
        arch = sample_architecture("nb201", seed)
        model = build_model(arch, shape, 10)
        traced = sorted(map(_key, layer_shapes(model, shape)))
        analytic = sorted(map(_key, cell_layer_shapes(arch.decode().ops, shape, 10)))
        assert traced == analytic
        a = architecture_energy(arch, "eyeriss", "hierarchy", shape)
        b = model_energy(model, shape, "eyeriss", "hierarchy")
        assert a.total_pj == pytest.approx(b.total_pj, rel=1e-12)
        # dead branches of degenerate cells are left out of the costs, not out of PyTorch's MAC count
        live = sum(s.macs for s in cell_layer_shapes(arch.decode().ops, shape))
        assert live == sum(s.macs for s in layer_shapes(model, shape)) <= count_macs(model, shape).total_macs
        for dataflow in ("A", "B", "hierarchy"):
            fast = architecture_total_energy_pj(arch, "horowitz45", dataflow, shape)
            assert fast == pytest.approx(architecture_energy(arch, "horowitz45", dataflow, shape).total_pj, rel=1e-12)


@pytest.mark.parametrize("dataflow", ["A", "B", "hierarchy"])
@pytest.mark.parametrize("hw", ["horowitz45", "eyeriss"])
def test_monotonic_sanity(lenet5, dataflow, hw):
    shape = (1, 32, 32)
    base = model_energy(lenet5, shape, hw, dataflow)
    # fewer bits never cost more
    energies = [model_energy(lenet5, shape, hw, dataflow, bits=LayerBits.integer(b)).total_pj for b in (8, 6, 4, 2)]
    assert energies == sorted(energies, reverse=True) and energies[0] < base.total_pj
    # fewer channels never cost more; doubling a layer's channels at least doubles its E_MAC
    narrow = build_model(Architecture.parse("lenet:r32-valid|c3k5-relu-max|c16k5-relu-max|f120-relu|f84-relu"), shape, 10)
    wide = build_model(Architecture.parse("lenet:r32-valid|c12k5-relu-max|c16k5-relu-max|f120-relu|f84-relu"), shape, 10)
    e_narrow, e_wide = (model_energy(m, shape, hw, dataflow) for m in (narrow, wide))
    assert e_narrow.total_pj <= base.total_pj <= e_wide.total_pj
    assert e_wide.layers[0].mac_pj >= 2 * base.layers[0].mac_pj
    # zero skipping with sparsity saves only on hardware that skips zeros
    density = {layer.name: 0.5 for layer in base.layers}
    dense_hw = hardware(hw)
    skip_hw = type(dense_hw)(**{**dense_hw.__dict__, "skip_zeros": True})
    assert model_energy(lenet5, shape, dense_hw, dataflow, weight_density=density).total_pj == base.total_pj
    assert model_energy(lenet5, shape, skip_hw, dataflow, weight_density=density).total_pj < base.total_pj


def test_hardware_files(tmp_path):
    d = HOROWITZ45.to_dict()
    (tmp_path / "hw.json").write_text(json.dumps(d))
    assert hardware(str(tmp_path / "hw.json")) == HOROWITZ45
    yaml = pytest.importorskip("yaml")
    (tmp_path / "hw.yaml").write_text(yaml.safe_dump({**d, "name": "mine"}))
    assert hardware(str(tmp_path / "hw.yaml")).name == "mine"
    bad_level = {**d, "levels": [{"name": "dram", "pj_per_bit": -1.0}]}
    (tmp_path / "neg.json").write_text(json.dumps(bad_level))
    with pytest.raises(ConfigError, match=r"neg.json: field levels.0.pj_per_bit: .*greater than or equal to 0 \(got -1.0\)"):
        hardware(str(tmp_path / "neg.json"))
    (tmp_path / "nolevels.json").write_text(json.dumps({k: v for k, v in d.items() if k != "levels"}))
    with pytest.raises(ConfigError, match="field levels: field required"):
        hardware(str(tmp_path / "nolevels.json"))
    (tmp_path / "empty.json").write_text(json.dumps({**d, "levels": []}))
    with pytest.raises(ConfigError, match="field levels: list should have at least 1 item"):
        hardware(str(tmp_path / "empty.json"))
    # wrongly typed fields are refused, not coerced: "no" is not false, 5 is not a unit
    for field, value in (("skip_zeros", "no"), ("unit", 5), ("mult_pj_8x8", "0.2"), ("surprise", 1)):
        (tmp_path / "typed.json").write_text(json.dumps({**d, field: value}))
        with pytest.raises(ConfigError, match=f"typed.json: field {field}: .*got {value!r}"):
            hardware(str(tmp_path / "typed.json"))
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="cannot parse"):
        hardware(str(tmp_path / "broken.json"))
    with pytest.raises(ConfigError, match="expected a preset"):
        hardware("tsmc7")


def test_bad_bits_and_dataflow(lenet5):
    with pytest.raises(ConfigError, match="bits: got 17"):
        LayerBits.integer(17)
    with pytest.raises(ConfigError, match="bits: got 0"):
        LayerBits.integer(0)
    with pytest.raises(ConfigError, match="dataflow: got 'C'"):
        model_energy(lenet5, (1, 32, 32), "horowitz45", "C")


def test_grouped_conv_reads_only_its_group():
    s = LayerShape("dw", "conv", 8, 8, 100, 100, 9, groups=8)
    layer = estimate_energy([s], "horowitz45", "A").layers[0]
    assert layer.macs == 8 * 1 * 9 * 100
    assert dict(layer.words_by_level)["global_buffer"] == 8 * (1 * 9 + 1) + 8 * 1 * 100 + 8 * 100


def test_models_with_unknown_layers_cost_only_known_ones():
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout(), nn.Flatten(), nn.Linear(2 * 36, 3))
    e = model_energy(m, (1, 8, 8), "eyeriss", "hierarchy")
    assert [layer.kind for layer in e.layers] == ["conv", "linear"]
    assert np.isfinite(e.total_pj) and e.unit == "MAC16"


@pytest.mark.slow
def test_analytic_energy_ranks_like_zigzag():
    pytest.importorskip("zigzag")
    from scipy.stats import kendalltau

    from paretonet.hw._zigzag import zigzag_energy

    ours, theirs = [], []
    for seed in range(14):
        if len(theirs) == 8:
            break
        model = build_model(sample_architecture("lenet", seed, (1, 32, 32)), (1, 32, 32), 10, seed=seed)
        try:
            theirs.append(zigzag_energy(model, (1, 32, 32)).total_energy)
        except ConfigError:  # ZigZag 3.9.1 fails inside its own code on some small layers
            continue
        ours.append(model_energy(model, (1, 32, 32), "horowitz45", "A", bits=LayerBits.integer(8)).total_pj)
    assert len(theirs) == 8 and kendalltau(ours, theirs).statistic >= 0.8


@pytest.mark.parametrize("variant", ["bits=4", "multiplier=exact", "multiplier=trunc:k=6"])
def test_quantized_and_approximate_layers_are_all_costed(lenet5, variant):
    # a wrapper hands its conv a fake-quantized copy of its input: the trace must still see the chain
    from paretonet.data import DataConfig, load_dataset
    from paretonet.hw import variant_energy
    from paretonet.variant import Variant, apply_variant

    data = load_dataset(DataConfig("digits", seed=0))
    arch = Architecture.parse("lenet:lenet5")
    model = build_model(arch, data.input_shape, 10)
    vm = apply_variant(model, arch, data, Variant.parse(variant))
    float_layers = [(s.kind, s.macs) for s in layer_shapes(model, data.input_shape)]
    assert [(s.kind, s.macs) for s in layer_shapes(vm.model, data.input_shape)] == float_layers
    e = variant_energy(vm.model, data.input_shape)
    assert sum(layer.macs for layer in e.layers) == count_macs(model, data.input_shape).total_macs
    assert e.mac_pj < variant_energy(model, data.input_shape).mac_pj  # integer MACs cost less than fp32 ones


class _TwoBranch(nn.Module):
    """A user's model: a residual sum and a channel concatenation done in forward, not by modules."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 1)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))

    def forward(self, x):  # noqa: ANN001, ANN201
        a, b = self.a(x), self.b(x)
        return self.head(torch.cat([a + b, b], dim=1))


def test_sums_and_concatenations_in_forward_are_traced_and_priced():
    shapes = layer_shapes(_TwoBranch(), (3, 8, 8))
    kinds = {s.kind: s for s in shapes}
    assert [s.kind for s in shapes] == ["conv", "conv", "add", "concat", "pool", "linear"]
    # b was written just before the sum but the concatenation reads it too: the sum reads both maps
    assert not kinds["add"].fused and kinds["add"].operands == 2 and kinds["add"].to_activations == 0
    assert kinds["concat"].in_channels == 8 and kinds["concat"].input_count == 8 * 64
    e = estimate_energy(shapes, "horowitz45", "A")
    cat = next(layer for layer in e.layers if layer.kind == "concat")
    assert cat.words_by_level[0][1] == 2 * 8 * 64  # a copy: reads both inputs, writes the result


def test_operations_between_integer_layers_move_integer_words():
    from paretonet.data import DataConfig, load_dataset
    from paretonet.hw import variant_energy
    from paretonet.variant import Variant, apply_variant

    data = load_dataset(DataConfig("digits", seed=0))
    arch = Architecture.parse("lenet:lenet5")
    model = build_model(arch, data.input_shape, 10)
    pools = {}
    for v in ("", "bits=8", "bits=4"):
        vm = apply_variant(model, arch, data, Variant.parse(v)) if v else None
        e = variant_energy(vm.model if vm else model, data.input_shape)
        pools[v] = [layer.data_pj for layer in e.layers if layer.kind == "pool"]
    # the pooling after an 8-bit (4-bit) layer reads and writes 8-bit (4-bit) words, not float32 ones
    assert pools["bits=8"] == pytest.approx([p / 4 for p in pools[""]])
    assert pools["bits=4"] == pytest.approx([p / 8 for p in pools[""]])


def test_an_approximate_multiplier_shows_in_the_records_mac_and_multiply_energy(shared):
    # LeNet-5 with mul8u_L40 (0.189 mW against the exact multiplier's 0.391 mW): the multiplies fall by the power
    # ratio, the MACs by less (the 32-bit accumulate stays), the total barely (data movement dominates it)
    from paretonet.data import DataConfig, load_dataset
    from paretonet.evaluate import BASIC_OBJECTIVES, evaluate_objectives
    from paretonet.variant import Variant, apply_variant

    data = load_dataset(DataConfig("digits", seed=0))
    arch = Architecture.parse("lenet:lenet5")
    model = build_model(arch, data.input_shape, 10)
    by = {}
    for name in ("exact", "mul8u_L40"):
        vm = apply_variant(model, arch, data, Variant(multiplier=name), lut_dirs=(str(shared / "evoapprox" / "luts"),))
        by[name] = {o.name.partition("@")[0]: o.value for o in evaluate_objectives(vm.model, data, BASIC_OBJECTIVES)}
    drop = {k: 1 - by["mul8u_L40"][k] / by["exact"][k] for k in ("energy_mult_pj", "energy_mac_pj", "energy_pj")}
    power = 0.189 / 0.391
    assert drop["energy_mult_pj"] == pytest.approx(1 - power) and drop["energy_mult_pj"] >= 0.45
    assert drop["energy_mac_pj"] == pytest.approx(0.2 * (1 - power) / (0.2 + 0.1))  # horowitz45: 8-bit multiply, 32-bit add
    assert 0 < drop["energy_pj"] < 0.01
    assert by["exact"]["energy_pj"] - by["mul8u_L40"]["energy_pj"] == pytest.approx(
        by["exact"]["energy_mult_pj"] - by["mul8u_L40"]["energy_mult_pj"])  # the multiplies are all that changed


def test_every_energy_part_name_reads_back_its_part(lenet5):
    # the search prices an objective by its name: each part's name must lead back to that part's value
    from paretonet.evaluate import ENERGY_PARTS, energy_name, energy_objective, energy_part_of
    from paretonet.hw import variant_energy

    e = variant_energy(lenet5, (1, 32, 32), "eyeriss", "A")
    want = {"": e.total_pj, "mac": e.mac_pj, "mult": e.mult_pj, "data": e.data_pj}
    assert len(set(want.values())) == 4 and e.mult_pj < e.mac_pj
    for part in ENERGY_PARTS:
        name = energy_name("eyeriss", "A", part)
        assert energy_part_of(name) == part
        o = energy_objective(lenet5, (1, 32, 32), "eyeriss", "A", energy_part_of(name))
        assert o.name == name and o.value == want[part]
