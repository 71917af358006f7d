"""Bit-flip faults (memories and datapaths) and the protection of chosen neurons, injected into the
compute layers with hooks.

Faults flip bits in the stored words: two's complement for signed integer codes, the IEEE pattern
for float32 (a float model is faulted as it is stored: an exponent flip is what makes float weights
fragile).
- weights: the stored words are corrupted once (a trial): `draw_weight_faults` picks the flipped
  bits; `faulty` installs them (a wrapper's `code_fault`, a float layer's weights in place).
- activations: the words a layer reads, each bit flipped with probability `rate` on every pass.

Protection of chosen output channels (neurons): "tmr" keeps three copies of their weights, computes
the channel three times and takes the median; "split" keeps two half-neurons (the same codes at half
the scale) whose outputs add. Each copy's stored codes take their own faults.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, check_float, check_int
from ..records.names import DEFAULT_HARDWARE
from ._compute import compute_layers, resolve_layers, select_layers, wrapped_layer
from ._quantize import LayerWrapper

FAULT_TARGETS = ("weights", "activations", "both")
PROTECTIONS = ("tmr", "split")
EXTRA_COPIES = {"tmr": 2, "split": 1}  # stored copies of a protected neuron beyond the original


@dataclass(frozen=True)
class FaultModel:
    """Bit flips; label 'weights:0.0001', 'weights:n=10:bits=7', 'activations:1e-05', 'both:...'."""

    target: str = "weights"
    rate: float = 0.0  # probability that one stored bit flips
    count: int | None = None  # a fixed number of flipped weight bits instead of a rate
    bits: tuple[int, ...] = ()  # bit positions that may flip (0 = least significant); empty: any
    layers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.target not in FAULT_TARGETS:
            raise ConfigError(f"faults: target {self.target!r}, expected one of {', '.join(FAULT_TARGETS)}")
        check_float("fault rate", self.rate, minimum=0.0, maximum=1.0)
        if self.count is not None:
            check_int("fault count", self.count, minimum=0)
            if self.target != "weights":
                raise ConfigError(f"faults: a fixed count of flips applies to stored weights, not to {self.target}; "
                                  "give activations a rate")
            if self.rate:
                raise ConfigError("faults: give a rate or a count of flips, not both")
        for b in self.bits:
            check_int("bit position", b, minimum=0, maximum=31)

    @property
    def is_zero(self) -> bool:
        return self.count == 0 or (self.count is None and self.rate == 0)

    @property
    def label(self) -> str:
        text = f"{self.target}:{f'n={self.count}' if self.count is not None else f'{self.rate:g}'}"
        text += f":bits={'+'.join(map(str, self.bits))}" if self.bits else ""
        return text + (f"@{'+'.join(self.layers)}" if self.layers else "")

    @classmethod
    def parse(cls, text: str) -> "FaultModel":
        body, _, layers = text.partition("@")
        target, _, rest = body.partition(":")
        how, _, bits = rest.partition(":bits=")
        try:
            kwargs: dict = {"count": int(how[2:])} if how.startswith("n=") else {"rate": float(how)}
            positions = tuple(int(b) for b in bits.split("+") if b)
        except ValueError:
            raise ConfigError(f"faults: got {text!r}, expected <weights|activations|both>:<rate or n=count>"
                              "[:bits=7+6][@layer+layer]") from None
        return cls(target, bits=positions, layers=tuple(n for n in layers.split("+") if n), **kwargs)


@dataclass(frozen=True)
class CodeFormat:
    width: int
    signed: bool
    is_float: bool = False  # IEEE float32: the bits of the value itself (bit 31 sign, 30-23 exponent)


FLOAT32_CODES = CodeFormat(32, True, is_float=True)


def weight_format(m: nn.Module) -> CodeFormat:
    """How the layer stores its weights: integer codes of a width, or float32."""
    return CodeFormat(*m.weight_format()) if isinstance(m, LayerWrapper) else FLOAT32_CODES


def _input_format(m: nn.Module) -> tuple[CodeFormat, float, int]:
    """Code format, scale and zero point of the activations `m` reads."""
    if not isinstance(m, LayerWrapper):
        return FLOAT32_CODES, 1.0, 0
    width, signed, scale, zero = m.input_format()
    return CodeFormat(width, signed), scale, zero


def flip_bits(codes: torch.Tensor, masks: torch.Tensor, fmt: CodeFormat) -> torch.Tensor:
    """Codes (integers held in float) with the bits set in `masks` flipped; signed codes are two's complement.
    Float32 values flip the bits of their IEEE pattern."""
    if fmt.is_float:
        pattern = codes.to(torch.float32).view(torch.int32).to(torch.int64)
        return flip_bits(pattern, masks, CodeFormat(32, True)).to(torch.int32).view(torch.float32).to(codes.dtype)
    c = codes.to(torch.int64)
    if fmt.signed and fmt.width == 1:  # sign codes: the one bit is the sign
        return torch.where(masks != 0, -c, c).to(codes.dtype)
    u = (c & ((1 << fmt.width) - 1)) ^ masks
    if fmt.signed:
        u = torch.where(u >= 1 << (fmt.width - 1), u - (1 << fmt.width), u)
    return u.to(codes.dtype)


@dataclass(frozen=True)
class FaultSite:
    """One flipped bit of a stored weight code; replica > 0 is a protection copy of a protected neuron."""

    layer: str
    index: int  # flat index into the layer's weight
    bit: int
    replica: int = 0


@dataclass(frozen=True)
class Protection:
    """Neurons (output channels) protected per layer, and how."""

    mode: str
    channels: Mapping[str, tuple[int, ...]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.mode not in PROTECTIONS:
            raise ConfigError(f"protect: got {self.mode!r}, expected one of {', '.join(PROTECTIONS)}")

    @property
    def copies(self) -> int:
        return EXTRA_COPIES[self.mode]

    def by_module(self, model: nn.Module) -> dict[str, tuple[int, ...]]:
        """The protected channels keyed by module name (they may be given by readable name)."""
        return dict(zip(resolve_layers(model, list(self.channels), "protect"), self.channels.values()))


def _positions(fault: FaultModel, fmt: CodeFormat, name: str) -> tuple[int, ...]:
    for b in fault.bits:
        if b >= fmt.width:
            raise ConfigError(f"faults: bit position {b} is beyond the {fmt.width}-bit codes of layer {name!r} "
                              f"(positions 0..{fmt.width - 1})")
    return fault.bits or tuple(range(fmt.width))


def draw_weight_faults(model: nn.Module, fault: FaultModel, seed: int,
                       protection: Protection | None = None) -> tuple[FaultSite, ...]:
    """The bits one trial flips: each stored bit (of the allowed positions) with probability `rate`, or
    `count` of them, distinct, uniformly. The protection copies' bits are drawn from a stream of their
    own (at the same rate; count / stored bits in count mode), so a protected model meets exactly the
    faults of the unprotected one, plus those of its copies."""
    if fault.target == "activations" or fault.is_zero:
        return ()
    base, copies = [], []  # blocks: (layer, replica, flat indices, positions)
    protected_channels = protection.by_module(model) if protection else {}
    for name, m in select_layers(model, fault.layers, "fault").items():
        positions = _positions(fault, weight_format(m), name)
        w = wrapped_layer(m).weight
        base.append((name, 0, np.arange(w.numel()), positions))
        protected = protected_channels.get(name, ())
        if protected:
            per_channel = w[0].numel()
            idx = (np.asarray(protected)[:, None] * per_channel + np.arange(per_channel)).ravel()
            copies += [(name, r, idx, positions) for r in range(1, protection.copies + 1)]
    total = sum(len(idx) * len(pos) for _, _, idx, pos in base)
    if fault.count is not None and fault.count > total:
        raise ConfigError(f"faults: {fault.count} flips asked, the faulted layers store only {total} bits")
    rate = fault.rate if fault.count is None else fault.count / max(total, 1)
    sites = _draw(base, fault.count, rate, np.random.default_rng(np.random.SeedSequence([seed, 0xFA17])))
    return sites + _draw(copies, None, rate, np.random.default_rng(np.random.SeedSequence([seed, 0xC0B1])))


def _draw(blocks: list, count: int | None, rate: float, rng: np.random.Generator) -> tuple[FaultSite, ...]:
    sizes = np.array([len(idx) * len(pos) for _, _, idx, pos in blocks], dtype=np.int64)
    total = int(sizes.sum())
    if total == 0:
        return ()
    k = count if count is not None else int(rng.binomial(total, rate))
    chosen = np.sort(rng.choice(total, size=k, replace=False)) if k else np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    sites = []
    for g in chosen:
        b = int(np.searchsorted(starts, g, side="right") - 1)
        name, replica, idx, positions = blocks[b]
        offset = int(g - starts[b])
        sites.append(FaultSite(name, int(idx[offset // len(positions)]), positions[offset % len(positions)], replica))
    return tuple(sites)


def _code_fault(sites: Sequence[FaultSite], fmt: CodeFormat):  # noqa: ANN202
    """codes -> codes with the sites' bits flipped (several flips in one code combine)."""
    masks: dict[int, int] = {}
    for s in sites:
        masks[s.index] = masks.get(s.index, 0) ^ (1 << s.bit)
    index = torch.tensor(list(masks), dtype=torch.int64)
    bits = torch.tensor(list(masks.values()), dtype=torch.int64)

    def apply(codes: torch.Tensor) -> torch.Tensor:
        flat = codes.reshape(-1).clone()
        flat[index] = flip_bits(flat[index], bits, fmt)
        return flat.reshape(codes.shape)

    return apply


