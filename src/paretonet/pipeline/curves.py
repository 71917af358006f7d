"""The curves job: robust accuracy over eps, accuracy under Gaussian noise and (float models) certified accuracy by
interval bounds of a saved search member, on the search's images with the search's attack budget."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from ..errors import ConfigError
from ..evaluate import RobustnessConfig, evaluate_robustness, ibp_certified, noise_robustness, predict_logits
from ..layers import has_gradient_free_layers

NOISE_LEVELS = (0.05, 0.1, 0.2, 0.3)


def member_curves(model: nn.Module, x: torch.Tensor, y: torch.Tensor, attacks: RobustnessConfig,
                  measured: float, *, noise_seed: int = 0, noise_draws: int = 3) -> dict:
    """`measured` is the member's robust accuracy at attacks.eps (its trial's own measurement: same model, images and
    attacks); half and twice that eps are measured now, without repeating the sanity checks the trial ran."""
    points = {attacks.eps: measured}
    for eps in (attacks.eps / 2, attacks.eps * 2):
        r = evaluate_robustness(model, x, y, replace(attacks, eps=min(eps, 1.0), sanity=False))
        points[r.eps] = r.robust_accuracy
    noise = noise_robustness(model, x, y, "gaussian", NOISE_LEVELS, draws=noise_draws, seed=noise_seed)
    clean = float((predict_logits(model, x).argmax(1) == y).double().mean())
    try:  # a layer interval bounds do not know leaves the member without a certified curve
        certified = [] if has_gradient_free_layers(model) else [
            [e, float(ibp_certified(model, x, y, e).mean())] for e in sorted(points)]
    except ConfigError:
        certified = []
    return {"clean": clean, "robust": sorted([e, a] for e, a in points.items()), "certified": certified,
            "noise": [[p.level, p.mean_accuracy, p.std_accuracy] for p in noise], "images": len(x),
            "attacks": attacks.preset}


def variance_map_job(paths: list, *, sigma: float, draws: int, images: int | None, seed: int,  # noqa: ANN201
                     data_dir: str | None = None):
    """Variance of every conv/linear output over noisy copies of the same test images, per model (one architecture):
    (labels, per-model layer maps, images used). Maps, not models' objectives: no Record."""
    from ..data import select_images
    from ..evaluate import variance_maps
    from ._load import load_for_eval

    if sigma < 0:
        raise ConfigError(f"--sigma: got {sigma:g}, expected a number >= 0")
    if draws < 2:
        raise ConfigError(f"--draws: got {draws}, expected an integer >= 2 (a variance needs two draws)")
    loaded = [load_for_eval(p, None, data_dir, 0) for p in paths]
    data = loaded[0][2]
    if len(loaded) == 2 and loaded[1][1].dataset != loaded[0][1].dataset:
        raise ConfigError(f"--compare: {paths[1]} is for {loaded[1][1].dataset}, {paths[0]} for {loaded[0][1].dataset}")
    x, _ = select_images(data, images, seed)
    maps = [variance_maps(net, x, sigma, draws, seed) for net, _, _ in loaded]
    labels = [f"model {i + 1}: {m.architecture} {m.variant or ''}".strip() for i, (_, m, _) in enumerate(loaded)]
    if len(maps) == 2 and [lv.layer for lv in maps[0]] != [lv.layer for lv in maps[1]]:
        raise ConfigError("--compare: the models have different layers; variance maps compare models of one architecture")
    return labels, maps, len(x)
