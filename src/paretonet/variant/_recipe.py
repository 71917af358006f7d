"""A variant: the recipe that turns a trained model into another one (bits, pruning, multipliers), and
the training recipe every training step of it used (recipe=adversarial/eps=0.1/steps=7; none: standard).

Its canonical string is the only way a variant is written ('' is the float model, trained the standard way):
'bits=4,act_bits=4,per_tensor,qat=2,prune=0.5,prune_scope=layer,channels=0.5,finetune=2' or
'multiplier=mul8u_L40,exact_layers=1.1+1.4,retrain=2' or 'multipliers=1.1@mul8u_L40+1.4@drum:k=4'
(only non-default fields, in field order). Variant.parse reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from ..errors import ConfigError, check_choice, check_float, check_int
from ..hw import CALIBRATION_IMAGES  # noqa: F401  (re-exported: the variant package's calibration budget)
from ..train import Recipe



@dataclass(frozen=True)
class Variant:
    recipe: str = ""  # training recipe (train.Recipe's string) of the model and of any fine-tuning below
    bits: int | None = None  # weight bits of every conv/linear layer; None: float
    act_bits: int | None = None  # None: same as bits
    per_tensor: bool = False  # weights per tensor instead of per output channel
    qat: int = 0  # quantization-aware training epochs (straight-through estimator)
    prune: float = 0.0  # unstructured magnitude pruning ratio
    prune_scope: str = "global"
    channels: float = 0.0  # channel pruning ratio (filters removed)
    finetune: int = 0  # epochs of fine-tuning after pruning
    multiplier: str | None = None  # approximate 8x8 multiplier (name, design spec or .bin) in conv/linear layers
    approx_layers: tuple[str, ...] = ()  # layers that get the multiplier (empty: all but exact and float layers)
    exact_layers: tuple[str, ...] = ()  # layers in exact 8-bit (the exact table); also every layer not named
    multipliers: tuple[str, ...] = ()  # per-layer assignment 'layer@spec' (mixed multipliers; others exact 8-bit)
    float_layers: tuple[str, ...] = ()  # layers left float
    retrain: int = 0  # straight-through retraining epochs of the approximate model

    def __post_init__(self) -> None:
        recipe = Recipe.parse(self.recipe) if self.recipe else Recipe()
        object.__setattr__(self, "recipe", "" if recipe.is_standard else str(recipe))  # canonical
        if recipe.name == "qat" and replace(self, recipe="") != Variant():
            raise ConfigError(f"recipe: {self.recipe} trains the model quantized with constant scales; it takes no "
                              "further bits, pruning or multipliers")
        if self.bits is not None:
            check_int("bits", self.bits, minimum=1, maximum=16)
        if self.act_bits is not None:
            check_int("act_bits", self.act_bits, minimum=1, maximum=16)
            if self.bits is None:
                raise ConfigError("act_bits: quantized activations need --bits for the weights too")
        check_int("qat", self.qat, minimum=0)
        if self.qat and self.bits is None:
            raise ConfigError("qat: quantization-aware training needs --bits")
        check_float("prune", self.prune, minimum=0.0, maximum=1.0, max_inclusive=False)
        check_choice("prune_scope", self.prune_scope, ("global", "layer"))
        check_float("channels", self.channels, minimum=0.0, maximum=1.0, max_inclusive=False)
        check_int("finetune", self.finetune, minimum=0)
        check_int("retrain", self.retrain, minimum=0)
        approx = self.multiplier is not None or bool(self.multipliers)
        if self.multiplier is not None and self.multipliers:
            raise ConfigError("multipliers: give one multiplier for all layers or a per-layer assignment, not both")
        if self.multipliers and (self.approx_layers or self.exact_layers):
            raise ConfigError("multipliers: a per-layer assignment names its layers (the others are exact 8-bit); "
                              "drop --layers/--exact-layers")
        for item in self.multipliers:
            layer, at, spec = item.partition("@")
            if not (layer and at and spec):
                raise ConfigError(f"multipliers: got {item!r}, expected 'layer@multiplier' such as '1.1@mul8u_L40'")
        if not approx and (self.approx_layers or self.exact_layers or self.float_layers or self.retrain):
            raise ConfigError("multiplier: --layers, --exact-layers, --float-layers and --retrain need a multiplier")
        for a, b, what in ((self.approx_layers, self.exact_layers, "approximate and exact"),
                           (self.approx_layers, self.float_layers, "approximate and float"),
                           (self.exact_layers, self.float_layers, "exact and float"),
                           (tuple(self.assignment), self.float_layers, "approximate and float")):
            clash = sorted(set(a) & set(b))
            if clash:
                raise ConfigError(f"layers: {', '.join(clash)} cannot be both {what}")
        if approx and self.bits is not None:
            raise ConfigError("multiplier: approximate layers are 8-bit by construction; drop --bits")

    @property
    def is_float(self) -> bool:
        return self == Variant()

    @property
    def is_base(self) -> bool:
        """The model as trained (with its recipe): nothing was done to it after training."""
        return replace(self, recipe="") == Variant()

    @property
    def training_recipe(self) -> Recipe:
        return Recipe.parse(self.recipe) if self.recipe else Recipe()

    @property
    def assignment(self) -> dict[str, str]:
        """Per-layer multiplier specs of a mixed assignment (empty for one multiplier or none)."""
        return dict(item.partition("@")[::2] for item in self.multipliers)

    def __str__(self) -> str:
        parts = []
        for f in fields(self):
            v = getattr(self, f.name)
            if v == f.default:
                continue
            if isinstance(v, tuple):
                v = "+".join(v)
            parts.append(f.name if v is True else f"{f.name}={v:g}" if isinstance(v, float) else f"{f.name}={v}")
        return ",".join(parts)

    @classmethod
    def parse(cls, text: str) -> "Variant":
        """The inverse of str(); a design spec may itself hold commas ('bam:h=2,v=3')."""
        names = {f.name: f for f in fields(cls)}
        items: list[list[str]] = []
        for token in (t for t in text.split(",") if t):
            key = token.partition("=")[0]
            if key in names:
                items.append([key, token.partition("=")[2] if "=" in token else ""])
            elif items and items[-1][0] in ("multiplier", "multipliers"):
                items[-1][1] += "," + token
            else:
                raise ConfigError(f"variant: got {text!r}; {token!r} is not one of {', '.join(names)}")
        kwargs: dict[str, object] = {}
        for key, value in items:
            kind = str(names[key].type)
            try:
                if key == "per_tensor":
                    kwargs[key] = True
                elif "tuple" in kind:
                    kwargs[key] = tuple(value.split("+"))
                elif "int" in kind:
                    kwargs[key] = int(value)
                elif "float" in kind:
                    kwargs[key] = float(value)
                else:
                    kwargs[key] = value
            except ValueError:
                raise ConfigError(f"variant: got {text!r}; {key}={value!r} is not a {kind}") from None
        return cls(**kwargs)  # type: ignore[arg-type]
