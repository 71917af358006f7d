"""The certify job: certified accuracy (lower bounds of robust accuracy) by randomized smoothing and interval bounds,
beside the attacks' upper bound at the same eps. One Record."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..data import select_images
from ..errors import ConfigError
from ..evaluate import (RobustnessConfig, SmoothingConfig, certify_smoothing, evaluate_objectives, evaluate_robustness,
                        ibp_certified, images_id, predict_logits)
from ..layers import has_gradient_free_layers
from ..records import Record, per_image_accuracy, versions
from ..records.names import certified_name
from .measure import SavedModel


@dataclass(frozen=True, kw_only=True)
class CertifyJob:
    radii: tuple[float, ...] = (0.0, 0.25, 0.5)  # L2 radii of smoothing's certified accuracy
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    eps: float = 0.1  # Linf eps of the interval bounds and of the attacks
    attacks: RobustnessConfig | None = None  # None: no attacks
    images: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.radii or min(self.radii) < 0:
            raise ConfigError(f"--radii: got {min(self.radii, default=float('nan')):g}, expected radii >= 0")
        if not 0.0 <= self.eps <= 1.0:
            raise ConfigError(f"--eps: got {self.eps:g}, expected a number in [0, 1]")


def run_certify(model: SavedModel, job: CertifyJob) -> list[Record]:
    """Accuracy; smoothing's certified accuracy at each radius; IBP's at eps (float models whose layers interval bounds
    know; the details say why it was skipped); the attacks' worst case; clean accuracy on the same images."""
    net, meta, data, variant = model.load()
    x, y = select_images(data, job.images, job.seed)
    objectives = list(evaluate_objectives(net, data, ("accuracy",)))
    sm = certify_smoothing(net, x, y, job.smoothing)
    objectives += [per_image_accuracy(certified_name("smoothing", r), sm.certified(r), sm.images_id) for r in job.radii]
    cfg = job.smoothing
    budgets: dict = {"test_images": len(data.test), "certify_images": len(x), "smoothing_sigma": cfg.sigma,
                     "smoothing_n0": cfg.n0, "smoothing_n": cfg.n, "smoothing_alpha": cfg.alpha,
                     "smoothing_seed": cfg.seed, "smoothing_abstentions": sm.abstentions}
    details: dict = {"clean_accuracy_on_images": float((predict_logits(net, x).argmax(1) == y).double().mean())}
    if has_gradient_free_layers(net):
        details["ibp_skipped"] = "interval bounds need the float model (quantized or approximate layers have none)"
    else:
        try:
            objectives.append(per_image_accuracy(certified_name("ibp", job.eps), ibp_certified(net, x, y, job.eps),
                                                 images_id(x, y)))
        except ConfigError as e:  # a module interval bounds do not know (a user's residual block): said, not fatal
            details["ibp_skipped"] = str(e)
    if job.attacks is not None:
        r = evaluate_robustness(net, x, y, job.attacks)
        objectives.append(r.objective())
        budgets.update(r.budgets())
    return [Record(meta.architecture, data.name, meta.seed, tuple(objectives), variant=str(variant), budgets=budgets,
                   versions=versions(), details=details)]
