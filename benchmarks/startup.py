"""How long `paretonet --help` and every `paretonet CMD --help` take (median of 5 runs each, interleaved), against
`python -c pass`: the CLI must answer before torch, optuna or plotly load. Target: under 0.5 s for each.

    .venv/bin/python benchmarks/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.5
COMMANDS = ["", "train", "evaluate", "spaces", "robustness", "variance", "certify", "variance-map", "noise", "faults",
            "energy", "device fit", "compress", "approx", "multipliers", "cascade", "bench build", "predict evaluate",
            "search", "report", "compare"]


def _seconds(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cli = str(Path(sys.executable).with_name("paretonet"))
    cases = {"python -c pass": [sys.executable, "-c", "pass"],
             **{f"paretonet {c} --help".replace("  ", " "): [cli, *c.split(), "--help"] for c in COMMANDS}}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):  # interleaved: a busy moment of the machine falls on every case alike
        for name, argv in cases.items():
            times[name].append(_seconds(argv))
    base = statistics.median(times["python -c pass"])
    print(f"{'command':40s} {'median s':>9s} {'over python':>12s}")
    worst = 0.0
    for name, ts in times.items():
        m = statistics.median(ts)
        if name != "python -c pass":
            worst = max(worst, m)
        print(f"{name:40s} {m:9.3f} {m - base:12.3f}")
    print(f"slowest --help {worst:.3f} s (target < {TARGET_S} s): {'met' if worst < TARGET_S else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
