from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from paretonet.errors import ArchitectureError, RegistryError
from paretonet.spaces import SPACES, Architecture, build_model, mutate_architecture, sample_architecture
from paretonet.spaces.lenet import LeNetSpace
from paretonet.spaces.nb201 import CellGenotype, NB201Space


@pytest.mark.parametrize("space", ["lenet", "nb201"])
def test_canonical_string_round_trips_for_samples_and_mutations(space):
    for seed in range(60):
        a = sample_architecture(space, seed)
        assert Architecture.parse(str(a)) == a
        assert str(Architecture.parse(str(a)).decode()) == a.genotype
        m = mutate_architecture(a, seed)
        assert m != a and Architecture.parse(str(m)) == m


@pytest.mark.parametrize("space", ["lenet", "nb201"])
def test_sampling_is_seeded(space):
    a = [str(sample_architecture(space, s)) for s in range(20)]
    b = [str(sample_architecture(space, s)) for s in range(20)]
    assert a == b and len(set(a)) > 10
    assert mutate_architecture(Architecture.parse(a[0]), 5) == mutate_architecture(Architecture.parse(a[0]), 5)


def test_sampled_lenets_fit_and_build_for_the_given_shape():
    for seed in range(40):
        a = sample_architecture("lenet", seed, input_shape=(1, 8, 8))
        model = build_model(a, (1, 8, 8), 10, seed=0)
        assert model(torch.rand(3, 1, 8, 8)).shape == (3, 10)


def test_lenet5_is_the_classic_network():
    a = Architecture.parse("lenet5", space="lenet")
    assert str(a) == "lenet:r32-valid|c6k5-relu-max|c16k5-relu-max|f120-relu|f84-relu"
    model = build_model(a, (1, 32, 32), 10)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    fcs = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [(1, 6, (5, 5)), (6, 16, (5, 5))]
    assert [(f.in_features, f.out_features) for f in fcs] == [(400, 120), (120, 84), (84, 10)]
    # digits are resized inside the model, so the same network runs on 8x8 and 28x28 inputs
    for shape in ((1, 8, 8), (1, 28, 28)):
        assert build_model(a, shape, 10)(torch.rand(2, *shape)).shape == (2, 10)


def test_lenet_options_build_what_they_say():
    a = Architecture.parse("lenet:native-same|c8k3-abs-avg-bn|c4k5-tanh-none|f32-sigmoid")
    model = build_model(a, (3, 12, 12), 5)
    kinds = [type(m).__name__ for m in model[1]]
    assert kinds == ["Conv2d", "BatchNorm2d", "Abs", "AvgPool2d", "Conv2d", "Tanh", "Flatten", "Linear", "Sigmoid", "Linear"]
    assert model[1][4].padding == (2, 2) and model[1][0].bias is None
    assert model[1][7].in_features == 4 * 6 * 6
    x = torch.randn(2, 3, 12, 12)
    assert torch.allclose(model[1][2](x), x.abs())


@pytest.mark.parametrize(
    "text, message",
    [
        ("lenet:r32-valid|c6k7-relu-max", "kernel 7, expected 3, 5"),
        ("lenet:r32-valid|c6k5-swish-max", "activation 'swish'"),
        ("lenet:r32-valid", "got 0 conv blocks"),
        ("lenet:r32-valid|c6k5-relu-max|f10-relu|c6k5-relu-max", "conv block 'c6k5-relu-max' after an fc block"),
        ("lenet:r32-bogus|c6k5-relu-max", "padding 'bogus'"),
        ("lenet:hello", "first block 'hello'"),
        ("lenet:r32-valid|c6k5-relu-max|x", "block 'x' is neither"),
        ("nb201:|nor_conv_3x3~0|+|", "expected a cell string"),
        ("nb201:|conv_7x7~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv_7x7'"),
        ("nb201:(5, 0, 0, 0, 0, 0)", "6 op indices in 0..4"),
        ("resnet", "expected '<space>:<genotype>'"),
    ],
)
def test_malformed_architectures_are_named(text, message):
    with pytest.raises(ArchitectureError, match=message.replace("(", r"\(").replace(")", r"\)").replace("|", r"\|")):
        Architecture.parse(text)


def test_unknown_space_lists_known():
    with pytest.raises(RegistryError, match="unknown search space 'vgg'; known: lenet, nb201"):
        Architecture.parse("vgg:abc")


