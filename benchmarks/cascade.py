"""Confidence cascades on Fashion-MNIST: the numbers and the curve in the README.

Two cascades, each over training seeds 0..S-1, the threshold chosen on the 9,000 validation images and
everything reported on the 10,000 test images:
  compute   a tiny lenet (SMALL, 5 % of LeNet-5's MACs) first, LeNet-5 only where the tiny one is unsure:
            accuracy against LeNet-5 alone and MACs per image saved (threshold: least MACs within 0.5
            points of LeNet-5 on validation, the target being at most 1 point on test)
  data      LeNet-5 trained on 4x4-pixelated images first (1/16 of the input values), the full-image
            LeNet-5 only where it is unsure: input values per image saved (threshold: least input values
            within 1.5 points on validation, the target being under 2 on test)

    python benchmarks/cascade.py [--seeds 3] [--epochs 10]

Prints Markdown tables: per seed, then the test-split trade-off curve of seed 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import numpy as np
import torch

from paretonet import DataConfig, TrainConfig, train_architecture
from paretonet.cascade import Cascade, cascade_objectives, choose_threshold, curve, pixelate, stage_costs, stage_logits
from paretonet.data import load_dataset
from paretonet.spaces import Architecture

SMALL = "lenet:r14-valid|c8k3-relu-max|f32-relu"
COMPUTE_BUDGET = 0.005  # validation accuracy the compute cascade may lose: a margin under the 1-point target on test
DATA_FACTOR, DATA_BUDGET = 4, 0.015  # 4x4 blocks: the first stage reads 1/16 of the input values
LARGE = "lenet:lenet5"


def pixelated(data, factor: int):  # noqa: ANN001, ANN201
    """The dataset as a sensor reading factor x factor block means would give it (shown at full size)."""
    def px(s):  # noqa: ANN001, ANN202
        return replace(s, x=pixelate(s.x, factor))

    return replace(data, train=px(data.train), val=px(data.val), test=px(data.test))


def run(data, small, large, factors, drop: float, cost: str):  # noqa: ANN001, ANN201
    c = Cascade([small, large], 0.5, data.input_shape, pixelate=factors).eval()
    costs = stage_costs(c)
    c.threshold, _ = choose_threshold(c, data.val, costs, drop, cost)
    _, point = cascade_objectives(c, data)  # the cascade's own routed forward pass
    large_acc = float((stage_logits(c, data.test)[1].argmax(1) == data.test.y).double().mean())
    large_cost = {"macs": costs[1].macs, "input_values": costs[1].input_values * factors[1] ** 2}[cost]
    return c, costs, point, large_acc, large_cost


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args()
    data = load_dataset(DataConfig(name="fashion-mnist"))
    pix = pixelated(data, DATA_FACTOR)
    t0 = time.perf_counter()
    rows = {"compute": [], "data": []}
    curves = {}
    for seed in range(args.seeds):
        cfg = TrainConfig(epochs=args.epochs, seed=seed)
        large = train_architecture(Architecture.parse(LARGE), data, cfg).model.eval()
        small = train_architecture(Architecture.parse(SMALL), data, cfg).model.eval()
        low = train_architecture(Architecture.parse(LARGE), pix, cfg).model.eval()
        for part, first, factors, drop, cost in (("compute", small, (1, 1), COMPUTE_BUDGET, "macs"),
                                                 ("data", low, (DATA_FACTOR, 1), DATA_BUDGET, "input_values")):
            c, costs, p, large_acc, large_cost = run(data, first, large, factors, drop, cost)
            saved = 1 - getattr(p, cost) / large_cost
            rows[part].append((seed, c.threshold, p.accuracy, large_acc, p.accuracy - large_acc, p.answered[0], saved))
            print(f"seed {seed} {part}: threshold {c.threshold:.4f}, accuracy {p.accuracy:.4f} vs {large_acc:.4f} "
                  f"({100 * (p.accuracy - large_acc):+.2f} pts), answered by the first {p.answered[0]:.1%}, "
                  f"{cost} saved {saved:.1%} ({time.perf_counter() - t0:.0f} s)")
            if seed == 0:
                grid = sorted({0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 1.0, c.threshold})
                curves[part] = (c.threshold, curve(c, stage_logits(c, data.test), data.test.y, costs, grid), large_cost, cost)
    for part, what in (("compute", "MACs"), ("data", "input values")):
        first = SMALL if part == "compute" else f"{LARGE} on {DATA_FACTOR}x{DATA_FACTOR}-pixelated images"
        print(f"\n### {part}: {first} first, then {LARGE}\n")
        print(f"| seed | threshold | cascade accuracy | {LARGE} alone | change (points) | answered by the first | {what} saved |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for seed, thr, acc, la, d, a0, saved in rows[part]:
            print(f"| {seed} | {thr:.4f} | {acc:.4f} | {la:.4f} | {100 * d:+.2f} | {a0:.1%} | {saved:.1%} |")
        r = np.array([row[4:] for row in rows[part]])
        print(f"| mean | | | | {100 * r[:, 0].mean():+.2f} | {r[:, 1].mean():.1%} | {r[:, 2].mean():.1%} |")
        thr, points, large_cost, cost = curves[part]
        print(f"\nseed 0, test split, by threshold ({what} relative to {LARGE} alone):\n")
        print(f"| threshold | accuracy | answered by the first | {what} / image | relative |")
        print("|---:|---:|---:|---:|---:|")
        for p in points:
            v = getattr(p, cost)
            print(f"| {p.threshold:.4g}{' (chosen)' if p.threshold == thr else ''} | {p.accuracy:.4f} | {p.answered[0]:.1%} "
                  f"| {v:,.0f} | {v / large_cost:.2f} |")
    print(f"\nwall time {time.perf_counter() - t0:.0f} s, torch threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
