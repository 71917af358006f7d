"""Build a benchmark of our own: sample, train, evaluate, score proxies; resumable and parallel.

The store is one SQLite file; each finished architecture is one committed row (primary key the
architecture string) holding its Record, written by the parent process as workers finish. A build killed at any
moment keeps every committed row; the next run skips them, so it ends with exactly n rows and
no duplicate. Architectures are drawn deterministically from (space, seed), so a restarted
build asks for the same ones.
"""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError, check_choice, check_float, check_int
from ..records import Record, per_image_accuracy, robust_name
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
    sanity_images: int = 64  # sanity checks of each architecture: images and Square queries (they cost
    sanity_queries: int = 300  # as much as the attacks themselves at the defaults of a single evaluation)
    proxies: tuple[str, ...] = ()  # empty: every registered proxy
    proxy_seeds: int = 2
    workers: int = 2
    data_dir: str | None = None

    def __post_init__(self) -> None:
        from ..evaluate import PRESETS

        check_int("n", self.n, minimum=1)
        check_int("epochs", self.epochs, minimum=1)
        check_float("eps", self.eps, minimum=0.0, maximum=1.0)
        check_choice("preset", self.preset, tuple(PRESETS))
        check_int("workers", self.workers, minimum=1)
        check_int("robust_images", self.robust_images, minimum=1)
        check_int("sanity_images", self.sanity_images, minimum=1)
        check_int("sanity_queries", self.sanity_queries, minimum=1)
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


def evaluate_architecture(arch: str, cfg: BuildConfig) -> Record:
    """One row as a Record: the float model as trained, with clean accuracy, each attack alone and the
    per-image worst case (images broken by no attack) on a seeded sample of test images, costs, and
    the zero-cost proxies in its details. The first attack's evaluation runs the sanity checks."""
    import torch

    from ..evaluate import PRESETS, RobustnessConfig, evaluate_robustness, images_id
    from ..pipeline import train_architecture
    from ..proxies import ALL_PROXIES, compute_proxies
    from ..train import TrainConfig
    from ..data import select_images

    torch.set_num_threads(1)  # one process per core
    data = _dataset(cfg.dataset, cfg.data_dir)
    t = train_architecture(arch, data, TrainConfig(epochs=cfg.epochs, seed=cfg.seed))
    model = t.model.eval()
    x, y = select_images(data, min(cfg.robust_images, len(data.test)), cfg.seed)
    base = RobustnessConfig(eps=cfg.eps, preset=cfg.preset, seed=cfg.seed, sanity_images=cfg.sanity_images,
                            sanity_queries=cfg.sanity_queries)
    attacks = PRESETS[cfg.preset]
    objectives = list(t.record.objectives)
    details: dict = {"robustness": {}}
    budgets = dict(t.record.budgets)
    robust_to_all = np.ones(len(x), dtype=bool)
    for k, attack in enumerate(attacks):  # each attack alone on every image; the worst case is their intersection
        r = evaluate_robustness(model, x, y, replace(base, attacks=(attack,), sanity=k == 0))
        objectives.append(r.objective())
        details["robustness"][attack] = r.details()
        budgets.update(r.budgets())
        robust_to_all &= np.array([b == "" for b in r.broken_by])
    objectives.append(per_image_accuracy(robust_name(f"worst:{cfg.preset}", cfg.eps), robust_to_all, images_id(x, y)))
    names = cfg.proxies or ALL_PROXIES
    details["proxies"] = compute_proxies(arch, data, names, seeds=range(cfg.proxy_seeds))
    budgets["proxy_seeds"] = cfg.proxy_seeds
    return replace(t.record, objectives=tuple(objectives), budgets=budgets, details={**t.record.details, **details})


STORE_FORMAT = 2  # 2: one Record per row


def check_sqlite(path: Path, what: str, must_exist: bool) -> None:
    """An SQLite file (or, unless it must exist, a path where one can be made); else a one-line error."""
    if path.is_dir():
        raise ConfigError(f"{what}: {str(path)!r} is a folder, expected an SQLite file")
    if not path.exists():
        if must_exist:
            raise DataError(f"{what}: {str(path)!r} does not exist")
        return
    with path.open("rb") as f:
        head = f.read(16)
    if head and head != b"SQLite format 3\x00":
        raise ConfigError(f"{what}: {str(path)!r} is not an SQLite file")


class BenchStore:
    """SQLite rows: architecture (primary key), its Record as JSON; the build config is stored once."""

    def __init__(self, path: str | Path, must_exist: bool = False) -> None:
        self.path = Path(path)
        check_sqlite(self.path, "store", must_exist)
        try:
            self.db = sqlite3.connect(self.path)
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            self.db.execute("CREATE TABLE IF NOT EXISTS rows (architecture TEXT PRIMARY KEY, idx INTEGER, record TEXT)")
            self.db.commit()
            fmt = self.db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
            if fmt is None:
                self.db.execute("INSERT INTO meta VALUES ('format', ?)", (str(STORE_FORMAT),))
                self.db.commit()
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"store: {str(self.path)!r} is not a usable SQLite file: {e}") from None
        if fmt is not None and fmt[0] != str(STORE_FORMAT):
            raise DataError(f"store {str(self.path)!r} has format {fmt[0]}, this paretonet writes {STORE_FORMAT}; "
                            "build it anew")

    def check_config(self, cfg: BuildConfig) -> None:
        want = {k: v for k, v in asdict(cfg).items() if k not in ("n", "workers")}
        got = self.db.execute("SELECT value FROM meta WHERE key='config'").fetchone()
        if got is None:
            self.db.execute("INSERT INTO meta VALUES ('config', ?)", (json.dumps(want),))
            self.db.commit()
        elif json.loads(got[0]) != json.loads(json.dumps(want)):
            raise ConfigError(f"store {str(self.path)!r} was built with another configuration: {got[0]}")

    def space(self) -> str:
        got = self.db.execute("SELECT value FROM meta WHERE key='config'").fetchone()
        return json.loads(got[0])["space"] if got else "lenet"

    def done(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT architecture FROM rows")}

    def add(self, idx: int, record: Record) -> None:
        self.db.execute("INSERT OR IGNORE INTO rows VALUES (?, ?, ?)", (record.architecture, idx, record.to_json()))
        self.db.commit()

    def records(self) -> list[Record]:
        rows = self.db.execute("SELECT record FROM rows ORDER BY idx").fetchall()
        return [Record.from_dict(json.loads(text), f"store {str(self.path)!r}") for (text,) in rows]

    def bench(self) -> Bench:
        records = self.records()
        if not records:
            raise DataError(f"store {str(self.path)!r} has no rows yet")
        return bench_of_records(self.path.stem, self.space(), records)

    def close(self) -> None:
        self.db.close()


def bench_of_records(name: str, space: str, records: list[Record]) -> Bench:
    """A table of records: one column per objective name, plus proxy_<name> from each record's details."""
    rows = [{**{o.name: o.value for o in r.objectives},
             **{f"proxy_{k}": v for k, v in r.details.get("proxies", {}).items()}} for r in records]
    names = sorted({k for row in rows for k in row})
    cols = {k: np.array([np.nan if row.get(k) is None else row[k] for row in rows], dtype=float) for k in names}
    return Bench(name, space, tuple(r.architecture for r in records), cols)


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
                    store.add(i, f.result())
                    finished += 1
                    if progress:
                        progress(finished, len(archs), a)
        return store.bench()
    finally:
        store.close()
