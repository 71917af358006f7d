"""Accuracy under computation noise and bit-flip faults, and which neurons and layers faults hurt most.

Each number is a mean over seeded draws (noise) or trials (faults) with its spread and worst case;
draw d / trial t of seed s is the same whatever else runs, so two models compare on the same faults.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, check_int
from ..hw import (
    FaultModel,
    FaultSite,
    NoiseModel,
    Protection,
    compute_layers,
    draw_weight_faults,
    faulty,
    noisy,
    output_ranges,
    weight_format,
    wrapped_layer,
)
from ..layers import eval_mode
from ._accuracy import predict_logits
from ..records import Objective, accuracy_objective
from ..records.names import ObjectiveName, perturbed_accuracy_name

Progress = Callable[[int, int], None]  # (done, total)
BATCH = 1000  # images per forward pass: noise draws and activation faults depend on the batching
NOISE_DRAWS, FAULT_TRIALS = 5, 20  # defaults of the accuracy@noise / accuracy@faults objectives


@dataclass(frozen=True)
class PerturbedAccuracy:
    label: str  # the noise or fault model
    mean: float
    std: float
    worst: float
    trials: int
    images: int
    accuracies: tuple[float, ...]


def _hits(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((predict_logits(model, x, BATCH).argmax(1) == y).double().mean())


def _summary(label: str, accs: list[float], images: int) -> PerturbedAccuracy:
    a = np.array(accs)
    return PerturbedAccuracy(label, float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0, float(a.min()),
                             len(a), images, tuple(accs))


def _trial_seed(seed: int, trial: int) -> int:
    return int(np.random.SeedSequence([seed, trial, 0x7E5]).generate_state(1)[0])


def noise_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, noise: NoiseModel, *,
                   draws: int = NOISE_DRAWS, seed: int = 0, calibration: torch.Tensor | None = None,
                   progress: Progress | None = None) -> PerturbedAccuracy:
    """Accuracy over `draws` passes of the images, each with its own noise; output noise is scaled to the
    layers' output ranges on `calibration` images (default: `x`)."""
    check_int("draws", draws, minimum=1)
    ranges = output_ranges(model, calibration if calibration is not None else x) if noise.outputs else None
    accs = []
    with eval_mode(model):
        for d in range(draws):
            with noisy(model, noise, _trial_seed(seed, d), ranges):
                accs.append(_hits(model, x, y))
            if progress is not None:
                progress(d + 1, draws)
    return _summary(noise.label, accs, len(x))


def fault_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, fault: FaultModel, *,
                   trials: int = FAULT_TRIALS, seed: int = 0, protection: Protection | None = None,
                   progress: Progress | None = None) -> PerturbedAccuracy:
    """Accuracy over `trials` fault draws (weights corrupted once per trial; activations on every pass)."""
    check_int("trials", trials, minimum=1)
    compute_layers(model)
    accs = []
    with eval_mode(model):
        for t in range(trials):
            sites = draw_weight_faults(model, fault, _trial_seed(seed, t), protection)
            with faulty(model, sites, fault, _trial_seed(seed, t), protection):
                accs.append(_hits(model, x, y))
            if progress is not None:
                progress(t + 1, trials)
    return _summary(fault.label, accs, len(x))