def test_wrong_input_shape_is_an_error():
    a = Architecture.parse("lenet:native-valid|c6k5-relu-max|c16k5-relu-max")
    with pytest.raises(ArchitectureError, match=r"does not fit input shape \(1, 8, 8\): conv block 2"):
        build_model(a, (1, 8, 8), 10)
    assert build_model(a, (1, 28, 28), 10)(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    with pytest.raises(ArchitectureError, match="not square"):
        build_model(a, (1, 28, 20), 10)


def test_build_seed_fixes_weights_and_leaves_global_rng_alone():
    a = Architecture.parse("lenet5", space="lenet")
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    m1, m2 = build_model(a, (1, 8, 8), 10, seed=7), build_model(a, (1, 8, 8), 10, seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p, q)


def test_nb201_string_and_naslib_tuple_agree():
    space = NB201Space()
    g = space.parse("(4, 0, 3, 1, 4, 3)")
    assert str(g) == "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_1x1~2|"
    assert g.naslib == (4, 0, 3, 1, 4, 3)
    assert len({str(x) for x in space.all_genotypes()}) == 15625
    for x in space.all_genotypes()[::97]:
        assert CellGenotype.from_naslib(x.naslib) == x


def _nb201_rows(shared):
    with open(shared / "nb201" / "nb201_zc_proxies.csv") as f:
        return list(csv.DictReader(f))


def test_nb201_params_and_flops_match_the_benchmark(shared):
    from paretonet.hw import NB201_FIXED_FLOPS, count_flops, count_params

    rows = _nb201_rows(shared)
    rng = np.random.default_rng(201)
    sample = [rows[i] for i in rng.choice(len(rows), 220, replace=False)]
    for row in sample:
        a = Architecture.parse(row["net"], space="nb201")
        assert a.genotype == row["net_str"]
        model = build_model(a, (3, 32, 32), 10)
        assert f"{count_params(model) / 1e6:.6f}" == f"{float(row['params']):.6f}", row["net_str"]
        flops = count_flops(model, (3, 32, 32)) + NB201_FIXED_FLOPS
        assert f"{flops / 1e6:.6f}" == f"{float(row['flops']):.6f}", row["net_str"]


def test_nb201_cell_wiring():
    # only skip 0->1 and skip 1->3 are non-zero, so node 3 = input; with 'none' elsewhere
    g = NB201Space().parse("|skip_connect~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|")
    from paretonet.spaces.nb201 import Cell

    cell = Cell(g, 4).eval()
    x = torch.randn(2, 4, 5, 5)
    assert torch.equal(cell(x), x)
    g2 = NB201Space().parse("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|")
    # node1 = x, node2 = 2x, node3 = x + x + 2x = 4x
    assert torch.allclose(Cell(g2, 4)(x), 4 * x)


def test_nb201_encoding_sees_pooling_on_each_path():
    # the robust corner: every live path from the input is pooled (0->1->3 and 0->1->2->3)
    names, v = NB201Space().encode(NB201Space().parse("|avg_pool_3x3~0|+|none~0|skip_connect~1|+|none~0|nor_conv_1x1~1|skip_connect~2|"))
    f = dict(zip(names, v))
    assert (f["live_paths"], f["min_path_pools"], f["max_path_pools"], f["paths_with_pool"]) == (2, 1, 1, 2)
    assert (f["unpooled_paths"], f["max_unpooled_path_convs"], f["identity_path"]) == (0, 0, 0)
    # an identity path (skip 0->3), two unpooled paths through one conv each, one pooled path
    names, v = NB201Space().encode(NB201Space().parse(
        "|skip_connect~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|"))
    f = dict(zip(names, v))
    assert (f["live_paths"], f["min_path_pools"], f["max_path_pools"], f["paths_with_pool"]) == (4, 0, 1, 1)
    assert (f["unpooled_paths"], f["max_unpooled_path_convs"], f["identity_path"]) == (3, 1, 1)
    assert len(names) == len(set(names)) == len(v)


def test_spaces_are_registered():
    assert SPACES.names() == ["lenet", "nb201"]
    assert isinstance(SPACES.get("lenet"), LeNetSpace)
    with pytest.raises(RegistryError, match="already registered"):
        SPACES.add("lenet", LeNetSpace())


def test_nb201_canonical_names_isomorphic_cells(shared):
    # node 1 = skip(x), so a 3x3 conv of node 1 is a 3x3 conv of x: one function, two genotypes
    a = Architecture.parse("nb201:|skip_connect~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_1x1~2|")
    b = Architecture.parse("nb201:|skip_connect~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|nor_conv_1x1~2|")
    c = Architecture.parse("nb201:|skip_connect~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|nor_conv_1x1~2|")
    assert a.canonical() == b.canonical() != c.canonical()
    lenet5 = Architecture.parse("lenet:lenet5")
    assert lenet5.canonical() == str(lenet5)  # no equivalence known: the genotype itself
    # the robustness dataset measured one cell per class: every class of all 15,625 cells has one value
    with open(shared / "nb201" / "robustness_targets.csv") as f:
        rows = list(csv.DictReader(f))
    values: dict[str, set[str]] = {}
    for r in rows:
        values.setdefault(Architecture.parse(r["net"], space="nb201").canonical(), set()).add(r["aa_apgd-ce@Linf_eps-1.0"])
    assert len(rows) == 15_625 and 6_000 < len(values) < 7_000  # NAS-Bench-201 counts 6,466 unique cells
    assert all(len(v) == 1 for v in values.values())
