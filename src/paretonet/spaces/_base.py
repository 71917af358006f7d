"""What every search space provides, the space registry, and the Architecture key."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .._registry import Registry
from ..errors import ArchitectureError
from ..layers import LayerShape, Normalize



class SearchSpace(ABC):
    """A family of architectures with a canonical string form for each genotype.

    Subclasses define `name` and `named` (well-known members, e.g. "lenet5").
    """

    name: str
    named: dict[str, str]

    @abstractmethod
    def parse(self, text: str) -> Any:
        """Genotype from its canonical string (without the 'space:' prefix) or another accepted form."""

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Any:
        """One random genotype."""

    @abstractmethod
    def mutate(self, genotype: Any, rng: np.random.Generator) -> Any:
        """A different genotype one small step away."""

    @abstractmethod
    def build(self, genotype: Any, input_shape: tuple[int, int, int], n_classes: int) -> nn.Module:
        """An untrained nn.Module (without input normalization) for this input shape and class count."""

    def fits(self, genotype: Any, input_shape: tuple[int, int, int]) -> bool:
        """Whether the genotype can be built for this input shape (spaces with spatial limits override)."""
        return True

    def genotype_of(self, model: nn.Module, genotype: Any) -> Any:
        """The genotype whose network has `model`'s layer widths (a channel-pruned model of this space).

        Spaces whose genotypes do not fix their widths cannot express a pruned model and say so."""
        raise ArchitectureError(f"channel pruning keeps a loadable genotype only for spaces that encode widths "
                                f"(lenet), not {self.name}")

    def layer_shapes(self, genotype: Any, input_shape: tuple[int, int, int], n_classes: int) -> list[LayerShape]:
        """The costed layers of the genotype's network without building it (spaces that can compute them)."""
        raise ArchitectureError(f"search space {self.name} computes no layer shapes analytically; build the model")

    def cost_groups(self, genotype: Any, input_shape: tuple[int, int, int],
                    n_classes: int) -> tuple[tuple[int, tuple[LayerShape, ...]], ...]:
        """layer_shapes as (multiplicity, layers) groups whose cost can be cached; one group by default."""
        return ((1, tuple(self.layer_shapes(genotype, input_shape, n_classes))),)

    def encode(self, genotype: Any) -> tuple[list[str], list[float]]:
        """Numeric features of a genotype for the predictor: (names, values), the same names for every genotype."""
        raise ArchitectureError(f"search space {self.name} has no feature encoding for the predictor")

    def canonical(self, genotype: Any) -> str:
        """A name shared by exactly the genotypes whose networks compute the same function (isomorphic cells):
        they differ only by training noise. The genotype itself where the space knows no such equivalence."""
        return str(genotype)

    def device_encoding(self, genotype: Any) -> tuple[list[str], list[float]]:
        """Features of a genotype for device models (hw._device's "encoding" candidate): the predictor's encoding
        unless the space knows more about what a runtime does with the graph."""
        return self.encode(genotype)

    def search_params(self) -> dict[str, tuple]:
        """The genotype as fixed categorical parameters (name -> choices), for samplers such as Optuna's."""
        raise ArchitectureError(f"search space {self.name} has no parameters for a sampler")

    def from_params(self, params: dict[str, Any]) -> Any:
        """The genotype these parameters (one value per search_params name) describe."""
        raise ArchitectureError(f"search space {self.name} has no parameters for a sampler")

    def params_of(self, genotype: Any) -> dict[str, Any]:
        """The parameters of a genotype (the inverse of from_params), where they are unique."""
        raise ArchitectureError(f"search space {self.name} does not map genotypes back to sampler parameters")

    def resolve(self, text: str) -> Any:
        """Genotype from a named member, a canonical string, or the string with this space's prefix."""
        text = text.strip()
        if text.startswith(self.name + ":"):
            text = text[len(self.name) + 1 :]
        return self.parse(self.named.get(text, text))


SPACES: Registry[SearchSpace] = Registry("search space")


@dataclass(frozen=True)
class Architecture:
    """The key of every table: a space name plus the genotype's canonical string."""

    space: str
    genotype: str

    def __str__(self) -> str:
        return f"{self.space}:{self.genotype}"

    @property
    def search_space(self) -> SearchSpace:
        return SPACES.get(self.space)

    def decode(self) -> Any:
        return self.search_space.parse(self.genotype)

    @classmethod
    def of(cls, space: str, genotype: Any) -> "Architecture":
        return cls(space, str(genotype))

    @classmethod
    def parse(cls, text: str, space: str | None = None) -> "Architecture":
        """'lenet:...', 'nb201:|...|', or a named member / bare string together with `space`."""
        text = text.strip()
        if space is None:
            prefix, sep, _ = text.partition(":")
            if sep and prefix.isidentifier():
                SPACES.get(prefix)  # an unknown space raises, listing the known ones
            if not sep or prefix not in SPACES:
                raise ArchitectureError(
                    f"architecture {text!r}: expected '<space>:<genotype>' with space in {', '.join(SPACES.names())}, "
                    "or pass the space separately"
                )
            space = prefix
        genotype = SPACES.get(space).resolve(text)
        return cls.of(space, genotype)

    def of_model(self, model: nn.Module) -> "Architecture":
        """The architecture of `model`, a (channel-pruned) network of this architecture's space."""
        return Architecture.of(self.space, self.search_space.genotype_of(model, self.decode()))

    def encode(self) -> tuple[list[str], list[float]]:
        return self.search_space.encode(self.decode())

    def device_encoding(self) -> tuple[list[str], list[float]]:
        return self.search_space.device_encoding(self.decode())

    def canonical(self) -> str:
        return f"{self.space}:{self.search_space.canonical(self.decode())}"

    def build(self, input_shape: tuple[int, int, int], n_classes: int,
              mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> nn.Module:
        return build_model(self, input_shape, n_classes, mean=mean, std=std)


def build_model(
    arch: Architecture,
    input_shape: tuple[int, int, int],
    n_classes: int,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    seed: int | None = None,
) -> nn.Sequential:
    """Normalize + the space's network. With a seed, the weights are initialized from it alone.

    The seed is applied in a forked RNG so the caller's global RNG state is untouched.
    """
    c = input_shape[0]
    mean = [0.0] * c if mean is None else list(mean)
    std = [1.0] * c if std is None else list(std)
    if len(mean) != c or len(std) != c:
        raise ArchitectureError(f"mean/std have {len(mean)}/{len(std)} channels, input shape {input_shape} has {c}")
    space = arch.search_space
    genotype = arch.decode()
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        net = space.build(genotype, tuple(input_shape), n_classes)
    return nn.Sequential(Normalize(mean, std), net)
