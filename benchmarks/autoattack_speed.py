"""AutoAttack's standard set: paretonet's `standard` preset against pyautoattack's AutoAttack, same model, same images.

Two models: LeNet-5 trained on digits (its test images), and an nb201 cell (C=16, N=5, seeded weights) on
random CIFAR-shaped inputs labelled by its own predictions (so every image is attacked). For each, at eps
0.1 and 8/255 on 200 images: both robust accuracies, the images AutoAttack breaks that paretonet leaves
standing (target: none), and the time ratio paretonet / AutoAttack (target <= 1.0). paretonet's time
includes its sanity checks, as `paretonet robustness --preset standard` runs them; AutoAttack's includes
its own checks. The two run alternately, each round timing both.
Run: .venv/bin/python benchmarks/autoattack_speed.py [--images 200] [--rounds 1] [--only lenet5,nb201]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time

import torch
from _models import trained_lenet5
from pyautoattack import AutoAttack

from paretonet.evaluate import RobustnessConfig, evaluate_robustness
from paretonet.spaces import Architecture, build_model

NB201 = "nb201:|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def models(n: int, only: set[str]) -> dict[str, tuple[torch.nn.Module, torch.Tensor, torch.Tensor]]:
    out = {}
    if "lenet5" in only:
        model, data = trained_lenet5()
        out["lenet5 (digits)"] = (model, data.test.x[:n], data.test.y[:n])
    if "nb201" in only:
        net = build_model(Architecture.parse(NB201), (3, 32, 32), 10, seed=0).eval()
        x = torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            y = net(x).argmax(1)
        out["nb201 cell (random CIFAR-shaped)"] = (net, x, y)
    return out


def autoattack(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Per image: still correct after AutoAttack's standard version."""
    adversary = AutoAttack(model, norm="Linf", eps=eps, version="standard", seed=0)
    with contextlib.redirect_stdout(io.StringIO()):
        adv, _ = adversary.run_standard_evaluation(x, y, batch_size=len(x))
    with torch.no_grad():
        return model(adv).argmax(1) == y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--only", default="lenet5,nb201")
    a = ap.parse_args()
    print(f"{torch.get_num_threads()} threads, {a.images} images, Linf, fastest of {a.rounds} round(s)")
    print(f"{'model':34s} {'eps':>7s} {'robust ours':>11s} {'robust AA':>9s} {'AA-only breaks':>14s} "
          f"{'ours s':>7s} {'AA s':>7s} {'ratio':>6s}")
    worst_ratio = 0.0
    for name, (model, x, y) in models(a.images, set(a.only.split(","))).items():
        for eps, label in ((0.1, "0.1"), (8 / 255, "8/255")):
            t_ours, t_aa = float("inf"), float("inf")
            for _ in range(a.rounds):
                t0 = time.perf_counter()
                r = evaluate_robustness(model, x, y, RobustnessConfig(eps=eps, preset="standard", seed=0))
                t_ours = min(t_ours, time.perf_counter() - t0)
                t0 = time.perf_counter()
                theirs = autoattack(model, x, y, eps)
                t_aa = min(t_aa, time.perf_counter() - t0)
            ours = torch.tensor([b == "" for b in r.broken_by])
            missed = torch.nonzero(ours & ~theirs).flatten().tolist()
            worst_ratio = max(worst_ratio, t_ours / t_aa)
            print(f"{name:34s} {label:>7s} {r.robust_accuracy:11.3f} {float(theirs.double().mean()):9.3f} "
                  f"{len(missed):14d} {t_ours:7.1f} {t_aa:7.1f} {t_ours / t_aa:6.2f}"
                  + (f"  images: {missed}" if missed else ""))
            print(f"{'':34s} {'':7s} attacks {r.attack_seconds:.1f} s, sanity checks {r.sanity_seconds:.1f} s"
                  f" (Square {'reused' if r.sanity_square_reused else 'run again'}), "
                  f"sanity {'passed' if r.sanity_passed else 'FAILED'}")
    print(f"largest time ratio paretonet / AutoAttack: {worst_ratio:.2f} (target <= 1.0)")


if __name__ == "__main__":
    main()
