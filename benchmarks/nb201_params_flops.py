"""Check every NAS-Bench-201 architecture of the shared CSV: params and flops of the built model.

params must equal the `params` column (millions, 6 decimals); flops (our convention, see
paretonet.hw.count_flops, plus NB201_FIXED_FLOPS) must equal the `flops` column (MFLOPs, 6 decimals).
Prints the number of exact matches of each and the time per architecture.
Run: .venv/bin/python benchmarks/nb201_params_flops.py [--csv ../shared/nb201/nb201_zc_proxies.csv]
"""

from __future__ import annotations

import argparse
import csv
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from paretonet.hw import NB201_FIXED_FLOPS, count_flops, count_params
from paretonet.spaces import Architecture, build_model

DEFAULT_CSV = Path(__file__).resolve().parents[2] / "shared" / "nb201" / "nb201_zc_proxies.csv"


def check(rows: list[dict[str, str]]) -> list[tuple[str, bool, bool]]:
    torch.set_num_threads(1)
    out = []
    for row in rows:
        model = build_model(Architecture.parse(row["net"], space="nb201"), (3, 32, 32), 10)
        params_ok = f"{count_params(model) / 1e6:.6f}" == f"{float(row['params']):.6f}"
        flops = count_flops(model, (3, 32, 32)) + NB201_FIXED_FLOPS
        flops_ok = f"{flops / 1e6:.6f}" == f"{float(row['flops']):.6f}"
        out.append((row["net_str"], params_ok, flops_ok))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with args.csv.open() as f:
        rows = list(csv.DictReader(f))
    chunks = [rows[i :: args.workers * 8] for i in range(args.workers * 8)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        results = [r for part in pool.map(check, chunks) for r in part]
    seconds = time.perf_counter() - t0
    params_ok = sum(r[1] for r in results)
    flops_ok = sum(r[2] for r in results)
    print(f"architectures checked: {len(results)}")
    print(f"params equal to the csv: {params_ok}/{len(results)}")
    print(f"flops equal to the csv:  {flops_ok}/{len(results)}")
    print(f"{seconds:.1f} s, {1000 * seconds / len(results):.2f} ms per architecture ({args.workers} workers)")
    for name, p, fl in results:
        if not (p and fl):
            print(f"mismatch: {name} params_ok={p} flops_ok={fl}")


if __name__ == "__main__":
    main()