def _combine(outs: list[torch.Tensor], channels: torch.Tensor, mode: str) -> torch.Tensor:
    """The protected channels' outputs: the median of three copies, or the sum of two halves."""
    y = outs[0].clone()
    picked = torch.stack([o.index_select(1, channels) for o in outs])
    y[:, channels] = picked.median(0).values if mode == "tmr" else picked.mean(0)  # halves: (y0 + y1) / 2
    return y


class _StoredWeights:
    """One layer's stored weights, faulted by one function at a time: a wrapper's integer codes through its
    `code_fault`, a float layer's float32 values written in place (and restored)."""

    def __init__(self, m: nn.Module) -> None:
        self.m = m
        self.original = None if isinstance(m, LayerWrapper) else m.weight.detach().clone()

    def use(self, fault) -> None:  # noqa: ANN001
        if self.original is None:
            self.m.code_fault = fault
        else:
            with torch.no_grad():
                self.m.weight.copy_(self.original if fault is None else fault(self.original))


def _flip_activations(fault: FaultModel, m: nn.Module, name: str, g: torch.Generator):  # noqa: ANN202
    """A forward pre-hook: the layer's input codes with each allowed bit flipped with probability `rate`."""
    fmt, scale, zero = _input_format(m)
    positions = _positions(fault, fmt, name)
    lo, hi = (-(1 << (fmt.width - 1)), (1 << (fmt.width - 1)) - 1) if fmt.signed else (0, (1 << fmt.width) - 1)

    def hook(module: nn.Module, args: tuple) -> tuple:
        x = args[0]
        masks = torch.zeros(x.shape, dtype=torch.int64)
        for b in positions:
            masks |= (torch.rand(x.shape, generator=g) < fault.rate).to(torch.int64) << b
        if fmt.is_float:
            return flip_bits(x.detach(), masks, fmt), *args[1:]
        codes = (x.detach() * (1.0 / scale)).round().add(zero).clamp(lo, hi)
        return ((flip_bits(codes, masks, fmt) - zero) * scale).to(x.dtype), *args[1:]

    return hook


