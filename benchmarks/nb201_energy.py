"""Energy of every one of the 15,625 NAS-Bench-201 cells, as the search's inner loop would ask.

Prints the wall time for all cells under each dataflow of the chosen hardware (target: under
60 s on 2 cores) and a few sanity figures.
Run: .venv/bin/python benchmarks/nb201_energy.py [--hardware horowitz45]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from paretonet.analytic import architecture_energy, architecture_total_energy_pj
from paretonet.hw import DATAFLOWS
from paretonet.spaces import Architecture
from paretonet.spaces.nb201 import NB201Space


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hardware", default="horowitz45")
    args = ap.parse_args()
    cells = [Architecture.of("nb201", g) for g in NB201Space().all_genotypes()]
    t0 = time.perf_counter()
    totals = {}
    for dataflow in DATAFLOWS:
        totals[dataflow] = np.array([architecture_total_energy_pj(a, args.hardware, dataflow) for a in cells])
    seconds = time.perf_counter() - t0
    # the fast path must equal the per-layer estimate it sums up
    rng = np.random.default_rng(0)
    worst = max(abs(architecture_energy(cells[i], args.hardware, d).total_pj / totals[d][i] - 1)
                for i in rng.choice(len(cells), 50, replace=False) for d in DATAFLOWS)
    print(f"{len(cells)} nb201 cells x {len(DATAFLOWS)} dataflows on {args.hardware}: {seconds:.1f} s "
          f"({1e6 * seconds / (len(cells) * len(DATAFLOWS)):.0f} us per estimate; target: all cells under 60 s)")
    print(f"largest relative difference to the per-layer estimate on 50 cells: {worst:.1e}")
    for dataflow, e in totals.items():
        print(f"  {dataflow:9s} energy per image: min {e.min() / 1e6:.1f} uJ, median {np.median(e) / 1e6:.1f} uJ, "
              f"max {e.max() / 1e6:.1f} uJ")


if __name__ == "__main__":
    main()
