"""Hardening recipes against attacks, computation noise and bit flips: the table in the README.

Four measurements, each over training seeds 0..S-1 (mean +- std):
  adversarial   digits LeNet-5: plain vs PGD-AT (7 steps) vs TRADES, clean and PGD-20 accuracy at eps 0.1
  noise         Fashion-MNIST LeNet-5: plain vs QAT with constant scales vs noisy training (MAC-output
                noise, and multiplicative weight noise), accuracy under MAC-output noise at three levels
                (Wang et al.: does noisy training beat QAT?)
  protection    digits LeNet-5, 8-bit: the top-k vulnerable neurons protected by selective TMR or by
                neuron splitting, accuracy under weight bit flips recovered per extra 1k MACs and per kB
  compression   digits LeNet-5 PGD-AT: 50 % channel pruning + 8-bit, fine-tuned with the adversarial
                loss; PGD-20 robust accuracy kept relative to the dense PGD-AT model

    python benchmarks/hardening.py [--parts adversarial,noise,protection,compression] [--seeds 3]

Prints Markdown tables. The noise part trains on the full 51k Fashion-MNIST training images.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from paretonet import DataConfig, TrainConfig, train_architecture
from paretonet.data import load_dataset
from paretonet.evaluate import (
    RobustnessConfig,
    evaluate_robustness,
    fault_accuracy,
    neuron_vulnerability,
    noise_accuracy,
    top_neurons,
)
from paretonet.hw import FaultModel, NoiseModel, Protection, protection_cost
from paretonet.train import Recipe
from paretonet.variant import CALIBRATION_IMAGES, Variant, apply_variant

ARCH = "lenet:lenet5"


def ms(values: list[float]) -> str:
    return f"{np.mean(values):.3f} +- {np.std(values, ddof=1) if len(values) > 1 else 0.0:.3f}"


def pgd20(model, data, eps: float = 0.1) -> float:  # noqa: ANN001
    """PGD-20 (a quantized model: with BPDA, by transfer from its float twin, and Square), whole test split."""
    cfg = RobustnessConfig(eps=eps, attacks=("pgd",), steps=20, queries=1000, sanity=False, seed=0)
    return evaluate_robustness(model, data.test.x, data.test.y, cfg).robust_accuracy


def clean(model, data) -> float:  # noqa: ANN001
    from paretonet.evaluate import accuracy

    return accuracy(model, data.test)


def adversarial(seeds: int, epochs: int) -> None:
    data = load_dataset(DataConfig("digits"))
    recipes = {"plain": Recipe(), "PGD-AT (7 steps)": Recipe("adversarial", eps=0.1, steps=7),
               "TRADES (beta 6)": Recipe("trades", eps=0.1, steps=7, beta=6.0)}
    rows = {}
    for label, recipe in recipes.items():
        c, r = [], []
        for s in range(seeds):
            t = train_architecture(ARCH, data, TrainConfig(epochs=epochs, seed=s, recipe=recipe))
            c.append(clean(t.model, data))
            r.append(pgd20(t.model, data))
        rows[label] = (c, r)
    print(f"\n### Adversarial training, digits LeNet-5, {epochs} epochs, {seeds} seeds, eps 0.1, "
          f"{len(data.test)} test images\n")
    print("| training | clean accuracy | PGD-20 accuracy |\n|---|---|---|")
    for label, (c, r) in rows.items():
        print(f"| {label} | {ms(c)} | {ms(r)} |")
    gain = np.array(rows["PGD-AT (7 steps)"][1]) - np.array(rows["plain"][1])
    print(f"\nPGD-AT raises PGD-20 accuracy by {100 * gain.mean():.1f} points (per seed: "
          f"{', '.join(f'{100 * g:.1f}' for g in gain)}); target >= 30")


def noise(seeds: int, epochs: int, levels: tuple[float, ...], train_level: float, draws: int) -> None:
    data = load_dataset(DataConfig("fashion-mnist"))
    recipes = {"plain": Recipe(), "QAT, constant scales (8 bit)": Recipe("qat", bits=8),
               f"noisy training (outputs:{train_level:g})": Recipe("noisy", noise=f"outputs:{train_level:g}"),
               "noisy training (weights-rel:0.3)": Recipe("noisy", noise="weights-rel:0.3")}
    rows: dict[str, list[list[float]]] = {}
    for label, recipe in recipes.items():
        per_level: list[list[float]] = [[] for _ in (0.0, *levels)]
        for s in range(seeds):
            t = train_architecture(ARCH, data, TrainConfig(epochs=epochs, seed=s, recipe=recipe))
            for i, lvl in enumerate((0.0, *levels)):
                r = noise_accuracy(t.model, data.test.x, data.test.y, NoiseModel(outputs=lvl), draws=draws, seed=s,
                                   calibration=data.train.x[:CALIBRATION_IMAGES])
                per_level[i].append(r.mean)
        rows[label] = per_level
    print(f"\n### Accuracy under MAC-output noise, Fashion-MNIST LeNet-5, {epochs} epochs, {seeds} seeds, "
          f"{draws} draws, {len(data.test)} test images\n")
    print("| training | " + " | ".join(f"noise {lvl:g}" for lvl in (0.0, *levels)) + " |")
    print("|---|" + "---|" * (len(levels) + 1))
    for label, per_level in rows.items():
        print(f"| {label} | " + " | ".join(ms(v) for v in per_level) + " |")
    qat, noisy = list(rows.values())[1], list(rows.values())[2]
    better = [np.mean(noisy[i + 1]) > np.mean(qat[i + 1]) for i in range(len(levels))]
    print(f"\nnoisy training beats QAT at {sum(better)} of {len(levels)} noise levels")


def protection(seeds: int, epochs: int, rate: float, top: int, trials: int) -> None:
    data = load_dataset(DataConfig("digits"))
    fault = FaultModel(rate=rate)
    rows: dict[str, list[tuple[float, float, float]]] = {"tmr": [], "split": []}
    base, costs = [], {}
    for s in range(seeds):
        t = train_architecture(ARCH, data, TrainConfig(epochs=epochs, seed=s))
        q = apply_variant(t.model, t.architecture, data, Variant(bits=8)).model
        x, y = data.test.x, data.test.y
        plain = fault_accuracy(q, x, y, fault, trials=trials, seed=s).mean
        base.append((clean(q, data), plain))
        ranking = neuron_vulnerability(q, data.val.x, data.val.y, trials=4, seed=s)
        chosen = top_neurons(ranking, top)
        for mode in rows:
            p = Protection(mode, chosen)
            acc = fault_accuracy(q, x, y, fault, trials=trials, seed=s, protection=p).mean
            c = protection_cost(q, data.input_shape, p)
            rows[mode].append((acc - plain, 1000 * (acc - plain) / c.extra_macs, 1000 * (acc - plain) / c.extra_bytes))
            costs.setdefault(mode, []).append(c)
    print(f"\n### Protecting the {top} most vulnerable neurons, digits LeNet-5 8-bit, weight bit flips at rate {rate:g}, "
          f"{trials} trials, {seeds} seeds (ranked on the validation split, measured on the test split)\n")
    print(f"clean {ms([b[0] for b in base])}, unprotected under faults {ms([b[1] for b in base])}\n")
    print("| protection | extra MACs | extra bytes | accuracy recovered | per 1k extra MACs | per kB extra |")
    print("|---|---|---|---|---|---|")
    for mode, vals in rows.items():
        macs = np.mean([c.extra_macs for c in costs[mode]])
        nbytes = np.mean([c.extra_bytes for c in costs[mode]])
        print(f"| {'selective TMR' if mode == 'tmr' else 'neuron splitting'} | {macs:,.0f} | {nbytes:,.0f} | "
              f"{ms([v[0] for v in vals])} | {ms([v[1] for v in vals])} | {ms([v[2] for v in vals])} |")


def compression(seeds: int, epochs: int, finetune: int) -> None:
    data = load_dataset(DataConfig("digits"))
    recipe = Recipe("adversarial", eps=0.1, steps=7)
    variant = Variant(recipe=str(recipe), channels=0.5, finetune=finetune, bits=8, qat=finetune)
    dense_c, dense_r, comp_c, comp_r, kept = [], [], [], [], []
    for s in range(seeds):
        config = TrainConfig(epochs=epochs, seed=s, recipe=recipe)
        t = train_architecture(ARCH, data, config)
        vm = apply_variant(t.model, t.architecture, data, variant, config)
        dense_c.append(clean(t.model, data))
        dense_r.append(pgd20(t.model, data))
        comp_c.append(clean(vm.model, data))
        comp_r.append(pgd20(vm.model, data))
        kept.append(comp_r[-1] / dense_r[-1])
    print(f"\n### Robust compression, digits LeNet-5, {seeds} seeds: `{variant}`\n")
    print("| model | clean accuracy | PGD-20 accuracy |\n|---|---|---|")
    print(f"| dense PGD-AT | {ms(dense_c)} | {ms(dense_r)} |")
    print(f"| 50 % channels + 8 bit, adversarial fine-tuning | {ms(comp_c)} | {ms(comp_r)} |")
    print(f"\nrobust accuracy kept: {ms(kept)} (per seed: {', '.join(f'{k:.3f}' for k in kept)}); target >= 0.90; "
          "the compressed model is attacked with BPDA, by transfer from its float twin and by Square (1000 queries)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="adversarial,noise,protection,compression")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=30, help="digits training epochs")
    p.add_argument("--fmnist-epochs", type=int, default=8)
    p.add_argument("--noise-levels", default="0.02,0.05,0.1")
    p.add_argument("--train-noise", type=float, default=0.05)
    p.add_argument("--draws", type=int, default=5)
    p.add_argument("--rate", type=float, default=1e-3)
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--finetune", type=int, default=5)
    a = p.parse_args()
    start = time.perf_counter()
    parts = a.parts.split(",")
    if "adversarial" in parts:
        adversarial(a.seeds, a.epochs)
    if "noise" in parts:
        noise(a.seeds, a.fmnist_epochs, tuple(float(v) for v in a.noise_levels.split(",")), a.train_noise, a.draws)
    if "protection" in parts:
        protection(a.seeds, a.epochs, a.rate, a.top, a.trials)
    if "compression" in parts:
        compression(a.seeds, a.epochs, a.finetune)
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
