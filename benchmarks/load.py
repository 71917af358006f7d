"""Speed on a busy machine: a fixed set of commands, quiet and under a competing load, with one thread and the default.

The set (the issue's): `robustness --preset fast` on 100 digits images of LeNet-5, `predict evaluate`
on nb201-cifar10 with 3 seeds, 2 training epochs of LeNet-5 on digits, and the inference of an
approximate LeNet-5 (mul8u_L40, `evaluate` over the digits test split). The load is one busy-looping
process per core, started and stopped by this script. Each command runs as a fresh CLI process, as a
user runs it, with `OMP_NUM_THREADS=1` and with the thread count unset (the default: one per core);
rounds are interleaved so every setting sees the same machine, and each figure is the median of the
rounds. Printed per command: the four times, default / one thread under load (target <= 1.2) and
quiet (the default should stay at least as fast as one thread).

--env KEY=VALUE (repeatable) adds to every command's environment, e.g. `--env GOMP_SPINCOUNT=300000`
to measure libgomp's own default, which the CLI replaces (see docs/performance.md).
Run: .venv/bin/python benchmarks/load.py [--rounds 3] [--only robustness,train] [--loads quiet,load]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "paretonet.cli"]
SHARED = Path(__file__).resolve().parents[2] / "shared"


def _spin() -> None:
    while True:
        pass


def commands(work: Path) -> dict[str, list[str]]:
    model, approx = str(work / "lenet5"), str(work / "lenet5-approx")
    return {
        "robustness": ["robustness", model, "--preset", "fast", "--eps", "0.1", "--images", "100"],
        "predict": ["predict", "evaluate", "--bench", "nb201-cifar10", "--train-sizes", "100,1000", "--seeds", "3"],
        "train": ["train", "--space", "lenet", "--arch", "lenet5", "--dataset", "digits", "--epochs", "2"],
        "approx-inference": ["evaluate", approx],
    }


def run(args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(CLI + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"paretonet {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return time.perf_counter() - t0


def prepare(work: Path, env: dict[str, str]) -> None:
    """The two models the set uses: LeNet-5 trained on digits, and its mul8u_L40 approximate variant."""
    run(["train", "--space", "lenet", "--arch", "lenet5", "--dataset", "digits", "--epochs", "10",
         "--save-model", str(work / "lenet5")], env)
    run(["approx", str(work / "lenet5"), "--multiplier", "mul8u_L40", "--lut-dir", str(SHARED / "evoapprox" / "luts"),
         "--no-robust", "--save-model", str(work / "lenet5-approx")], env)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated commands of the set (default: all)")
    ap.add_argument("--loads", default="quiet,load", help="which of quiet,load to measure")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE added to every command's environment")
    a = ap.parse_args()
    base = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    base.update(kv.split("=", 1) for kv in a.env)
    settings = {"1 thread": {**base, "OMP_NUM_THREADS": "1"}, "default": base}
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepare(work, base)
        cmds = commands(work)
        if a.only:
            cmds = {k: cmds[k] for k in a.only.split(",")}
        times: dict[tuple[str, str, str], list[float]] = {}
        loads = a.loads.split(",")
        for load in loads:
            spinners = [mp.Process(target=_spin, daemon=True) for _ in range(cores if load == "load" else 0)]
            for p in spinners:
                p.start()
            try:
                for r in range(a.rounds):
                    for name, cmd in cmds.items():
                        for s, env in settings.items():
                            t = run(cmd, env)
                            times.setdefault((name, load, s), []).append(t)
                            print(f"  round {r + 1} {load:5s} {s:8s} {name}: {t:.1f} s", file=sys.stderr, flush=True)
            finally:
                for p in spinners:
                    p.terminate()
    print(f"{cores} cores; load: {cores} busy processes; medians of {a.rounds} interleaved rounds"
          + (f"; env {' '.join(a.env)}" if a.env else ""))
    print(f"{'command':18s} {'quiet 1':>8s} {'quiet def':>9s} {'load 1':>8s} {'load def':>9s} "
          f"{'quiet def/1':>11s} {'load def/1':>10s}")
    for name in cmds:
        m = {(ld, s): statistics.median(times[(name, ld, s)]) if (name, ld, s) in times else float("nan")
             for ld in ("quiet", "load") for s in settings}
        print(f"{name:18s} {m['quiet', '1 thread']:8.1f} {m['quiet', 'default']:9.1f} {m['load', '1 thread']:8.1f} "
              f"{m['load', 'default']:9.1f} {m['quiet', 'default'] / m['quiet', '1 thread']:11.2f} "
              f"{m['load', 'default'] / m['load', '1 thread']:10.2f}")


if __name__ == "__main__":
    main()
