"""Latency measured on this machine's CPU with torch.utils.benchmark: for users who deploy on a CPU,
and as calibration data for device models (hw.fit_device)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import check_float, check_int
from ..layers import eval_mode


@dataclass(frozen=True)
class CpuLatency:
    median_ms: float  # per forward pass of `batch` images
    iqr_ms: float  # spread of the timed blocks
    runs: int  # forward passes timed
    batch: int
    threads: int
    cpu_capability: str


def measure_cpu_latency(model: nn.Module, input_shape: tuple[int, int, int], *, batch: int = 1,
                        min_run_time_s: float = 0.2) -> CpuLatency:
    """Median latency of one inference (eval mode, no autograd) over blocks timed until `min_run_time_s`
    has passed, at the thread count the user set for PyTorch (recorded with the CPU capability)."""
    from torch.utils import benchmark

    check_int("batch", batch, minimum=1)
    check_float("min_run_time_s", min_run_time_s, minimum=0.0)
    x = torch.zeros(batch, *input_shape)
    threads = torch.get_num_threads()
    with eval_mode(model), torch.no_grad():
        model(x)  # warm-up: lazy initialization, allocator
        m = benchmark.Timer("model(x)", globals={"model": model, "x": x}, num_threads=threads).blocked_autorange(
            min_run_time=min_run_time_s)
    return CpuLatency(m.median * 1e3, m.iqr * 1e3, int(m.number_per_run * len(m.times)), batch, threads,
                      torch.backends.cpu.get_cpu_capability())
