"""The measure jobs: accuracy, size, MACs, energy and latency of a saved model; parameters and MACs of the members of
a space; a fitted device model's cost of architectures. One Record per model measured."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from torch import nn

from ..data import Dataset

from ..errors import ConfigError, check_int
from ..evaluate import (BASIC_OBJECTIVES, energy_name, energy_objective, energy_parts, evaluate_objectives,
                        priced_objectives)
from ..hw import DATAFLOWS, DEFAULT_HARDWARE, count_macs, count_params, layer_names, profile_layers, variant_energy
from ..hw import hardware as get_hardware
from ..records import Objective, Record, versions
from ..records.names import ObjectiveName
from ..spaces import Architecture, build_model
from ._load import load_quantized


@dataclass(frozen=True, kw_only=True)
class SavedModel:
    """Which saved model a job measures, on which data, and the bit width a float model is quantized to first."""

    path: Path
    bits: int | None = None
    dataset: str | None = None  # default: the model's own
    data_dir: str | None = None
    split_seed: int = 0

    def load(self):  # noqa: ANN201
        return load_quantized(self.path, self.bits, self.dataset, self.data_dir, self.split_seed)


@dataclass(frozen=True, kw_only=True)
class MeasureConfig:
    latency: bool = False  # also latency_ms@cpu, measured on this machine
    seed: int = 0


def run_measure(model: SavedModel, config: MeasureConfig = MeasureConfig()) -> list[Record]:
    """The basic objectives of the model as it is (any variant; quantized first with `bits`). MACs and energy of a
    model with an operation the cost models cannot price are absent, and the Record's details say why."""
    net, meta, data, variant = model.load()
    objectives, unpriced = priced_objectives(net, data, BASIC_OBJECTIVES)
    if config.latency:
        objectives += evaluate_objectives(net, data, ("latency_ms@cpu",))
    return [Record(meta.architecture, data.name, meta.seed, objectives, variant=str(variant),
                   budgets={"test_images": len(data.test), "split_seed": model.split_seed, "eval_seed": config.seed},
                   versions=versions(), details={"unpriced": unpriced} if unpriced else {})]


def measure_names(model: nn.Module, dataset: Dataset, names: Sequence[str]) -> list[Objective]:
    """The named objectives of `model` as it is: the registry's, accuracy under noise, faults and certificates by any
    name of their grammar, and energy (or a part of it) on any hardware preset and dataflow."""
    out = []
    for name in names:
        n = ObjectiveName.parse(name)
        if n.energy_part is not None and n.method:
            out.append(energy_objective(model, dataset.input_shape, n.method, n.setting, n.energy_part))
        else:
            out.append(evaluate_objectives(model, dataset, (name,))[0])
    return out


@dataclass(frozen=True, kw_only=True)
class EnergyConfig:
    hardware: str = DEFAULT_HARDWARE  # a preset or a JSON/YAML file
    dataflow: str = "all"  # one of DATAFLOWS, or all of them
    zigzag: str | None = None  # also ZigZag with this shipped accelerator (extra 'zigzag')


def run_energy(model: SavedModel, config: EnergyConfig = EnergyConfig()) -> list[Record]:
    """Energy per image of the model as it is (its bit widths, zeros and multipliers) under each dataflow, every part
    an objective; the per-layer estimates (and ZigZag's, when asked) in the details."""
    from ..hw import match_layers, zigzag_energy

    hw = get_hardware(config.hardware)
    if config.dataflow != "all" and config.dataflow not in DATAFLOWS:
        raise ConfigError(f"--dataflow: got {config.dataflow!r}, expected one of {', '.join(DATAFLOWS)}, all")
    flows = DATAFLOWS if config.dataflow == "all" else (config.dataflow,)
    net, meta, data, variant = model.load()
    estimates = [variant_energy(net, meta.input_shape, hw, f) for f in flows]
    zz = zigzag_energy(net, meta.input_shape, config.zigzag) if config.zigzag is not None else None
    objectives = tuple(Objective(energy_name(hw, e.dataflow, part), value, hw.unit, "min") for e in estimates
                       for part, value in energy_parts(e).items())
    return [Record(meta.architecture, data.name, meta.seed, objectives, variant=str(variant),
                   budgets={"hardware": hw.to_dict()}, versions=versions(),
                   details={"zigzag": None if zz is None else {
                                **asdict(zz), "rows": [list(r) for r in match_layers(estimates[0].layers, zz)]},
                            "estimates": [{"dataflow": e.dataflow, "unit": e.unit, "mac_pj": e.mac_pj,
                                           "mult_pj": e.mult_pj, "op_pj": e.op_pj, "data_pj": e.data_pj,
                                           "total_pj": e.total_pj, "data_fraction": e.data_fraction,
                                           "by_level_pj": e.by_level(), "layers": [asdict(x) for x in e.layers]}
                                          for e in estimates]})]


def space_members(archs: list[Architecture], input_shape: tuple[int, int, int], classes: int) -> list[Record]:
    """Parameters and MACs of untrained members of a space built for an input shape and class count (no dataset);
    the conv and linear layers (readable names, module names, shapes, counts) in the details."""
    check_int("classes", classes, minimum=2)  # a classifier of one class is not one
    records = []
    for a in archs:
        model = build_model(a, input_shape, classes)
        readable = layer_names(model)
        layers = [{"name": readable[p.name], "module": p.name, "kind": p.kind, "out_shape": list(p.out_shape),
                   "params": p.params, "macs": p.macs}
                  for p in profile_layers(model, input_shape) if p.kind in ("conv", "linear")]
        objectives = (Objective("params", float(count_params(model)), "count", "min"),
                      Objective("macs", float(count_macs(model, input_shape).total_macs), "MACs", "min"))
        records.append(Record(str(a), "", 0, objectives, budgets={"input_shape": list(input_shape), "n_classes": classes},
                              versions=versions(), details={"layers": layers}))
    return records


def device_predictions(device_file: Path, architectures: list[str]) -> list[Record]:
    """A fitted device model's cost of each architecture (one Record each; no dataset: the model prices the network)."""
    from ..analytic import device_costs, parse_architecture
    from ..hw import DeviceModel

    fitted = DeviceModel.load(device_file)
    archs = [parse_architecture(a) for a in architectures]
    return [Record(a, "", 0, (Objective(fitted.objective, float(v), fitted.unit, "min"),),
                   budgets={"device_model": str(device_file), "fitted_on": fitted.data},
                   versions=versions(), details={"model": fitted.model, "input_shape": list(fitted.input_shape),
                                                 "fitted_model": {"quantity": fitted.quantity, "unit": fitted.unit,
                                                                  "objective": fitted.objective}})
            for a, v in zip(archs, device_costs(fitted, archs))]


def cpu_latencies(space: str, n: int, input_shape: tuple[int, int, int], classes: int, min_run_time_s: float,
                  seed: int, on_network=None):  # noqa: ANN001, ANN201
    """latency_ms@cpu of `n` seeded samples of a space on this machine: [(architecture, median ms)] and the first
    measurement (its thread count and CPU capability); calibration data for a device model."""
    from ..hw import measure_cpu_latency
    from ..spaces import sample_architecture

    if n < 1:
        raise ConfigError(f"--n: got {n}, expected at least 1")
    rows, first = [], None
    for i in range(n):
        arch = sample_architecture(space, seed + i, input_shape)
        lat = measure_cpu_latency(arch.build(input_shape, classes), input_shape, min_run_time_s=min_run_time_s)
        first = first or lat
        rows.append((str(arch), lat.median_ms))
        if on_network is not None:
            on_network(i, lat.median_ms, str(arch))
    return rows, first
