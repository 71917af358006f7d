"""Certified robustness on digits LeNet-5: the tables in the README.

Over training seeds 0..S-1, on the 359 test images:
  smoothing  plain training vs Gaussian noise augmentation (sigma 0.25): randomized smoothing's certified L2
             accuracy at radii 0, 0.25 and 0.5 (sigma 0.25, n0 100, n 1,000, alpha 0.001), abstentions
  ibp        plain training vs IBP training (eps 0.15 ramped over half the training): certified Linf accuracy
             at eps 0.1 by interval bounds, next to PGD-20's robust accuracy (an upper bound) and clean accuracy

    python benchmarks/certified.py [--seeds 3] [--epochs 100]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from paretonet import DataConfig, TrainConfig, train_architecture
from paretonet.data import load_dataset
from paretonet.evaluate import RobustnessConfig, SmoothingConfig, accuracy, certify_smoothing, evaluate_robustness, ibp_certified
from paretonet.spaces import Architecture
from paretonet.train import Recipe

ARCH = "lenet:lenet5"
RECIPES = {"plain": "standard", "gaussian": "gaussian/sigma=0.25", "ibp": "ibp/eps=0.15"}
RADII = (0.0, 0.25, 0.5)


def ms(values: list[float]) -> str:
    return f"{np.mean(values):.4f} +- {np.std(values, ddof=1) if len(values) > 1 else 0.0:.4f}"


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=100)
    args = ap.parse_args()
    data = load_dataset(DataConfig(name="digits"))
    x, y = data.test.x, data.test.y
    t0 = time.perf_counter()
    res: dict[str, dict[str, list[float]]] = {k: {} for k in RECIPES}
    for seed in range(args.seeds):
        for name, recipe in RECIPES.items():
            model = train_architecture(Architecture.parse(ARCH), data,
                                       TrainConfig(epochs=args.epochs, seed=seed, recipe=Recipe.parse(recipe))).model.eval()
            row = res[name]
            row.setdefault("clean", []).append(accuracy(model, data.test))
            if name in ("plain", "gaussian"):
                sm = certify_smoothing(model, x, y, SmoothingConfig(sigma=0.25, n0=100, n=1000, alpha=0.001, seed=seed))
                for r in RADII:
                    row.setdefault(f"smoothing@{r:g}", []).append(sm.certified_accuracy(r))
                row.setdefault("abstained", []).append(sm.abstentions / len(x))
            if name in ("plain", "ibp"):
                row.setdefault("ibp@0.1", []).append(float(ibp_certified(model, x, y, 0.1).mean()))
                pgd = evaluate_robustness(model, x, y, RobustnessConfig(eps=0.1, attacks=("pgd",), steps=20, sanity=False,
                                                                        seed=seed))
                row.setdefault("pgd@0.1", []).append(pgd.robust_accuracy)
            print(f"seed {seed} {name}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in row.items())
                  + f" ({time.perf_counter() - t0:.0f} s)")
    print(f"\n### randomized smoothing (sigma 0.25, n 1,000, alpha 0.001), {args.seeds} seeds, {len(x)} test images\n")
    print("| training | clean | certified r=0 | certified r=0.25 | certified r=0.5 | abstained |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in ("plain", "gaussian"):
        r = res[name]
        print(f"| {RECIPES[name]} | {ms(r['clean'])} | " + " | ".join(ms(r[f'smoothing@{v:g}']) for v in RADII)
              + f" | {ms(r['abstained'])} |")
    print(f"\n### interval bound propagation, Linf eps 0.1, {args.seeds} seeds, {len(x)} test images\n")
    print("| training | clean | PGD-20 robust (upper bound) | IBP certified (lower bound) |")
    print("|---|---:|---:|---:|")
    for name in ("plain", "ibp"):
        r = res[name]
        print(f"| {RECIPES[name]} | {ms(r['clean'])} | {ms(r['pgd@0.1'])} | {ms(r['ibp@0.1'])} |")
    print(f"\n{args.epochs} epochs each; wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
