"""Device models fitted on 100 measured NAS-Bench-201 cells, against a one-hot least-squares baseline.

For every device column of HW-NAS-Bench (../shared/nb201/hw_devices_cifar100.csv): fit on 100 random
valid cells, test on the other valid cells, 5 seeds; print Kendall tau, RMSE and the share of
predictions within +-10 % for paretonet's device model (fit_device, model "auto": the candidate
with the best 5-fold error on the 100 training cells; the choices are listed) and for the
baseline (least squares on a one-hot of the operation on each of the cell's 6 edges, same training
sets). -1 marks a missing Edge TPU measurement: neither trained on nor scored.
Run: .venv/bin/python benchmarks/device_fit.py [--seeds 5] [--train 100] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter
from pathlib import Path

import numpy as np

from paretonet.analytic import device_costs, fit_device
from paretonet.hw import DeviceData, device_scores
from paretonet.spaces.nb201 import CellGenotype


def one_hot(codes: np.ndarray) -> np.ndarray:
    x = np.zeros((len(codes), 30))
    for e in range(6):
        x[np.arange(len(codes)), e * 5 + codes[:, e]] = 1
    return np.column_stack([x, np.ones(len(codes))])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--train", type=int, default=100)
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    args = ap.parse_args()
    root = Path(args.shared) / "nb201"
    valid = {r["net"] for r in csv.DictReader((root / "nb201_valid_nets.csv").open())}
    rows = [r for r in csv.DictReader((root / "hw_devices_cifar100.csv").open()) if r["net"] in valid]
    codes = np.array([[int(v) for v in r["net"].strip("()").split(",")] for r in rows])
    archs = ["nb201:" + str(CellGenotype.from_naslib(tuple(c))) for c in codes]
    baseline_x = one_hot(codes)
    columns = [c for c in rows[0] if c != "net"]
    print(f"{len(rows)} valid cells; fit on {args.train}, test on the rest; mean of {args.seeds} seeds")
    print(f"{'column':16s} {'model tau':>9s} {'RMSE':>8s} {'+-10%':>6s}   {'baseline tau':>12s} {'RMSE':>8s} {'+-10%':>6s}"
          f"   chosen (seconds per fit)")
    for col in columns:
        y = np.array([float(r[col]) for r in rows])
        measured = np.flatnonzero(y > 0)  # -1: no measurement
        ours, base, chosen, t0 = [], [], Counter(), time.perf_counter()
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            train = np.sort(rng.choice(measured, args.train, replace=False))
            test = np.setdiff1d(measured, train)
            m = fit_device(col.replace("_", "-"), col.rpartition("_")[2],
                           DeviceData(tuple(archs[i] for i in train), y[train], f"{col} seed {seed}"), seed=seed)
            chosen[m.model] += 1
            ours.append(device_scores(device_costs(m, [archs[i] for i in test]), y[test]))
            w, *_ = np.linalg.lstsq(baseline_x[train], y[train], rcond=None)
            base.append(device_scores(baseline_x[test] @ w, y[test]))
        mean = {k: {s: np.mean([r[s] for r in runs]) for s in runs[0]} for k, runs in (("ours", ours), ("base", base))}
        o, b = mean["ours"], mean["base"]
        print(f"{col:16s} {o['kendall_tau']:9.3f} {o['rmse']:8.3f} {o['within_10pct']:6.4f}   {b['kendall_tau']:12.3f} "
              f"{b['rmse']:8.3f} {b['within_10pct']:6.4f}   {dict(chosen)} ({(time.perf_counter() - t0) / args.seeds:.1f})",
              flush=True)
    print("goal: tau >= 0.9 and >= 90 % within +-10 % on every column; the model should beat the baseline on both")


if __name__ == "__main__":
    main()
