"""How well the analytic energy model ranks NAS-Bench-201 cells the way measured devices do.

Kendall tau between every preset x dataflow estimate (float32, CIFAR shape) and every measured cost
column of HW-NAS-Bench (../shared/nb201/hw_devices_cifar100.csv) over the 9,445 valid cells, with
FLOPs as the baseline row (a model should rank no worse than FLOPs); -1 marks a missing Edge TPU
measurement, left out. Then each preset's share of MAC energy (conv and linear multiply-accumulates)
in the total, for LeNet-5 (8-bit) and the median-energy nb201 cell (float32).
Run: .venv/bin/python benchmarks/energy_tau.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

from paretonet.analytic import architecture_energy, architecture_total_energy_pj
from paretonet.hw import DATAFLOWS, DEFAULT_DATAFLOW, HARDWARE_PRESETS, LayerBits, model_energy
from paretonet.spaces import Architecture, build_model
from paretonet.spaces.nb201 import CellGenotype


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    args = ap.parse_args()
    root = Path(args.shared) / "nb201"
    valid = {r["net"]: float(r["flops"]) for r in csv.DictReader((root / "nb201_zc_proxies.csv").open())}
    rows = [r for r in csv.DictReader((root / "hw_devices_cifar100.csv").open()) if r["net"] in valid]
    columns = [c for c in rows[0] if c != "net"]
    measured = {c: np.array([float(r[c]) for r in rows]) for c in columns}
    cells = [Architecture.of("nb201", CellGenotype.from_naslib(tuple(int(v) for v in r["net"].strip("()").split(","))))
             for r in rows]
    estimates = {"flops": np.array([valid[r["net"]] for r in rows])}
    for hw in HARDWARE_PRESETS.names():
        for dataflow in DATAFLOWS:
            estimates[f"{hw} {dataflow}"] = np.array([architecture_total_energy_pj(a, hw, dataflow) for a in cells])
    short = [c.replace("_latency", " lat").replace("_energy", " energy") for c in columns]
    print(f"Kendall tau against measured device costs, {len(rows)} valid nb201 cells")
    print(f"{'model':22s} " + " ".join(f"{c:>15s}" for c in short))
    for name, e in estimates.items():
        taus = []
        for c in columns:
            ok = measured[c] > 0  # -1: no measurement
            taus.append(kendalltau(e[ok], measured[c][ok]).statistic)
        print(f"{name:22s} " + " ".join(f"{t:15.3f}" for t in taus))

    print("\nshare of MAC energy (conv/linear multiply-accumulates) in the total, and of their multiplies alone")
    lenet = build_model(Architecture.parse("lenet:lenet5"), (1, 32, 32), 10)
    median = cells[int(np.argsort(estimates[f"horowitz45 {DEFAULT_DATAFLOW}"])[len(cells) // 2])]
    print(f"{'preset dataflow':22s} {'LeNet-5 int8':>14s} {'multiplies':>11s} {'nb201 median fp32':>18s} "
          f"{'multiplies':>11s}   (median cell {median})")
    for hw in HARDWARE_PRESETS.names():
        for dataflow in DATAFLOWS:
            le = model_energy(lenet, (1, 32, 32), hw, dataflow, bits=LayerBits.integer(8))
            ce = architecture_energy(median, hw, dataflow)
            print(f"{hw + ' ' + dataflow:22s} {le.mac_pj / le.total_pj:14.1%} {le.mult_pj / le.total_pj:11.1%} "
                  f"{ce.mac_pj / ce.total_pj:18.1%} {ce.mult_pj / ce.total_pj:11.1%}")


if __name__ == "__main__":
    main()
