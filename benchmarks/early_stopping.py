"""Multi-objective early stopping against full training: the main job's search (lenet space on digits, the default
objectives and hardware choices, 20 trials; with early stopping a stopped trial counts as one), on several seeds,
with and without early stopping.

Each run is the CLI as a user runs it (`paretonet search --output DIR --seed S [--no-early-stopping]`), in a fresh
run folder. From each run's study: the trials in the order they ended, the training epochs each spent (0 when its
architecture was already trained; a stopped trial's epochs up to its rung) and the hypervolume of the completed
feasible trials so far. Hypervolumes use the fixed reference point of the search's normalized space and are divided
by the hypervolume of the union of all runs' fronts (1.0: as good as everything any run found). Printed: per seed,
the full search's final hypervolume and epochs, the early-stopping search's hypervolume at half those epochs and at
its end, its epochs and wall times; then the mean curves against epochs spent. The target: the same hypervolume
at <= 50 % of the epochs.

Runs go --jobs at a time, each with OMP_NUM_THREADS = cores / jobs (interleaved: seed 0 full, seed 0 early, ...).
Run: .venv/bin/python benchmarks/early_stopping.py [--seeds 0,1,2,3,4] [--trials 20] [--jobs 2] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

CLI = [sys.executable, "-m", "paretonet.cli"]
ARMS = ("full", "early")


def run_search(folder: Path, seed: int, arm: str, trials: int, threads: int) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    args = ["search", "--output", str(folder), "--seed", str(seed), "--trials", str(trials), "--no-report"]
    if arm == "full":
        args.append("--no-early-stopping")
    t0 = time.perf_counter()
    done = subprocess.run(CLI + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"paretonet {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-600:]}")
    return time.perf_counter() - t0


def trial_log(folder: Path) -> tuple[list[int], list[list[float] | None], list[float], list[str]]:
    """Per trial in order: epochs trained, normalized objective point (None: stopped or failed), and the run's
    reference point and directions."""
    import optuna

    run = json.loads((folder / "run.json").read_text())
    study = optuna.load_study(study_name="paretonet", storage=f"sqlite:///{folder / 'study.db'}")
    signs = np.array([-1.0 if o["direction"] == "max" else 1.0 for o in run["objectives"]])
    scale = np.array(run["normalization"]["scale"])
    epochs, points = [], []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        epochs.append(int(t.user_attrs.get("epochs_trained", 0)))
        feasible = all(v <= 0 for v in t.constraints.values())
        ok = t.state == optuna.trial.TrialState.COMPLETE and feasible
        points.append(list(np.array(t.values) * signs / scale) if ok else None)
    return epochs, points, run["normalization"]["reference_point"], [o["name"] for o in run["objectives"]]


def hv_curve(epochs: list[int], points: list, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from paretonet.search import hypervolume, nondominated

    spent, hv, seen = np.cumsum(epochs), [], []
    for p in points:
        if p is not None:
            seen.append(p)
        pts = np.array(seen) if seen else np.zeros((0, len(ref)))
        hv.append(hypervolume(pts[nondominated(pts)], ref) if len(pts) else 0.0)
    return spent, np.array(hv)


def at(spent: np.ndarray, hv: np.ndarray, epochs: float) -> float:
    """The hypervolume reached with at most `epochs` training epochs spent."""
    ok = spent <= epochs + 1e-9
    return float(hv[ok].max()) if ok.any() else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="threads per run (default: cores / jobs)")
    ap.add_argument("--arms", default=",".join(ARMS), help="run only these now (the table needs both, e.g. from "
                                                              "an earlier call with the same --work)")
    ap.add_argument("--work", type=Path, default=None, help="keep the run folders here (a rerun reuses finished ones)")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    work = a.work or Path(tempfile.mkdtemp(prefix="es-bench-"))
    threads = a.threads or max(1, (os.cpu_count() or 1) // a.jobs)
    runs = [(s, arm) for s in seeds for arm in ARMS]
    todo = [(s, arm) for s, arm in runs if arm in a.arms.split(",")]
    seconds: dict[tuple[int, str], float] = {}

    def one(job: tuple[int, str]) -> None:
        seed, arm = job
        folder = work / f"{arm}-{seed}"
        done = folder / "seconds.txt"
        if not done.exists():
            done.parent.mkdir(parents=True, exist_ok=True)
            done.write_text(str(run_search(folder, seed, arm, a.trials, threads)))
        seconds[job] = float(done.read_text())

    with ThreadPoolExecutor(a.jobs) as pool:
        list(pool.map(one, todo))
    if any(not (work / f"{arm}-{s}" / "seconds.txt").exists() for s, arm in runs):
        print(f"run folders in {work}; the other arm is still to run")
        return
    for s, arm in runs:
        seconds[(s, arm)] = float((work / f"{arm}-{s}" / "seconds.txt").read_text())

    from paretonet.search import hypervolume, nondominated

    logs = {job: trial_log(work / f"{job[1]}-{job[0]}") for job in runs}
    ref = np.array(next(iter(logs.values()))[2], dtype=float)
    union = np.array([p for e, pts, _, _ in logs.values() for p in pts if p is not None])
    best = hypervolume(union[nondominated(union)], ref)
    curves = {job: hv_curve(e, pts, ref) for job, (e, pts, _, _) in logs.items()}
    print(f"main job search, {a.trials} trials, objectives {', '.join(next(iter(logs.values()))[3])}; "
          f"hypervolume / union of {len(runs)} runs' fronts ({best:.4f}); {threads} thread(s) per run, {a.jobs} at a time")
    print(f"{'seed':>4} {'full HV':>8} {'epochs':>6} {'full s':>7} | {'early HV@half':>13} {'early HV':>8} "
          f"{'epochs':>6} {'stopped':>7} {'early s':>7}")
    ratios, halves, ends = [], [], []
    for s in seeds:
        fs, fh = curves[(s, "full")]
        es, eh = curves[(s, "early")]
        full_epochs = int(fs[-1])
        half = at(es, eh, full_epochs / 2) / best
        stopped = sum(p is None for p in logs[(s, "early")][1])
        print(f"{s:>4} {fh[-1] / best:8.4f} {full_epochs:6d} {seconds[(s, 'full')]:7.0f} | {half:13.4f} "
              f"{eh[-1] / best:8.4f} {int(es[-1]):6d} {stopped:7d} {seconds[(s, 'early')]:7.0f}")
        halves.append(half - fh[-1] / best)
        ends.append(eh[-1] / best - fh[-1] / best)
        ratios.append(seconds[(s, "early")] / seconds[(s, "full")])
    print(f"mean: early HV at half the full search's epochs - full HV = {np.mean(halves):+.4f} "
          f"(target >= 0; {sum(h >= 0 for h in halves)} of {len(seeds)} seeds); at the end {np.mean(ends):+.4f}; "
          f"wall time early / full {np.mean(ratios):.2f}")
    grid = np.linspace(0, max(int(c[0][-1]) for c in curves.values()), 9)
    print("mean hypervolume against training epochs spent")
    print(f"{'epochs':>6} " + " ".join(f"{int(g):>6d}" for g in grid))
    for arm in ARMS:
        row = [np.mean([at(*curves[(s, arm)], g) / best for s in seeds]) for g in grid]
        print(f"{arm:>6} " + " ".join(f"{v:6.3f}" for v in row))
    print(f"run folders: {work}")


if __name__ == "__main__":
    main()
