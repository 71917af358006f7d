"""Build a benchmark of our own: sample, train, evaluate, score proxies; resumable and parallel.

The store is one SQLite file; each finished architecture is one committed row (primary key the
architecture string), written by the parent process as workers finish. A build killed at any
moment keeps every committed row; the next run skips them, so it ends with exactly n rows and
no duplicate. Architectures are drawn deterministically from (space, seed), so a restarted
build asks for the same ones.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import sqlite3
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError, check_choice, check_float, check_int
from ._table import Bench

ProgressFn = Callable[[int, int, str], None]  # (rows done, rows wanted, architecture)


@dataclass(frozen=True)
class BuildConfig:
    space: str = "lenet"
    dataset: str = "digits"
    n: int = 500
    seed: int = 0
    epochs: int = 8
    eps: float = 0.1
    preset: str = "fast"
    robust_images: int = 200
    proxies: tuple[str, ...] = ()  # empty: every registered proxy
    proxy_seeds: int = 2
    workers: int = 2
    data_dir: str | None = None

    def __post_init__(self) -> None:
        from ..evaluate._robustness import PRESETS

        check_int("n", self.n, minimum=1)
        check_int("epochs", self.epochs, minimum=1)
        check_float("eps", self.eps, minimum=0.0, maximum=1.0)
        check_choice("preset", self.preset, tuple(PRESETS))
        check_int("workers", self.workers, minimum=1)
        check_int("robust_images", self.robust_images, minimum=1)
        check_int("proxy_seeds", self.proxy_seeds, minimum=1)


def plan_architectures(cfg: BuildConfig, input_shape: tuple[int, int, int]) -> list[str]:
    """n distinct architectures, the same for the same (space, seed, n)."""
    from ..spaces import sample_architecture

    out: list[str] = []
    seen: set[str] = set()
    i = 0
    while len(out) < cfg.n:
        a = str(sample_architecture(cfg.space, cfg.seed * 1_000_003 + i, input_shape))
        i += 1
        if a not in seen:
            seen.add(a)
            out.append(a)
        if i > 50 * cfg.n + 1000:
            raise ConfigError(f"n: space {cfg.space!r} gave only {len(out)} distinct architectures, asked for {cfg.n}")
    return out


@lru_cache(maxsize=2)
def _dataset(name: str, root: str | None):  # noqa: ANN202
    """Loaded once per worker process, not once per architecture."""
    from ..data import DataConfig, load_dataset

    return load_dataset(DataConfig(name, root=root, seed=0))


def evaluate_architecture(arch: str, cfg: BuildConfig) -> dict[str, float]:
    """Every column of one row: clean, per-attack and worst-case robust accuracy, costs, proxies."""
    import torch

    from ..evaluate import RobustnessConfig, evaluate_robustness
    from ..evaluate._robustness import PRESETS
    from ..hw import count_params, model_energy, size_bytes
    from ..pipeline import train_architecture
    from ..proxies import ALL_PROXIES, compute_proxies
    from ..train import TrainConfig

    torch.set_num_threads(1)
    data = _dataset(cfg.dataset, cfg.data_dir)
    t = train_architecture(arch, data, TrainConfig(epochs=cfg.epochs, seed=cfg.seed))
    model = t.model.eval()
    n = min(cfg.robust_images, len(data.test))
    x, y = data.test.x[:n], data.test.y[:n]
    base = RobustnessConfig(eps=cfg.eps, preset=cfg.preset, seed=cfg.seed, sanity=False)
    row = {"clean": t.record.objectives[0].value}
    robust_to_all = np.ones(n, dtype=bool)
    for attack in PRESETS[cfg.preset]:  # each attack alone on every image; the worst case is their intersection
        r = evaluate_robustness(model, x, y, replace(base, attacks=(attack,)))
        row[attack] = r.robust_accuracy
        robust_to_all &= np.array([b == "" for b in r.broken_by])
    row["worst"] = float(robust_to_all.mean())
    row["params"] = float(count_params(model))
    row["size_bytes"] = float(size_bytes(model))
    row["energy_pj"] = model_energy(model, data.input_shape).total_pj
    names = cfg.proxies or ALL_PROXIES
    for k, v in compute_proxies(arch, data, names, seeds=range(cfg.proxy_seeds)).items():
        row[f"proxy_{k}"] = v
    return row


class BenchStore:
    """SQLite rows: architecture (primary key), JSON columns; the build config is stored once."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path)
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self.db.execute("CREATE TABLE IF NOT EXISTS rows (architecture TEXT PRIMARY KEY, idx INTEGER, columns TEXT)")
        self.db.commit()

    def check_config(self, cfg: BuildConfig) -> None:
        want = {k: v for k, v in asdict(cfg).items() if k not in ("n", "workers")}
        got = self.db.execute("SELECT value FROM meta WHERE key='config'").fetchone()
        if got is None:
            self.db.execute("INSERT INTO meta VALUES ('config', ?)", (json.dumps(want),))
            self.db.commit()
        elif json.loads(got[0]) != json.loads(json.dumps(want)):
            raise ConfigError(f"store {str(self.path)!r} was built with another configuration: {got[0]}")

    def done(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT architecture FROM rows")}

    def add(self, arch: str, idx: int, columns: dict[str, float]) -> None:
        clean = {k: (None if not math.isfinite(v) else v) for k, v in columns.items()}
        self.db.execute("INSERT OR IGNORE INTO rows VALUES (?, ?, ?)", (arch, idx, json.dumps(clean)))
        self.db.commit()

    def bench(self, space: str) -> Bench:
        rows = self.db.execute("SELECT architecture, columns FROM rows ORDER BY idx").fetchall()
        if not rows:
            raise DataError(f"store {str(self.path)!r} has no rows yet")
        dicts = [json.loads(c) for _, c in rows]
        names = sorted({k for d in dicts for k in d})
        cols = {k: np.array([np.nan if d.get(k) is None else d[k] for d in dicts], dtype=float) for k in names}
        return Bench(self.path.stem, space, tuple(a for a, _ in rows), cols)

    def close(self) -> None:
        self.db.close()


def build_bench(store_path: str | Path, cfg: BuildConfig, progress: ProgressFn | None = None) -> Bench:
    """Fill the store up to cfg.n rows (resuming), in cfg.workers processes; returns the table."""
    from ..proxies import check_proxies

    if cfg.proxies:
        check_proxies(cfg.proxies)
    data = _dataset(cfg.dataset, cfg.data_dir)
    archs = plan_architectures(cfg, tuple(data.input_shape))
    store = BenchStore(store_path)
    try:
        store.check_config(cfg)
        done = store.done()
        todo = [(i, a) for i, a in enumerate(archs) if a not in done]
        finished = len(archs) - len(todo)
        if todo:
            # spawn, not fork: the parent has already started torch's thread pools
            with ProcessPoolExecutor(max_workers=cfg.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = {pool.submit(evaluate_architecture, a, cfg): (i, a) for i, a in todo}
                for f in as_completed(futures):
                    i, a = futures[f]
                    store.add(a, i, f.result())
                    finished += 1
                    if progress:
                        progress(finished, len(archs), a)
        return store.bench(cfg.space)
    finally:
        store.close()
