"""Per-image time of our FGSM and PGD divided by torchattacks' with the same budget and model.

Rounds alternate between the two libraries; prints the median ratio for each attack
(target <= 1.1). Needs torchattacks (./run.sh installs it).
Run: .venv/bin/python benchmarks/attack_throughput.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torchattacks
from _models import trained_lenet5

from paretonet.evaluate import AttackConfig, make_attack


def timed(fn) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--eps", type=float, default=0.1)
    args = ap.parse_args()
    model, data = trained_lenet5()
    x, y = data.test.x, data.test.y
    eps, steps = args.eps, 20
    pairs = {
        "fgsm": (make_attack(AttackConfig("fgsm", eps)), torchattacks.FGSM(model, eps=eps)),
        "pgd-20": (make_attack(AttackConfig("pgd", eps, steps=steps, step_size=2.5 * eps / steps)),
                   torchattacks.PGD(model, eps=eps, alpha=2.5 * eps / steps, steps=steps, random_start=True)),
    }
    print(f"LeNet-5 on digits, {len(x)} images, eps {eps}, {torch.get_num_threads()} threads")
    for name, (ours, theirs) in pairs.items():
        ours(model, x, y), theirs(x, y)  # warm-up
        t_ours, t_theirs = [], []
        for _ in range(args.rounds):
            t_ours.append(timed(lambda: ours(model, x, y)))
            t_theirs.append(timed(lambda: theirs(x, y)))
        o, t = statistics.median(t_ours), statistics.median(t_theirs)
        print(f"{name:7s} paretonet {1e6 * o / len(x):8.1f} us/image  torchattacks {1e6 * t / len(x):8.1f} us/image  "
              f"ratio = {o / t:.3f}  (target <= 1.1)")


if __name__ == "__main__":
    main()
