"""A table search of 10,000 trials on one study with two workers: time per trial by blocks of 1,000, exactly the
budget, no duplicate.

The table: nb201-cifar10 holds 9,445 architectures, fewer than the budget, so a table with more rows than trials is
made here: --rows distinct members of the lenet space (seeded), with synthetic columns (accuracy, robust accuracy and
proxy_flops from a fixed random function of each network's encoding, plus noise). The numbers are not a benchmark of
anything; the search's machinery (storage reads, the tracker, the predictor's refits and screening) does the same
work per trial as on a real table, and that is what is timed. The table is written as a CSV and searched with the CLI
as a user would: one owner process and --workers - 1 `--worker` processes on --storage (a PostgreSQL URL; default: a
SQLite file). Run it by hand (about an hour on 2 cores); the suite runs a 500-trial version on PostgreSQL.

Printed: seconds per trial in each block of 1,000 completed trials (by completion time), the last block over the
first (target <= 2), completed trials against the budget and duplicate architectures (target: 0).
Run: .venv/bin/python benchmarks/search_scale.py [--trials 10000] [--rows 12000] [--workers 2] [--storage URL]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

CLI = [sys.executable, "-m", "paretonet.cli"]


def synthetic_table(path: Path, rows: int, seed: int = 0) -> Path:
    from paretonet.spaces import SPACES, Architecture

    space, rng = SPACES.get("lenet"), np.random.default_rng(seed)
    names: set[str] = set()
    while len(names) < rows:
        g = space.sample(rng)
        if space.fits(g, (1, 32, 32)):
            names.add(str(Architecture.of("lenet", g)))
    archs = sorted(names)
    enc = np.array([Architecture.parse(a).encode()[1] for a in archs], dtype=float)
    enc = (enc - enc.mean(0)) / np.where(enc.std(0) > 0, enc.std(0), 1.0)
    w = rng.normal(size=(enc.shape[1], 3))
    z = enc @ w / np.sqrt(enc.shape[1]) + 0.3 * rng.normal(size=(rows, 3))
    accuracy = 0.5 + 0.45 / (1 + np.exp(-z[:, 0]))
    robust = accuracy * (0.2 + 0.6 / (1 + np.exp(-z[:, 1])))
    flops = np.exp(2.0 + z[:, 2] + 0.5 * z[:, 0])  # accurate networks cost more, as in real tables
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["architecture", "accuracy", "robust_accuracy@apgd-ce:1/255", "proxy_flops"])
        out.writerows([a, repr(float(x)), repr(float(r)), repr(float(c))] for a, x, r, c in zip(archs, accuracy, robust, flops))
    return path


def completed(url: str, study: str) -> list:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        return optuna.load_study(study_name=study, storage=url).get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    except Exception:  # not created yet
        return []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--rows", type=int, default=12_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--storage", default=None, help="SQLAlchemy URL (default: a SQLite file in a temporary folder)")
    ap.add_argument("--block", type=int, default=1000)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="search-scale-"))
    url = a.storage or f"sqlite:///{work / 'study.db'}"
    study = f"scale-{uuid.uuid4().hex[:8]}"
    table = synthetic_table(work / "lenet-synthetic.csv", a.rows)
    base = [*CLI, "search", "--bench", str(table), "--objectives", "accuracy,robust_accuracy@apgd-ce:1/255,proxy_flops",
            "--trials", str(a.trials), "--storage", url, "--study", study, "--no-report"]
    t0 = time.time()
    procs = [subprocess.Popen([*base, "--output", str(work / "run0")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)]
    while not completed(url, study) and procs[0].poll() is None:
        time.sleep(0.5)
    for k in range(1, a.workers):
        procs.append(subprocess.Popen([*base, "--worker", "--seed", str(k), "--output", str(work / f"run{k}")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            sys.exit(f"a search process failed ({p.returncode}): {err.strip()[-600:]}")
    wall = time.time() - t0
    trials = sorted(completed(url, study), key=lambda t: t.datetime_complete)
    ends = np.array([t.datetime_complete.timestamp() for t in trials])
    keys = [t.user_attrs["key"] for t in trials]
    print(f"{len(trials)} of {a.trials} trials completed by {a.workers} processes on "
          f"{url.split(':')[0]}, {len(keys) - len(set(keys))} duplicate architectures; {wall:.0f} s in all; "
          f"table of {a.rows} synthetic rows ({table})")
    blocks = []
    for start in range(0, len(ends) - a.block + 1, a.block):
        first = ends[start - 1] if start else ends[0] - (ends[a.block - 1] - ends[0]) / (a.block - 1)
        blocks.append((ends[start + a.block - 1] - first) / a.block)
        print(f"trials {start + 1:>6}-{start + a.block:<6} {blocks[-1] * 1000:8.1f} ms per trial")
    if len(blocks) >= 2:
        print(f"last block / first block: {blocks[-1] / blocks[0]:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