def _scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(accuracy, mean cross-entropy); a non-finite loss (a float exponent flipped) counts as infinite harm."""
    logits = predict_logits(model, x, BATCH)
    loss = float(F.cross_entropy(logits.double(), y))
    return float((logits.argmax(1) == y).double().mean()), loss if math.isfinite(loss) else math.inf


@dataclass(frozen=True)
class Damage:
    accuracy_drop: float  # positive: harm
    loss_increase: float  # of the mean cross-entropy: sees the harm that has not yet flipped a prediction


def site_damage(model: nn.Module, x: torch.Tensor, y: torch.Tensor, sites: Sequence[FaultSite]) -> list[Damage]:
    """What flipping each site alone does to accuracy and loss."""
    out = []
    with eval_mode(model):
        acc, loss = _scores(model, x, y)
        for s in sites:
            with faulty(model, [s]):
                a, b = _scores(model, x, y)
            out.append(Damage(acc - a, b - loss))
    return out


@dataclass(frozen=True)
class Vulnerability:
    """A neuron's (or a layer's) vulnerability: mean damage over trials. Neurons rank by loss increase,
    which separates them where a test set of a few hundred images shows no accuracy change."""

    layer: str
    channel: int | None  # None: the layer as a whole
    accuracy_drop: float
    loss_increase: float
    trials: int


def neuron_vulnerability(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, flips: int = 1,
                         bits: tuple[int, ...] = (), trials: int = 4, seed: int = 0,
                         layers: tuple[str, ...] = (), progress: Progress | None = None) -> list[Vulnerability]:
    """Each neuron's (output channel's) vulnerability factor: the mean accuracy drop when `flips` random
    bits of its stored weight codes flip, over seeded trials. The bits are drawn from the positions `bits`;
    by default the most significant bit (the sign of signed codes), which does nearly all the harm and so
    separates neurons in few trials. Most harmful first."""
    check_int("flips", flips, minimum=1)
    check_int("trials", trials, minimum=1)
    out = []
    chosen = {n: m for n, m in compute_layers(model).items() if not layers or n in layers}
    total = sum(wrapped_layer(m).weight.shape[0] for m in chosen.values())
    with eval_mode(model):
        clean = _scores(model, x, y)
        for name, m in chosen.items():
            fmt = weight_format(m)
            positions = bits or (fmt.width - 1,)
            w = wrapped_layer(m).weight
            per_channel = w[0].numel()
            for c in range(w.shape[0]):
                drops = []
                for t in range(trials):
                    rng = np.random.default_rng(np.random.SeedSequence([seed, t, c, 0xE0]))
                    picks = rng.choice(per_channel * len(positions), size=min(flips, per_channel * len(positions)),
                                       replace=False)
                    sites = [FaultSite(name, c * per_channel + int(p) // len(positions), positions[int(p) % len(positions)])
                             for p in picks]
                    with faulty(model, sites):
                        a, b = _scores(model, x, y)
                    drops.append((clean[0] - a, b - clean[1]))
                mean = np.mean(drops, axis=0)
                out.append(Vulnerability(name, c, float(mean[0]), float(mean[1]), trials))
                if progress is not None:
                    progress(len(out), total)
    return sorted(out, key=lambda v: (-v.loss_increase, -v.accuracy_drop))


def layer_vulnerability(model: nn.Module, x: torch.Tensor, y: torch.Tensor, fault: FaultModel, *,
                        trials: int = FAULT_TRIALS, seed: int = 0) -> list[Vulnerability]:
    """Each layer faulted alone under `fault`: the mean accuracy drop over trials. Most harmful first."""
    from dataclasses import replace

    with eval_mode(model):
        clean = _hits(model, x, y)
    out = []
    for name in compute_layers(model):
        r = fault_accuracy(model, x, y, replace(fault, layers=(name,)), trials=trials, seed=seed)
        out.append(Vulnerability(name, None, clean - r.mean, math.nan, trials))
    return sorted(out, key=lambda v: -v.accuracy_drop)


def top_neurons(ranking: Sequence[Vulnerability], k: int) -> dict[str, tuple[int, ...]]:
    """The k most vulnerable neurons, grouped by layer: what Protection protects."""
    check_int("top", k, minimum=0)
    chosen: dict[str, list[int]] = {}
    for v in [v for v in ranking if v.channel is not None][:k]:
        chosen.setdefault(v.layer, []).append(int(v.channel))
    return {n: tuple(sorted(c)) for n, c in chosen.items()}


# -- objectives: accuracy@noise:<noise model> and accuracy@faults:<fault model> ------------------------
_INPUT_NOISE = ("gaussian:", "uniform:", "salt-pepper:")  # input noise (robustness --noise) is another family


def _parsed(name: str) -> ObjectiveName | None:
    try:
        return ObjectiveName.parse(name)
    except ConfigError:
        return None


def is_perturbed_objective(name: str) -> bool:
    """A computation-noise or fault objective name (input-noise names are the robustness command's)."""
    n = _parsed(name)
    return n is not None and n.quantity == "accuracy" and (
        n.method == "faults" or (n.method == "noise" and not n.setting.startswith(_INPUT_NOISE)))


def perturbed_name(model: NoiseModel | FaultModel) -> str:
    return perturbed_accuracy_name("noise" if isinstance(model, NoiseModel) else "faults", model.label)


def parse_perturbed(name: str) -> NoiseModel | FaultModel:
    """The noise or fault model an objective name describes; malformed names are one-line errors."""
    n = ObjectiveName.parse(name)
    if n.quantity != "accuracy" or n.method not in ("noise", "faults"):
        raise ConfigError(f"objective {name!r}: expected accuracy@noise:<noise model> or accuracy@faults:<fault model>")
    return FaultModel.parse(n.setting) if n.method == "faults" else NoiseModel.parse(n.setting)


def perturbed_objective(model: nn.Module, x: torch.Tensor, y: torch.Tensor, name: str, *, seed: int = 0,
                        calibration: torch.Tensor | None = None, draws: int = NOISE_DRAWS,
                        trials: int = FAULT_TRIALS) -> tuple[Objective, PerturbedAccuracy]:
    """The mean accuracy under the noise or faults `name` describes, as an Objective, and its details."""
    spec = parse_perturbed(name)
    if isinstance(spec, NoiseModel):
        r = noise_accuracy(model, x, y, spec, draws=draws, seed=seed, calibration=calibration)
    else:
        r = fault_accuracy(model, x, y, spec, trials=trials, seed=seed)
    return accuracy_objective(perturbed_name(spec), r.mean, r.images), r
