"""Device models: fitted from measured networks, saved and loaded, used as objectives; calibration input checked."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from paretonet.analytic import architecture_total_energy_pj, device_costs, fit_device, read_calibration
from paretonet.cli import main
from paretonet.errors import ConfigError, DataError
from paretonet.hw import DeviceData, DeviceModel, device_scores, measure_cpu_latency
from paretonet.spaces import Architecture, build_model, sample_architecture


def _cells(n: int, seed: int = 0) -> list[str]:
    out: list[str] = []
    i = 0
    while len(out) < n:  # distinct sampled cells
        a = str(sample_architecture("nb201", seed * 1000 + i))
        i += 1
        if a not in out:
            out.append(a)
    return out


@pytest.fixture(scope="module")
def hw_file(shared):
    return shared / "nb201" / "hw_devices_cifar100.csv"


def test_linear_model_recovers_an_additive_device():
    # a device whose energy is the analytic hierarchy estimate: a sum of per-operation costs the features hold
    archs = _cells(80)
    cost = np.array([architecture_total_energy_pj(a) / 1e9 for a in archs])  # mJ
    m = fit_device("sim", "energy", DeviceData(tuple(archs[:60]), cost[:60], "simulated"), "linear")
    s = device_scores(device_costs(m, archs[60:]), cost[60:])
    assert s["kendall_tau"] > 0.95 and s["within_10pct"] > 0.9


def test_kernel_model_learns_per_kernel_costs():
    # nn-Meter's way: network cost = sum of kernel costs; here 1 ms per 10 MMACs plus 0.05 ms per operation
    archs = _cells(90, seed=1)
    from paretonet.spaces.nb201 import cell_layer_shapes

    def cost(a: str) -> float:
        layers = cell_layer_shapes(Architecture.parse(a).decode().ops)
        return sum(s.macs for s in layers) / 1e7 + 0.05 * sum(not s.fused for s in layers)

    y = np.array([cost(a) for a in archs])
    m = fit_device("sim", "latency", DeviceData(tuple(archs[:70]), y[:70], "simulated"), "kernels")
    assert device_scores(device_costs(m, archs[70:]), y[70:])["kendall_tau"] > 0.85


def test_encoding_model_sees_which_readers_a_node_has():
    # the Jetson's pattern: a node read by exactly one convolution is cheaper (its ReLU fused into that read)
    # than one read by a pool or skip alone; the per-edge costs alone cannot say which readers a node has
    from paretonet.spaces.nb201 import EDGES

    edge_ms = {"none": 0.0, "skip_connect": 0.05, "nor_conv_1x1": 0.4, "nor_conv_3x3": 0.9, "avg_pool_3x3": 0.3}

    def cost(a: str) -> float:
        ops = Architecture.parse(a).decode().ops
        readers = [[op for op, (src, _) in zip(ops, EDGES) if src == node and op != "none"] for node in (1, 2)]
        alone = sum(len(r) == 1 for r in readers)
        one_conv = sum(len(r) == 1 and r[0].startswith("nor_conv") for r in readers)
        return 3.0 + sum(edge_ms[op] for op in ops) - 0.25 * one_conv + 0.25 * (alone - one_conv)

    a = Architecture.parse("nb201:|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|none~2|")
    names, values = a.device_encoding()
    got = {n for n, v in zip(names, values) if n.startswith("node") and v}
    assert got == {"node0_read_by_1conv_1other", "node1_read_by_1conv_0other"}  # node 2 is read by nothing
    archs = _cells(300, seed=2)
    y = np.array([cost(x) for x in archs])
    m = fit_device("sim", "latency", DeviceData(tuple(archs[:100]), y[:100], "simulated"), "encoding")
    error = np.abs(device_costs(m, archs[100:]) - y[100:]).max()
    assert error < 0.05  # ms, on costs of 3-8 ms (the predictor's encoding alone: 0.46)
    x = np.array([[float(op == o) for op in Architecture.parse(c).decode().ops for o in edge_ms] for c in archs])
    x = np.column_stack([x, np.ones(len(x))])
    w, *_ = np.linalg.lstsq(x[:100], y[:100], rcond=None)  # a one-hot of each edge's operation: misses it
    assert np.abs(x[100:] @ w - y[100:]).max() > 4 * error


@pytest.mark.parametrize("model", ["linear", "kernels", "encoding"])
def test_device_model_file_round_trip(tmp_path, hw_file, model):
    data = read_calibration(hw_file, "pixel3_latency", missing=-1.0)
    sub = DeviceData(data.architectures[:60], data.costs[:60], "first 60")
    m = fit_device("pixel3", "latency", sub, model)
    path = m.save(tmp_path / "pixel3.json")
    again = DeviceModel.load(path)
    probe = list(data.architectures[100:140])
    assert np.array_equal(device_costs(again, probe), device_costs(m, probe))
    assert again.objective == "latency_ms@pixel3" and again.data["sha256"] == sub.sha256 and again.data["rows"] == 60


def test_auto_picks_by_cross_validation_and_records_every_candidate(hw_file):
    data = read_calibration(hw_file, "fpga_energy", missing=-1.0)
    m = fit_device("fpga", "energy", DeviceData(data.architectures[:80], data.costs[:80], "80 cells"), seed=0)
    assert set(m.cv) == {"linear", "kernels", "encoding"}
    assert m.model == min(m.cv, key=lambda c: m.cv[c]["mean_relative_error"])


def test_missing_edge_tpu_measurements_are_missing(hw_file):
    from paretonet.bench import open_bench

    data = read_calibration(hw_file, "edgetpu_latency", missing=-1.0)
    assert len(data.costs) == 15_625 - 4_699 and np.all(data.costs > 0)
    col = open_bench("nb201-cifar10").columns["latency_ms@edgetpu"]
    assert np.isnan(col).sum() == 784 and np.nanmin(col) > 0


def _write(path, rows):
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


@pytest.mark.parametrize("rows,message", [
    ([["architecture", "ms"], ["nb201:|bogus~0|", "1.0"]], "line 2: unknown architecture"),
    ([["architecture", "ms"], ["nb201:resnet", ""]], "line 2: cost 'ms' is '', expected a positive number"),
    ([["architecture", "ms"], ["nb201:resnet", "-3"]], "line 2: cost 'ms' is '-3', expected a positive number"),
    ([["architecture", "ms"], ["nb201:resnet", "1.5"], ["nb201:best-cifar10", "2.5"]], "2 measured networks, expected at least"),
    ([["arch", "ms"], ["nb201:resnet", "1.5"]], "expected columns 'architecture' (or 'net') and 'ms'"),
])
def test_bad_calibration_csv_is_one_line_and_exit_2(tmp_path, capsys, rows, message):
    path = _write(tmp_path / "cal.csv", rows)
    code = main(["device", "fit", "--csv", str(path), "--cost", "ms", "-o", str(tmp_path / "m.json")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.json").exists()


def test_fit_and_predict_commands_and_the_search_column(tmp_path, capsys, hw_file):
    code = main(["device", "fit", "--column", "raspi4_latency", "--name", "pi", "--train", "60", "-o", str(tmp_path / "pi.json")])
    assert code == 0 and "latency_ms@pi" in capsys.readouterr().out
    code = main(["device", "predict", str(tmp_path / "pi.json"), "nb201:resnet", "(2, 2, 0, 4, 2, 0)", "-o", str(tmp_path / "p.json")])
    assert code == 0
    import json

    recs = json.loads((tmp_path / "p.json").read_text())
    assert [r["objectives"][0]["name"] for r in recs] == ["latency_ms@pi"] * 2 and recs[0]["budgets"]["fitted_on"]["rows"] == 60
    # as a free objective of the table search; a model named like a measured column is refused
    from paretonet.bench import open_bench, with_device_models

    pi = DeviceModel.load(tmp_path / "pi.json")
    some = open_bench("nb201-cifar10").take(np.arange(40))
    table = with_device_models(some, [pi])
    assert np.all(table.columns["latency_ms@pi"] == device_costs(pi, table.architectures))
    clash = DeviceModel(**{**pi.__dict__, "name": "raspi4"})
    with pytest.raises(ConfigError, match="already a column"):
        with_device_models(some, [clash])
    code = main(["search", "--device", str(tmp_path / "pi.json"), "-o", str(tmp_path / "s")])
    assert code == 2 and "--device" in capsys.readouterr().err


def test_bad_names_and_files(tmp_path):
    data = DeviceData(tuple(_cells(12)), np.arange(1.0, 13.0), "t")
    for bad in ("", "a@b", "cpu"):
        with pytest.raises(ConfigError, match="name"):
            fit_device(bad, "latency", data)
    with pytest.raises(ConfigError, match="quantity"):
        fit_device("x", "power", data)
    with pytest.raises(DataError, match="positive"):
        DeviceData(("nb201:resnet",), np.array([0.0]), "t")
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(ConfigError, match="m.json.: not valid JSON"):
        DeviceModel.load(tmp_path / "m.json")


def test_cpu_latency_is_measured_with_its_setting():
    import torch

    model = build_model(Architecture.parse("lenet:lenet5"), (1, 32, 32), 10).train()
    lat = measure_cpu_latency(model, (1, 32, 32), min_run_time_s=0.02)
    assert lat.median_ms > 0 and lat.runs >= 1 and lat.threads == torch.get_num_threads() and lat.cpu_capability
    assert model.training  # timed in eval mode, the caller's mode restored


@pytest.mark.parametrize("args,message", [
    (["device", "measure", "-o", "X/cpu.csv", "--n", "0"], "--n: got 0"),
    (["device", "measure", "-o", "X/cpu.csv", "--input-shape", "3,32"], "--input-shape: got '3,32'"),
    (["device", "predict", "X/missing.json", "nb201:resnet"], "missing.json': cannot read"),
    (["device", "fit", "-o", "X/m.json"], "--column / --csv: give exactly one"),
    (["device", "fit", "--csv", "X/cal.csv", "-o", "X/m.json"], "--cost: --csv needs"),
    (["device", "fit", "--column", "pixel3_latency", "--quantity", "power", "-o", "X/m.json"], "--quantity: got 'power'"),
])
def test_bad_device_commands_are_one_line_and_exit_2(tmp_path, capsys, args, message):
    code = main([a.replace("X/", f"{tmp_path}/") for a in args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_predict_refuses_an_unknown_architecture(tmp_path, capsys):
    data = DeviceData(tuple(_cells(12)), np.arange(1.0, 13.0), "t")
    fit_device("t", "latency", data, "linear").save(tmp_path / "t.json")
    code = main(["device", "predict", str(tmp_path / "t.json"), "nb201:|nonsense~0|"])
    err = capsys.readouterr().err
    assert code == 2 and "nonsense" in err and "Traceback" not in err
