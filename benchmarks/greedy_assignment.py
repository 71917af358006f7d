"""Greedy per-layer multiplier assignment under a 1-point budget: the table in the README.

LeNet-5 on digits (30 epochs, seeds 0..S-1), candidates mul8u_L40 and drum:k=4, budget 0.01. For the
choice made on the validation split and on the test split: the chosen variant, its test accuracy
against the exact 8-bit model's, and its MAC energy.

    python benchmarks/greedy_assignment.py [--seeds 3] [--lut-dir ../shared/evoapprox/luts]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from paretonet import DataConfig, TrainConfig, train_architecture
from paretonet.data import load_dataset
from paretonet.evaluate import accuracy, energy_objective
from paretonet.variant import Variant, apply_variant, greedy_assignment

SHARED_LUTS = Path(__file__).resolve().parents[2] / "shared" / "evoapprox" / "luts"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=float, default=0.01)
    p.add_argument("--multipliers", default="mul8u_L40,drum:k=4")
    p.add_argument("--lut-dir", default=str(SHARED_LUTS))
    a = p.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    start = time.perf_counter()
    data = load_dataset(DataConfig("digits"))
    specs, dirs = a.multipliers.split(","), (a.lut_dir,)
    print("| seed | chosen on | variant | test accuracy (exact 8-bit) | change | within budget | MAC energy pJ "
          "(exact 8-bit) |\n|---|---|---|---|---|---|---|")
    for seed in range(a.seeds):
        t = train_architecture("lenet:lenet5", data, TrainConfig(epochs=30, seed=seed))
        exact = apply_variant(t.model, t.architecture, data, Variant(multiplier="exact"), lut_dirs=dirs).model
        base_acc = accuracy(exact, data.test)
        base_pj = energy_objective(exact, data.input_shape, part="mac").value
        for split in ("val", "test"):
            g = greedy_assignment(t.model, data, specs, a.budget, lut_dirs=dirs, split=split)
            m = apply_variant(t.model, t.architecture, data, g.variant, lut_dirs=dirs).model
            acc, pj = accuracy(m, data.test), energy_objective(m, data.input_shape, part="mac").value
            print(f"| {seed} | {split} | `{g.variant}` | {acc:.4f} ({base_acc:.4f}) | {acc - base_acc:+.4f} | "
                  f"{'yes' if base_acc - acc <= a.budget + 1e-12 else 'no'} | {pj:.4g} ({base_pj:.4g}) |")
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