@contextmanager
def faulty(model: nn.Module, sites: Sequence[FaultSite] = (), activations: FaultModel | None = None,
           seed: int = 0, protection: Protection | None = None) -> Iterator[nn.Module]:
    """Inside the block `model` computes with the weight faults `sites` (and fresh activation faults
    on every forward pass when `activations` has a rate), its protected neurons voted or split."""
    layers = compute_layers(model)
    g = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 0xAC7]).generate_state(1)[0]))
    handles, stored = [], []
    protected = protection.by_module(model) if protection else {}
    names = {s.layer for s in sites} | set(protected)
    try:
        for name in names:
            if name not in layers:
                raise ConfigError(f"faults: unknown layer {name!r}; the model's layers are {', '.join(layers)}")
            m = layers[name]
            fmt = weight_format(m)
            copies = protection.copies if name in protected else 0
            faults = [_code_fault(r, fmt) if r else None
                      for r in ([s for s in sites if s.layer == name and s.replica == r] for r in range(1 + copies))]
            weights = _StoredWeights(m)
            stored.append(weights)
            weights.use(faults[0])
            if copies:
                channels = torch.tensor(protected[name], dtype=torch.int64)

                def vote(module: nn.Module, args: tuple, out: torch.Tensor, faults=faults, channels=channels,
                         weights=weights) -> torch.Tensor:
                    outs = [out]
                    for f in faults[1:]:
                        weights.use(f)
                        outs.append(module.forward(*args))  # forward itself: no hooks run again
                    weights.use(faults[0])
                    return _combine(outs, channels, protection.mode)

                handles.append(m.register_forward_hook(vote))
        if activations is not None and activations.target != "weights" and not activations.is_zero:
            for name, m in select_layers(model, activations.layers, "fault").items():
                handles.append(m.register_forward_pre_hook(_flip_activations(activations, m, name, g)))
        yield model
    finally:
        for h in handles:
            h.remove()
        for weights in stored:
            weights.use(None)


# -- what protection costs ------------------------------------------------------------------------
@dataclass(frozen=True)
class ProtectionCost:
    extra_bytes: float  # stored copies of the protected neurons' weights and biases
    extra_macs: int  # their multiply-accumulates computed again
    extra_energy_pj: float  # the layers' energy per output channel (MACs and data), times the copies


def protection_cost(model: nn.Module, input_shape: tuple[int, int, int], protection: Protection,
                    hw: str = DEFAULT_HARDWARE) -> ProtectionCost:
    """Costs of protection beyond the unprotected model: a protected neuron's weights are stored, and its
    outputs computed, `copies` more times (the voter or the adder of the halves is not counted)."""
    from ._costs import layer_bits, variant_energy

    layers = compute_layers(model)
    bits = layer_bits(model)
    energy = {e.name: e for e in variant_energy(model, input_shape, hw).layers}
    extra_bytes, extra_macs, extra_pj = 0.0, 0, 0.0
    for name, channels in protection.channels.items():
        inner = wrapped_layer(layers[name])
        out_channels = inner.weight.shape[0]
        key = next((k for k in (f"{name}.layer", name) if k in energy), None)
        width = bits[key].weights if key in bits else 32
        per_channel_bytes = inner.weight[0].numel() * width / 8 + (4 if inner.bias is not None else 0)
        n = len(channels) * protection.copies
        extra_bytes += n * per_channel_bytes
        if key is not None:
            extra_macs += n * energy[key].macs // out_channels
            extra_pj += n * energy[key].total_pj / out_channels
    return ProtectionCost(extra_bytes, extra_macs, extra_pj)
