"""Hardening recipes against attacks, computation noise and bit flips: the table in the README.

Four measurements, each over training seeds 0..S-1 (mean +- std):
  adversarial   digits LeNet-5: plain vs PGD-AT (7 steps, at eps 0.1 and 0.15) vs TRADES, clean and PGD-20
                accuracy at eps 0.1
  noise         Fashion-MNIST LeNet-5: plain vs QAT with constant scales vs noisy training (MAC-output
                noise, and multiplicative weight noise), accuracy under MAC-output noise at three levels
                (Wang et al.: does noisy training beat QAT?)
  protection    digits LeNet-5, 8-bit: the top-k vulnerable neurons protected by selective TMR or by
                neuron splitting, accuracy under weight bit flips recovered per extra 1M MACs and per kB
  compression   digits LeNet-5 PGD-AT: 50 % channel pruning + 8-bit, fine-tuned with the adversarial
                loss; PGD-20 robust accuracy kept relative to the dense PGD-AT model

    python benchmarks/hardening.py [--parts adversarial,noise,protection,compression] [--seeds 3]

Prints Markdown tables. The noise part trains on the full 51k Fashion-MNIST training images.
"""

from __future__ import annotations

import argparse
import sys
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
    return f"{np.mean(values):.4f} +- {np.std(values, ddof=1) if len(values) > 1 else 0.0:.4f}"


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
               "PGD-AT (7 steps, trained at eps 0.15)": Recipe("adversarial", eps=0.15, steps=7),
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
    print()
    for label in [k for k in rows if k.startswith("PGD-AT")]:
        gain = np.array(rows[label][1]) - np.array(rows["plain"][1])
        print(f"{label} raises PGD-20 accuracy by {100 * gain.mean():.1f} points (per seed: "
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


def protection(seeds: int, epochs: int, rates: tuple[float, ...], tops: tuple[int, ...], trials: int) -> None:
    data = load_dataset(DataConfig("digits"))
    x, y = data.test.x, data.test.y
    rows: dict[tuple, list[tuple[float, float, float, float]]] = {}  # (rate, top, mode) -> per seed
    base: dict[float, list[float]] = {r: [] for r in rates}
    clean_acc = []
    for s in range(seeds):
        t = train_architecture(ARCH, data, TrainConfig(epochs=epochs, seed=s))
        q = apply_variant(t.model, t.architecture, data, Variant(bits=8)).model
        clean_acc.append(clean(q, data))
        ranking = neuron_vulnerability(q, data.val.x, data.val.y, trials=4, seed=s)  # chosen on the validation split
        for rate in rates:
            fault = FaultModel(rate=rate)
            plain = fault_accuracy(q, x, y, fault, trials=trials, seed=s).mean
            base[rate].append(plain)
            for top in tops:
                for mode in ("tmr", "split"):
                    p = Protection(mode, top_neurons(ranking, top))
                    gain = fault_accuracy(q, x, y, fault, trials=trials, seed=s, protection=p).mean - plain
                    c = protection_cost(q, data.input_shape, p)
                    rows.setdefault((rate, top, mode), []).append((gain, c.extra_macs, c.extra_bytes, c.extra_energy_pj))
    print(f"\n### Protecting the most vulnerable neurons, digits LeNet-5 8-bit, weight bit flips (any bit), {trials} "
          f"trials of the same faults with and without protection, {seeds} seeds\n")
    print(f"neurons ranked on the validation split, accuracy on the test split; clean {ms(clean_acc)}; unprotected "
          + ", ".join(f"{ms(v)} at rate {r:g}" for r, v in base.items()) + "\n")
    print("| rate | neurons | protection | extra MACs | extra bytes | extra energy (pJ) | accuracy recovered | "
          "per 1M extra MACs | per kB extra |\n|---|---|---|---|---|---|---|---|---|")
    for (rate, top, mode), v in rows.items():
        a = np.array(v)
        print(f"| {rate:g} | {top} | {'selective TMR' if mode == 'tmr' else 'neuron splitting'} | {a[:, 1].mean():,.0f} | "
              f"{a[:, 2].mean():,.0f} | {a[:, 3].mean():.3g} | {ms(list(a[:, 0]))} | "
              f"{1e6 * a[:, 0].mean() / a[:, 1].mean():+.3f} | {1e3 * a[:, 0].mean() / a[:, 2].mean():+.4f} |")


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
    sys.stdout.reconfigure(line_buffering=True)  # each table appears as its part ends, also in a log file
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="adversarial,noise,protection,compression")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=30, help="digits training epochs")
    p.add_argument("--fmnist-epochs", type=int, default=8)
    p.add_argument("--noise-levels", default="0.02,0.05,0.1")
    p.add_argument("--train-noise", type=float, default=0.05)
    p.add_argument("--draws", type=int, default=5)
    p.add_argument("--rates", default="0.003,0.01")
    p.add_argument("--tops", default="10,30")
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
        protection(a.seeds, a.epochs, tuple(float(v) for v in a.rates.split(",")),
                   tuple(int(v) for v in a.tops.split(",")), a.trials)
    if "compression" in parts:
        compression(a.seeds, a.epochs, a.finetune)
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
