"""Worst-case robustness with the per-image early exit vs every attack on every image.

Same model, images, attacks and seeds, over an eps sweep. For each eps prints both robust
accuracies (they must be identical), whether every per-image outcome is identical, and the time
ratio; then the ratio over the whole sweep, all measured in one run (target >= 1.5).
The saving comes from images an earlier attack already broke, so it grows with eps; images that
survive every attack cost the same either way.
Run: .venv/bin/python benchmarks/worst_case_early_exit.py [--preset full | --attacks fgsm,pgd,...] [--eps 0.05,0.1,0.15,0.2]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from _models import trained_lenet5

from paretonet.evaluate import RobustnessConfig, evaluate_robustness


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="full")
    ap.add_argument("--attacks", default=None, help="comma-separated attacks instead of the preset")
    ap.add_argument("--eps", default="0.05,0.1,0.15,0.2")
    ap.add_argument("--queries", type=int, default=1000)
    args = ap.parse_args()
    model, data = trained_lenet5()
    x, y = data.test.x, data.test.y
    attacks = tuple(args.attacks.split(",")) if args.attacks else None
    print(f"LeNet-5 on digits, {len(x)} test images, {args.attacks or 'preset ' + args.preset}, "
          f"Square {args.queries} queries")
    total = {True: 0.0, False: 0.0}
    all_identical = True
    for eps in (float(e) for e in args.eps.split(",")):
        cfg = RobustnessConfig(eps=eps, preset=args.preset, attacks=attacks, queries=args.queries, sanity=False)
        res = {}
        for early in (True, False):
            t0 = time.perf_counter()
            r = evaluate_robustness(model, x, y, replace(cfg, early_exit=early))
            res[early] = (r, time.perf_counter() - t0)
            total[early] += res[early][1]
        (a, ta), (b, tb) = res[True], res[False]
        same = a.broken_by == b.broken_by and a.robust_accuracy == b.robust_accuracy
        all_identical &= same
        print(f"eps {eps:<5g} robust accuracy early-exit {a.robust_accuracy:.4f} / every-image {b.robust_accuracy:.4f}  "
              f"identical outcomes: {same}  {ta:6.1f} s vs {tb:6.1f} s  speed-up {tb / ta:.2f}x")
    print(f"identical robust accuracy and per-image outcomes at every eps: {all_identical}")
    print(f"speed-up of early exit over the sweep = {total[False] / total[True]:.2f}x  (target >= 1.5)")


if __name__ == "__main__":
    main()
