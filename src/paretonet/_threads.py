"""Threads: one setting the user controls decides, and a busy machine does not turn threads into a cliff.

The setting is PyTorch's thread count (`OMP_NUM_THREADS` or `torch.set_num_threads`); XGBoost and the
approximate-multiplier kernels take theirs from it. On a shared machine two costs of threads appear
(measured in benchmarks/load.py, explained in docs/performance.md):
- OpenMP's idle threads spin for a while before they sleep (libgomp: 300,000 spins, milliseconds), and
  every small operation of a small network ends at a barrier; when other processes hold the cores, the
  spinning steals their time slices and the barrier waits for a descheduled sibling. A short spin (about
  a tenth of a millisecond) keeps the quiet speed and removes the cliff: `limit_openmp_spinning()`, which
  the CLI calls before torch is imported, sets it unless the user chose a wait policy or spin count.
- Many small fits (XGBoost trees on a few hundred rows) split over threads wait at every tree level;
  `run_independent` runs them side by side instead, one thread each.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
SPIN_COUNT = 10_000  # libgomp busy-wait iterations before a thread sleeps (its default is 300,000)


def limit_openmp_spinning() -> None:
    """Shorten OpenMP's busy wait, unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT. It only takes effect
    before the OpenMP runtime loads (before torch or xgboost are imported)."""
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", str(SPIN_COUNT))


def user_threads() -> int:
    """The thread count the user set for PyTorch (OMP_NUM_THREADS / torch.set_num_threads)."""
    import torch

    return torch.get_num_threads()


def run_independent(jobs: Sequence[Callable[[], T]], threads: int | None = None) -> list[T]:
    """Results of independent jobs (each using one thread) run on `threads` worker threads (default: the user's
    thread count), in order. Jobs side by side have no barrier between them: on a busy machine a descheduled
    worker delays only its own job. For jobs that release the GIL (XGBoost's training does)."""
    threads = user_threads() if threads is None else threads
    if threads <= 1 or len(jobs) <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=min(threads, len(jobs))) as pool:
        return list(pool.map(lambda job: job(), jobs))
