"""Approximate multipliers: tables, metrics, bit-exact layers, models, retraining, robustness, CLI."""

from __future__ import annotations

import copy
import csv
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from paretonet import TrainConfig
from paretonet.cli import main
from paretonet.errors import ConfigError, DataError, RegistryError
from paretonet.hw._quantize import calibrate
from paretonet.hw.approx import (
    ApproxLayer,
    Multiplier,
    approx_layers,
    approximate_model,
    bit_linear_error,
    build_design,
    error_metrics,
    exact_table,
    get_multiplier,
    load_bin,
    save_bin,
)
from paretonet.hw.approx import _engines as engines_module
from paretonet.hw.approx import _layers as approx_layers_module
from paretonet.hw.approx import _native as native_module
from paretonet.hw.approx._engines import LutEngine
from paretonet.hw.approx._native import _compiler, build, load_kernel
from paretonet.variant import layer_sensitivity, retrain

# The compiled engine is tested wherever a C compiler exists (CI has one); without one it is absent.
HAS_CC = _compiler() is not None


@pytest.fixture(scope="module")
def summary(shared):
    with open(shared / "evoapprox" / "tfapprox_luts_summary.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def tables(shared, summary):
    return [get_multiplier(str(shared / "evoapprox" / r["file"])) for r in summary]


def _printed(value: float, text: str) -> bool:
    decimals = len(text.split(".")[1]) if "." in text else 0
    return round(value, decimals) == float(text)


def test_error_metrics_reproduce_the_evoapprox_summary(summary, tables):
    assert len(tables) == 36
    for row, m in zip(summary, tables):
        e = error_metrics(m)
        for ours, col in ((e.mae, "mae"), (e.wce, "wce"), (e.ep_pct, "ep_pct"), (e.mse, "mse"),
                          (e.mean_error_bias, "mean_err_bias"), (e.mre_pct, "mre_pct_nonzero"),
                          (e.mae_pct, "mae_pct_of_2e16"), (e.wce_pct, "wce_pct")):
            assert _printed(ours, row[col]), (m.name, col, ours, row[col])
        # circuit data found next to the tables (meta.json one folder up)
        assert m.power_mw == float(row["pwr_mW"]) and m.area_um2 == float(row["area_um2"])
    exact = [m for m in tables if m.name == "mul8u_1JFF"][0]
    assert exact.is_exact and exact.relative_power == 1.0


def _layers(k_big: bool):
    g = torch.Generator().manual_seed(1)
    cases = [
        (nn.Conv2d(5, 6, 3, padding=1), torch.randn(3, 5, 7, 7, generator=g)),
        (nn.Conv2d(4, 3, 3, stride=2, padding=2, bias=False), torch.rand(2, 4, 8, 9, generator=g)),
        (nn.Linear(40, 7), torch.randn(6, 40, generator=g)),
        (nn.Conv2d(16, 70, 2), torch.randn(2, 16, 5, 5, generator=g).relu()),  # two output blocks of the lut kernel
    ]
    if k_big:  # K = 256 x 3 x 3 = 2304, and a long linear layer
        cases += [(nn.Conv2d(256, 4, 3), torch.randn(2, 256, 3, 4, generator=g).relu()),
                  (nn.Linear(2304, 5), torch.randn(3, 2304, generator=g))]
    return cases


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit-identical float32 tensors (torch.equal takes -0.0 for +0.0)."""
    return a.shape == b.shape and torch.equal(a.view(torch.int32), b.view(torch.int32))


def _int_reference(layer: ApproxLayer, x: torch.Tensor) -> torch.Tensor:
    """sum LUT[x_q, w_q] - corrections, with int64 arithmetic only (independent of the engines)."""
    xq, wq, _, _, zx, zw = layer.codes(x)
    xq, wq = xq.long(), wq.long()
    table = torch.tensor(layer.multiplier.table)
    if isinstance(layer.layer, nn.Conv2d):
        p = layer.layer.padding
        cols = F.unfold(F.pad(xq.double(), (p[1], p[1], p[0], p[0]), value=zx), layer.layer.kernel_size,
                        stride=layer.layer.stride).long().transpose(1, 2)  # (N, L, K)
    else:
        cols = xq[:, None, :]
    w = wq.reshape(wq.shape[0], -1)
    lut = table[(cols[..., None] & 255), (w.T[None, None] & 255)].sum(2)  # (N, L, O)
    k = w.shape[1]
    acc = lut - zw * cols.sum(-1, keepdim=True) - zx * w.sum(1) + k * zx * zw
    if isinstance(layer.layer, nn.Conv2d):
        n, _, h, wd = layer.layer(x).shape
        return acc.reshape(n, h, wd, -1)
    return acc[:, 0]


def _check_engines(m: Multiplier, k_big: bool) -> None:
    engines = ["gather", "bag"] + (["lut"] if HAS_CC else []) + (["lowrank"] if bit_linear_error(m) is not None else [])
    for conv, x in _layers(k_big):
        layer = ApproxLayer(conv, m)
        calibrate(layer, x)
        ref = _int_reference(layer, x)
        for e in engines:
            assert torch.equal(layer.accumulator(x, e), ref), (m.name, e, type(conv).__name__)
        out = layer.integer_reference(x)
        assert _same_bits(layer(x), out)
        if HAS_CC:  # the kernel writes the layer's output itself: the same bits as the reference path
            layer.engine = "lut"
            assert _same_bits(layer(x), out), (m.name, "lut output", type(conv).__name__)
            # the portable build: generic vectors and the other accumulation form (_native.py)
            layer._lut = LutEngine(layer._table, portable=True)
            assert torch.equal(layer.accumulator(x, "lut"), ref), (m.name, "lut/portable", type(conv).__name__)
            assert _same_bits(layer(x), out), (m.name, "lut/portable output", type(conv).__name__)


def test_every_shared_table_is_bit_exact_in_every_engine(tables):
    for m in tables:
        _check_engines(m, k_big=True)


@pytest.mark.parametrize("spec", ["exact", "trunc:k=6", "bam:h=2,v=8", "perf:j=1,m=2", "optrunc:k=3", "drum:k=4",
                                  "mitchell", "kulkarni", "roba", "exact:signed=1", "drum:k=6,signed=1",
                                  "trunc:k=7,signed=1"])
def test_built_in_designs_are_bit_exact(spec):
    _check_engines(build_design(spec), k_big=spec in ("exact", "drum:k=4", "exact:signed=1"))


def test_large_accumulators_fall_back_to_float64_and_stay_exact(shared):
    """Codes near 255 over K = 2304: partial sums pass 2^24, where float32 would round."""
    m = get_multiplier(str(shared / "evoapprox" / "luts" / "mul8u_L40.bin"))
    conv = nn.Conv2d(256, 3, 3)
    with torch.no_grad():
        conv.weight.uniform_(0.5, 1.0)
        conv.weight[0, 0, 0, 0] = -1.0  # zero point far from the codes used
    x = torch.full((2, 256, 3, 3), 1.0)
    x[0, 0, 0, 0] = -0.1
    for spec in (m, build_design("exact")):
        layer = ApproxLayer(conv, spec)
        calibrate(layer, x)
        ref = _int_reference(layer, x)
        assert ref.abs().max() > 2**24 or spec.is_exact
        for e in ["bag"] + (["lut"] if HAS_CC else []) + (["lowrank"] if spec.is_exact else []):
            assert torch.equal(layer.accumulator(x, e), ref)


def test_lut_kernel_build_is_cached_and_a_missing_compiler_falls_back(tmp_path, monkeypatch):
    monkeypatch.setenv("PARETONET_CACHE", str(tmp_path))
    if HAS_CC:
        lib = build()
        assert lib.parent == tmp_path and lib.exists()
        stamp = lib.stat().st_mtime_ns
        assert build() == lib and lib.stat().st_mtime_ns == stamp  # reused, not rebuilt
    monkeypatch.setenv("CC", "no-such-compiler")
    with pytest.warns(RuntimeWarning, match="compiled LUT engine unavailable"):
        assert load_kernel.__wrapped__() is None


@pytest.mark.skipif(not HAS_CC, reason="needs a C compiler")
@pytest.mark.parametrize("portable", [False, True])
def test_the_kernels_quantizer_gives_the_pytorch_codes(portable):
    """Ties (x / scale = k + 0.5 round to even), values far outside the range, channels-last and
    strided inputs, signed and unsigned codes: the same bytes as codes() + lut_operands. NaN, which
    the PyTorch path leaves to the float-to-int cast, gives the lowest code, as -inf does."""
    g = torch.Generator().manual_seed(8)
    ties = (torch.arange(-600, 600) / 2).float()  # every half step, as x / scale with scale 1
    cases = [(nn.Conv2d(6, 2, 3, padding=(1, 2)), ties[:6 * 10 * 20].reshape(1, 6, 10, 20)),
             (nn.Conv2d(5, 2, 3, padding=1), torch.randn(3, 5, 8, 9, generator=g).mul(200)),
             (nn.Conv2d(4, 2, 3), torch.randn(2, 7, 9, 9, generator=g)[:, 1:5, ::2]),  # strided view
             (nn.Conv2d(8, 2, 3, padding=1), torch.randn(2, 8, 6, 6, generator=g).contiguous(
                 memory_format=torch.channels_last)),
             (nn.Conv2d(70, 2, 3, padding=1), torch.randn(2, 70, 3, 37, generator=g).mul(60)),  # 16 x 16 blocks
             (nn.Linear(300, 2), ties[100:1000].reshape(3, 300)),
             (nn.Linear(7, 2), torch.tensor([[1e30, -1e30, 3e6, -3e6, 4194303.5, 0.5, -0.5]])),
             (nn.Linear(20, 2), torch.tensor([[float("nan"), 1.0, -1.0] * 6 + [float("nan"), 2.5]]))]
    for m in (build_design("exact"), build_design("exact:signed=1")):
        for layer_, x in cases:
            layer = ApproxLayer(layer_, m)
            engine = LutEngine(layer._table, portable=portable)
            for scale, zero in ((1.0, 0), (1.0, 37), (0.37, 200), (3.1, 255)):
                zero = 0 if m.signed else zero
                got = engine.quantize(x, layer.geometry, layer.padding, scale, zero, m.signed, window_sums=True)
                xq = layer._codes(x.nan_to_num(nan=float("-inf")), scale, zero)
                want = layer.geometry.lut_operands(xq, layer.padding, zero, m.signed)
                assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1]) and got[2] == want[2], \
                    (m.name, type(layer_).__name__, scale, zero)
                assert torch.equal(got[3], layer.geometry.window_sums(xq, layer.padding, zero).reshape(-1))


@pytest.mark.skipif(not HAS_CC, reason="needs a C compiler")
def test_a_compiler_without_openmp_builds_the_posix_threads_kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("PARETONET_CACHE", str(tmp_path))
    monkeypatch.setattr(native_module, "OPENMP_FLAGS", ("-fno-such-openmp-flag",))  # the OpenMP build fails
    lib = native_module.load_kernel.__wrapped__(portable=True)
    assert lib is not None and len(list(tmp_path.glob("lutmac-*.so"))) == 1
    monkeypatch.setattr(engines_module, "load_kernel", lambda portable=False: lib)
    g = torch.Generator().manual_seed(7)
    for conv, x in ((nn.Conv2d(8, 20, 3, padding=1), torch.randn(8, 8, 9, 9, generator=g).relu()),
                    (nn.Linear(30, 6), torch.randn(600, 30, generator=g))):  # >= 512 rows: two threads here
        layer = ApproxLayer(conv, get_multiplier("trunc:k=6"), engine="lut")
        calibrate(layer, x)
        assert torch.equal(layer.accumulator(x), _int_reference(layer, x))
        assert _same_bits(layer(x), layer.integer_reference(x))


@pytest.mark.skipif(not HAS_CC, reason="needs a C compiler")
@pytest.mark.parametrize("portable", [False, True])
def test_the_kernel_is_exact_across_tile_and_slice_boundaries(monkeypatch, portable):
    """Rows in many tiles (the last one short) and K in many slices (the last one short), with and
    without the fused output: the same accumulators and output bits as the references."""
    monkeypatch.setattr(engines_module, "LUT_TILE_ROWS", 7)
    monkeypatch.setattr(engines_module, "LUT_SLICE_BYTES", 512 * 32 * 5)  # 5 positions at OB = 32
    g = torch.Generator().manual_seed(11)
    for conv, x in ((nn.Conv2d(5, 20, 3, padding=1), torch.randn(3, 5, 6, 7, generator=g).relu()),
                    (nn.Linear(23, 40), torch.randn(50, 23, generator=g))):
        layer = ApproxLayer(conv, get_multiplier("drum:k=4"), engine="lut")
        calibrate(layer, x)
        layer._lut = LutEngine(layer._table, portable=portable)
        assert torch.equal(layer.accumulator(x), _int_reference(layer, x))
        assert _same_bits(layer(x), layer.integer_reference(x))


@pytest.mark.parametrize("engine", ["bag", "lut"])
def test_cached_weight_codes_follow_every_kind_of_weight_update(engine):
    if engine == "lut" and not HAS_CC:
        pytest.skip("needs a C compiler")
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(9)).relu()
    conv = nn.Conv2d(3, 5, 3, padding=1)
    m = build_design("drum:k=4")
    layer = ApproxLayer(conv, m, engine=engine)
    calibrate(layer, x)

    def fresh() -> torch.Tensor:  # a new layer on the current weights: no cache to go stale
        other = ApproxLayer(copy.deepcopy(conv), m, engine="gather")
        calibrate(other, x)
        return other(x)

    with torch.no_grad():
        layer(x)
        conv.weight.mul_(0.5)  # in place: bumps the version counter
        assert torch.equal(layer(x), fresh())
        conv.weight.data[[0, 1]] = conv.weight.data[[1, 0]]  # through .data: same version, same sum
        assert torch.equal(layer(x), fresh())
        conv.weight = nn.Parameter(torch.randn(5, 3, 3, 3))  # a new tensor
        assert torch.equal(layer(x), fresh())


def test_a_layer_that_ran_the_kernel_can_be_copied():
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(6))
    layer = ApproxLayer(nn.Conv2d(3, 4, 3), build_design("drum:k=4"))
    calibrate(layer, x)
    with torch.no_grad():
        y = layer(x)
        assert torch.equal(copy.deepcopy(layer)(x), y)


def test_without_the_kernel_layers_use_the_pytorch_engines(monkeypatch):
    monkeypatch.setattr(approx_layers_module, "load_kernel", lambda portable=False: None)
    x = torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(4))
    layer = ApproxLayer(nn.Conv2d(3, 4, 3), build_design("drum:k=4"))
    calibrate(layer, x)
    assert torch.equal(layer.accumulator(x), _int_reference(layer, x))
    assert layer.engine == "bag"
    with pytest.raises(ConfigError, match="engine 'lut': needs a C compiler"):
        layer.accumulator(x, "lut")


def test_exact_table_equals_the_integer_quantized_exact_model(shared):
    g = torch.Generator().manual_seed(3)
    conv = nn.Conv2d(6, 5, 3, padding=1)
    x = torch.randn(4, 6, 8, 8, generator=g)
    outputs = []
    for m in (get_multiplier(str(shared / "evoapprox" / "luts" / "mul8u_1JFF.bin")), build_design("exact")):
        layer = ApproxLayer(conv, m)
        calibrate(layer, x)
        xq, wq, sx, sw, zx, zw = layer.codes(x)
        acc = F.conv2d((xq - zx).double(), (wq - zw).double(), padding=1)  # exact integers in float64
        expect = (acc * (sx * sw)).float() + conv.bias.detach()[:, None, None]
        y = layer(x)
        assert torch.equal(y, expect)
        outputs.append(y)
        # and it is the fake-quantized float layer up to float rounding
        assert torch.allclose(y, layer.surrogate(x), atol=1e-4)
    assert torch.equal(outputs[0], outputs[1])


def test_designs_match_their_published_behaviour():
    a, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    assert build_design("bam:h=0,v=0").is_exact and build_design("drum:k=8").is_exact
    assert abs(error_metrics(build_design("mitchell")).mre_pct - 3.79) < 0.05  # Mitchell: 3.8 % mean error
    assert (build_design("mitchell").table <= a * b).all()  # Mitchell never overestimates
    kul = build_design("kulkarni").table
    assert kul[3, 3] == 7 and kul[2, 3] == 6 and kul[15, 15] == 7 * (1 + 4 + 4 + 16)  # four 3x3 blocks, each 7
    assert (build_design("trunc:k=6").table <= a * b).all()
    assert np.array_equal(build_design("optrunc:k=2").table, (a & ~3) * (b & ~3))
    assert np.array_equal(build_design("perf:j=1,m=2").table, a * (b & ~0b110))
    drum = build_design("drum:k=4").table
    assert drum[200, 1] == 0b11010000 and drum[15, 15] == 225
    roba = build_design("roba").table
    assert roba[4, 100] == 400 and roba[3, 5] == 4 * 5 + 3 * 4 - 16
    signed = build_design("drum:k=4,signed=1")
    v = np.where(np.arange(256) >= 128, np.arange(256) - 256, np.arange(256))
    assert signed.table[(-100) & 255, 7] == -build_design("drum:k=4").table[100, 7]
    assert np.array_equal(build_design("exact:signed=1").table, np.outer(v, v))
    assert build_design("trunc:k=8").relative_power == pytest.approx(28 / 64)


def test_signed_tables_are_read_as_signed_by_their_name(tmp_path, capsys):
    # an exact signed table in the EvoApprox file format, named as EvoApprox names signed multipliers
    save_bin(build_design("exact:signed=1"), tmp_path / "mul8s_EXACT.bin")
    m = get_multiplier("mul8s_EXACT", dirs=[tmp_path])
    assert m.signed and m.is_exact and error_metrics(m).mae == 0
    code = main(["multipliers", "--lut-dir", str(tmp_path), "--output", str(tmp_path / "m.json")])
    row = next(r for r in json.loads((tmp_path / "m.json").read_text())["multipliers"] if r["name"] == "mul8s_EXACT")
    assert code == 0 and row["signed"] and row["mae"] == 0
    # forcing it unsigned contradicts its name: refused, not reinterpreted
    with pytest.raises(ConfigError, match=r"signed: got False .* whose name says signed \(mul8s_\)"):
        get_multiplier("mul8s_EXACT", dirs=[tmp_path], signed=False)
    capsys.readouterr()
    code = main(["multipliers", "--lut-dir", str(tmp_path), "--unsigned"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "whose name says signed" in err[0]
    # an unsigned EvoApprox name stays unsigned; a name that says nothing takes the option
    save_bin(build_design("exact"), tmp_path / "mul8u_EXACT.bin")
    assert not get_multiplier("mul8u_EXACT", dirs=[tmp_path]).signed
    save_bin(build_design("exact:signed=1"), tmp_path / "mine.bin")
    assert get_multiplier(str(tmp_path / "mine.bin"), signed=True).is_exact


def test_bin_round_trip_and_bad_tables(tmp_path):
    m = build_design("drum:k=6")
    path = save_bin(m, tmp_path / "drum6.bin")
    assert path.stat().st_size == 131_072
    assert np.array_equal(load_bin(path).table, m.table)
    s = build_design("drum:k=6,signed=1")
    assert np.array_equal(load_bin(save_bin(s, tmp_path / "s.bin"), signed=True).table, s.table)
    (tmp_path / "short.bin").write_bytes(b"\0" * 1000)
    with pytest.raises(DataError, match="1000 bytes, expected 131072"):
        load_bin(tmp_path / "short.bin")
    with pytest.raises(ConfigError, match="dtype float64, expected an integer dtype"):
        Multiplier("f", np.zeros((256, 256)))
    with pytest.raises(ConfigError, match=r"shape \(16, 16\)"):
        Multiplier("s", np.zeros((16, 16), dtype=np.int64))
    with pytest.raises(ConfigError, match="do not fit unsigned 16-bit"):
        Multiplier("n", -exact_table())
    with pytest.raises(RegistryError, match="unknown multiplier 'mul8u_NOPE'"):
        get_multiplier("mul8u_NOPE")
    with pytest.raises(ConfigError, match="k=12 is outside 2..8"):
        get_multiplier("drum:k=12")
    with pytest.raises(ConfigError, match="missing k"):
        get_multiplier("trunc")


@pytest.fixture(scope="module")
def lenet5(digits):
    from paretonet import train_architecture

    return train_architecture("lenet:lenet5", digits, TrainConfig(epochs=15, seed=0)).model.eval()


def test_apply_per_layer_exact_layers_and_energy(lenet5, digits):
    from paretonet.spaces import Architecture
    from paretonet.pipeline import variant_objectives
    from paretonet.variant import Variant, apply_variant

    names = [n for n, m in lenet5.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    am = approximate_model(lenet5, build_design("trunc:k=8"), digits.train.x[:500], exact_layers=[names[-1]],
                           float_layers=[names[0]])
    assert {n: m.multiplier.name for n, m in approx_layers(am).items()} == {
        **{f"{n}.layer": "trunc:k=8" for n in names[1:-1]}, f"{names[-1]}.layer": "exact"}  # names[0] float
    with pytest.raises(ConfigError, match="unknown layer"):
        approximate_model(lenet5, {"net.nope": build_design("exact")}, digits.train.x[:10])
    arch = Architecture.parse("lenet:lenet5")
    objs = {}
    for spec in ("exact", "trunc:k=8"):
        vm = apply_variant(lenet5, arch, digits, Variant(multiplier=spec))
        objs[spec] = {o.name: o.value for o in variant_objectives(vm, digits, None)}
    float_size = sum(p.numel() for p in lenet5.parameters()) * 4
    assert objs["exact"]["size_bytes"] < float_size / 3  # 8-bit weights
    e_exact, e_trunc = objs["exact"]["energy_pj@horowitz45:hierarchy"], objs["trunc:k=8"]["energy_pj@horowitz45:hierarchy"]
    assert e_trunc < e_exact  # 28/64 of the multiplier power
    assert str(Variant(multiplier="trunc:k=8", exact_layers=("net.a", "net.b"), retrain=2)) == \
        "multiplier=trunc:k=8,exact_layers=net.a+net.b,retrain=2"


def test_ste_retraining_recovers_a_large_share_of_the_drop(lenet5, digits, shared):
    """A learned effect, asserted with a margin that holds across seeds, thread counts and instruction
    sets: measured 0.59-0.71 of the drop recovered on average over seeds 0-5 (single seeds 0.46-0.85,
    1 or 2 threads, AVX2 or AVX-512); the test asks for 0.35 on average over four seeds, and that no
    seed ends below where it started."""
    from paretonet.evaluate import accuracy

    base = accuracy(lenet5, digits.test)
    m = get_multiplier("mul8u_L40", dirs=[shared / "evoapprox" / "luts"])
    am = approximate_model(lenet5, m, digits.train.x[:2000])
    before = accuracy(am, digits.test)
    drop = base - before
    assert drop > 0.01, (base, before)
    recovered = []
    for seed in (0, 1, 2, 3):
        tuned = retrain(copy.deepcopy(am), digits, 2, TrainConfig(seed=seed))
        recovered.append((accuracy(tuned, digits.test) - before) / drop)
    assert min(recovered) >= 0 and np.mean(recovered) >= 0.35, (base, before, recovered)


def test_robustness_of_an_approximate_model_uses_bpda_transfer_and_square(lenet5, digits):
    from paretonet.evaluate import RobustnessConfig, evaluate_robustness

    am = approximate_model(lenet5, build_design("drum:k=6"), digits.train.x[:500])
    x, y = digits.test.x[:60], digits.test.y[:60]
    # no white-box gradient through the tables
    xg = x.clone().requires_grad_(True)
    out = am(xg)
    assert out.grad_fn is None
    r = evaluate_robustness(am, x, y, RobustnessConfig(eps=0.1, preset="fast", queries=200, sanity=False))
    assert r.gradient_mode == "bpda+transfer+square"
    names = [a.name for a in r.attacks]
    assert {"fgsm/bpda", "fgsm/transfer", "pgd/bpda", "pgd/transfer", "square"} <= set(names), names


def test_layer_sensitivity_names_every_layer(lenet5, digits):
    base, rows = layer_sensitivity(lenet5, digits, [build_design("exact"), build_design("trunc:k=10")], 500)
    layers = {r.layer for r in rows}
    assert layers == {"conv1", "conv2", "fc1", "fc2", "classifier"} and len(rows) == 10
    exact_rows = [r for r in rows if r.multiplier == "exact"]  # the exact 8-bit model itself
    assert all(r.change == 0.0 and r.energy_mac_saved_pj == 0.0 for r in exact_rows)
    trunc = [r for r in rows if r.multiplier == "trunc:k=10"]
    assert min(r.change for r in trunc) < -0.02 and all(r.energy_mac_saved_pj > 0 for r in trunc)


def test_greedy_assignment_stays_within_budget_and_saves_mac_energy(lenet5, digits):
    from paretonet.evaluate import accuracy, energy_objective
    from paretonet.spaces import Architecture
    from paretonet.variant import Variant, apply_variant, greedy_assignment

    arch = Architecture.parse("lenet:lenet5")
    g = greedy_assignment(lenet5, digits, ["trunc:k=6", "drum:k=4"], 0.02, split="test")
    assert g.variant.multipliers and all(item.endswith("@trunc:k=6") for item in g.variant.multipliers)  # drum: no power
    chosen = apply_variant(lenet5, arch, digits, g.variant).model
    exact = apply_variant(lenet5, arch, digits, Variant(multiplier="exact")).model
    assert accuracy(chosen, digits.test) == g.accuracy >= accuracy(exact, digits.test) - 0.02
    assert energy_objective(chosen, digits.input_shape, part="mac").value < \
        energy_objective(exact, digits.input_shape, part="mac").value
    assert all(s.accuracy >= g.base_accuracy - 0.02 for s in g.steps if s.accepted)


def test_cli_multipliers_and_approx(capsys, saved_model, shared, tmp_path):
    luts = str(shared / "evoapprox" / "luts")
    code = main(["multipliers", "--lut-dir", luts, "--output", str(tmp_path / "m.json")])
    assert code == 0
    rows = json.loads((tmp_path / "m.json").read_text())["multipliers"]
    assert all(len(r["table_sha256"]) == 64 for r in rows)
    l40 = [r for r in rows if r["name"] == "mul8u_L40"][0]
    assert l40["power_mw"] == 0.189 and round(l40["mae_pct"], 2) == 1.54 and len(rows) >= 36 + 15
    capsys.readouterr()
    out = tmp_path / "a.json"
    code = main(["approx", saved_model + ".safetensors", "--multiplier", "mul8u_L40", "--lut-dir", luts,
                 "--no-robust", "--output", str(out)])
    assert code == 0
    doc = json.loads(out.read_text())
    assert [v["variant"] for v in doc] == ["", "multiplier=exact", "multiplier=mul8u_L40"]
    # the change column relates the approximate multiplier to the exact one: the multiplies at its relative power
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if "energy_mult_pj@" in line)
    assert "multiplier=mul8u_L40 vs multiplier=exact" in text and row.split()[-2] == f"{0.189 / 0.391:.3f}x"
    code = main(["approx", saved_model + ".safetensors", "--multiplier", "trunc:k=10", "--sensitivity",
                 "--images", "40", "--queries", "100", "--output", str(tmp_path / "s.json")])
    sens = json.loads((tmp_path / "s.json").read_text())
    assert code == 0 and [r["variant"] for r in sens] == ["multiplier=exact", *(f"multipliers={n}@trunc:k=10" for n in
                                                                             ("conv1", "conv2", "fc1", "classifier"))]
    assert all(-1 <= r["details"]["accuracy_change"] <= 1 and r["details"]["energy_mac_saved_pj"] > 0 for r in sens[1:])
    # robust accuracy on the same 40 attacked images for every layer, signed as a change against exact 8-bit
    robust = [next(o for o in r["objectives"] if o["name"] == "robust_accuracy@worst:fast:0.1") for r in sens]
    assert all(o["images"] == 40 and o["images_id"] == robust[0]["images_id"] for o in robust)
    assert [r["details"]["robust_accuracy_change"] for r in sens[1:]] == pytest.approx(
        [o["value"] - robust[0]["value"] for o in robust[1:]])


@pytest.mark.parametrize("case", [
    ("--multiplier", "mul8u_NOPE"),
    ("--multiplier", "BADBIN"),
    ("--multiplier", "drum:k=99"),
    ("--multiplier", "exact", "--layers", "net.nope"),
    ("--multiplier", "exact", "--retrain", "-1"),
    ("--multiplier", "exact", "--multiplier", "trunc:k=6"),
    ("--multiplier", "exact", "--multiplier", "trunc:k=6", "--assign", "--budget", "2"),
    ("--multiplier", "trunc:k=6", "--assign", "--choose-on", "train"),
    ("--multiplier", "trunc:k=6", "--layers", "fc1", "--float-layers", "fc1"),
    ("--multiplier", "trunc:k=6", "--save-model", "SAME", "--output", "SAME.json"),  # the Record over the metadata
])
def test_cli_approx_bad_input(capsys, saved_model, tmp_path, case):
    args = [str(tmp_path / a) if a.startswith("SAME") else a for a in case]
    if "BADBIN" in args:
        bad = tmp_path / "bad.bin"
        bad.write_bytes(b"\1" * 4096)
        args[args.index("BADBIN")] = str(bad)
    code = main(["approx", saved_model + ".safetensors", "--no-robust", *args])
    _, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err


@pytest.mark.parametrize("args", [
    ["multipliers", "--lut-dir", "/nonexistent/luts"],
    ["multipliers", "--lut-dir", "LUTS", "--meta", "/nonexistent/meta.json"],
    ["multipliers", "--lut-dir", "EMPTY"],
    ["multipliers", "--lut-dir", "LUTS", "--signed"],  # mul8u_ tables forced signed
])
def test_cli_multipliers_bad_input(capsys, shared, tmp_path, args):
    args = [str(shared / "evoapprox" / "luts") if a == "LUTS" else str(tmp_path) if a == "EMPTY" else a for a in args]
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err


def test_layers_by_readable_name(lenet5, digits):
    from paretonet.hw import layer_names
    from paretonet.spaces import Architecture
    from paretonet.variant import Variant, apply_variant

    assert layer_names(lenet5) == {"1.1": "conv1", "1.4": "conv2", "1.8": "fc1", "1.10": "fc2", "1.12": "classifier"}
    arch = Architecture.parse("lenet:lenet5")
    readable = apply_variant(lenet5, arch, digits, Variant(multiplier="trunc:k=6", approx_layers=("conv1", "fc1")))
    modules = apply_variant(lenet5, arch, digits, Variant(multiplier="trunc:k=6", approx_layers=("1.1", "1.8")))
    assert str(readable.variant) == str(modules.variant) == "multiplier=trunc:k=6,approx_layers=conv1+fc1"
    approximate = {n for n, m in approx_layers(readable.model).items() if m.multiplier.name == "trunc:k=6"}
    assert approximate == {"1.1.layer", "1.8.layer"}
    x = digits.test.x[:50]
    with torch.no_grad():
        assert torch.equal(readable.model(x), modules.model(x))
    exact = apply_variant(lenet5, arch, digits, Variant(multiplier="trunc:k=6", exact_layers=("fc1",)))
    assert str(exact.variant) == "multiplier=trunc:k=6,exact_layers=fc1"
    assert {n: m.multiplier.name for n, m in approx_layers(exact.model).items()} == {
        "1.1.layer": "trunc:k=6", "1.4.layer": "trunc:k=6", "1.8.layer": "exact", "1.10.layer": "trunc:k=6",
        "1.12.layer": "trunc:k=6"}
    with pytest.raises(ConfigError, match="unknown layer 'fc3'; the model's layers are conv1 \\(1.1\\)"):
        apply_variant(lenet5, arch, digits, Variant(multiplier="trunc:k=6", exact_layers=("fc3",)))


def test_three_states_per_layer_and_exact_8bit_equals_the_exact_variant(lenet5, digits):
    """Approximate, exact 8-bit or float per layer: a layer left exact computes bit for bit what the all-exact
    8-bit variant computes in it (its input range is calibrated on the same images through the same layers)."""
    from paretonet.spaces import Architecture
    from paretonet.pipeline import variant_objectives
    from paretonet.variant import Variant, apply_variant

    arch = Architecture.parse("lenet:lenet5")
    mixed = apply_variant(lenet5, arch, digits, Variant(multiplier="trunc:k=6", approx_layers=("classifier",),
                                                        float_layers=("fc2",)))
    assert str(mixed.variant) == "multiplier=trunc:k=6,approx_layers=classifier,float_layers=fc2"
    states = {n: m.multiplier.name for n, m in approx_layers(mixed.model).items()}
    assert states == {"1.1.layer": "exact", "1.4.layer": "exact", "1.8.layer": "exact", "1.12.layer": "trunc:k=6"}
    exact = apply_variant(lenet5, arch, digits, Variant(multiplier="exact"))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, shape in (("1.1", (1, 32, 32)), ("1.4", (6, 14, 14)), ("1.8", (400,))):
            a, b = mixed.model.get_submodule(name), exact.model.get_submodule(name)
            # upstream of every approximate or float layer: calibrated on the same activations
            assert torch.equal(a.act.lo, b.act.lo) and torch.equal(a.act.hi, b.act.hi)
            probe = torch.rand((8, *shape), generator=g)
            assert torch.equal(a(probe), b(probe)), name
    objs = {v: {o.name: o.value for o in variant_objectives(vm, digits, None)}
            for v, vm in (("mixed", mixed), ("exact", exact))}
    assert objs["mixed"]["size_bytes"] > objs["exact"]["size_bytes"]  # fc2 stays float: 32-bit weights
    with pytest.raises(ConfigError, match="fc1 cannot be both approximate and float"):
        Variant(multiplier="trunc:k=6", approx_layers=("fc1",), float_layers=("fc1",))
