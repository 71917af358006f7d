"""Kendall tau between the analytic energy estimate and ZigZag's, over 20 seeded networks of a space.

Needs the extra: pip install -c constraints.txt -e ".[zigzag]". ZigZag takes seconds per network
(LeNets) to a minute (NAS-Bench-201 cells, exported through ONNX with their sums and pooling).
Prints tau for each analytic dataflow at 8-bit (ZigZag's shipped accelerators are 8-bit); target >= 0.8.
Run: .venv/bin/python benchmarks/zigzag_tau.py [--space lenet|nb201] [--n 20] [--accelerator tpu_like]
"""

from __future__ import annotations

import argparse
import time

from scipy.stats import kendalltau

from paretonet.hw import DATAFLOWS, LayerBits, model_energy
from paretonet.hw._zigzag import zigzag_energy
from paretonet.spaces import build_model, sample_architecture

SHAPES = {"lenet": (1, 32, 32), "nb201": (3, 32, 32)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--accelerator", default="tpu_like")
    ap.add_argument("--space", default="lenet", choices=sorted(SHAPES))
    args = ap.parse_args()
    shape = SHAPES[args.space]
    ours = {d: [] for d in DATAFLOWS}
    theirs, skipped = [], []
    t0 = time.perf_counter()
    seed = -1
    while len(theirs) < args.n:  # seeds 0, 1, ... until n networks ZigZag could cost
        seed += 1
        arch = sample_architecture(args.space, seed, shape)
        model = build_model(arch, shape, 10, seed=seed)
        try:
            theirs.append(zigzag_energy(model, shape, args.accelerator).total_energy)
        except Exception as e:  # ZigZag 3.9.1 fails inside its own code on some small layers
            skipped.append((seed, f"{type(e).__name__}: {str(e)[:60]}"))
            continue
        for d in DATAFLOWS:
            ours[d].append(model_energy(model, shape, "horowitz45", d, bits=LayerBits.integer(8)).total_pj)
        print(f"  seed {seed}: {arch}  ZigZag {theirs[-1]:.4g}  ({time.perf_counter() - t0:.0f} s so far)", flush=True)
    print(f"{args.n} seeded {args.space} architectures at {shape}, ZigZag accelerator {args.accelerator}, "
          f"{time.perf_counter() - t0:.0f} s; seeds ZigZag failed on: {skipped or 'none'}")
    for d in DATAFLOWS:
        tau = kendalltau(ours[d], theirs).statistic
        print(f"Kendall tau, analytic dataflow {d:9s} vs ZigZag total energy: {tau:.3f}  (target >= 0.8)")


if __name__ == "__main__":
    main()
