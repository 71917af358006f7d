"""Tabular benchmarks: NAS-Bench-201 loaders, Jung et al.'s format, resumable builds."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from paretonet.bench import (
    BenchStore,
    BuildConfig,
    build_bench,
    load_jung,
    load_nb201_cifar10,
    open_bench,
    plan_architectures,
    read_bench_csv,
)
from paretonet.errors import ConfigError, DataError

CELLS = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
         "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|skip_connect~1|nor_conv_3x3~2|",
         "|skip_connect~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|"]


APGD, SQUARE, FGSM, PGD = (f"robust_accuracy@{a}:1/255" for a in ("apgd-ce", "square", "fgsm", "pgd"))
MIN4 = "robust_accuracy@min:apgd-ce+square+fgsm+pgd:1/255"


def test_nb201_cifar10_from_the_shared_csvs(shared):
    b = load_nb201_cifar10(shared / "nb201", eps=1 / 255)
    assert len(b) == 9445 and len(b.unique()) == 6285  # isomorphs share their robustness values
    assert {"accuracy", APGD, SQUARE, FGSM, PGD, MIN4, "proxy_synflow", "proxy_params"} <= set(b.columns)
    assert b.targets == ["accuracy", APGD, FGSM, MIN4, PGD, SQUARE]
    # the minimum over attacks is an upper bound of the per-image worst case, and is named so
    assert np.array_equal(b.columns[MIN4], np.minimum.reduce([b.columns[k] for k in (APGD, SQUARE, FGSM, PGD)]))
    assert b.architectures[0].startswith("nb201:|avg_pool_3x3~0|+|skip_connect~0|none~1|")
    assert b.columns["accuracy"][0] == pytest.approx(0.8499) and b.columns[APGD][0] == pytest.approx(0.291)
    with pytest.raises(DataError, match=r"eps: got 0.0215686 \(5.5/255\); .* has eps 0.1/255, 0.5/255, 1/255"):
        load_nb201_cifar10(shared / "nb201", eps=5.5 / 255)


def test_table_names_are_the_objective_names(shared):
    """A column of the published table and the objective paretonet measures have one name."""
    import torch
    from torch import nn

    from paretonet.evaluate import RobustnessConfig, evaluate_robustness

    columns = set(load_nb201_cifar10(shared / "nb201", eps=1 / 255).columns)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 10)).eval()
    x, y = torch.rand(8, 3, 2, 2), torch.arange(8)
    for attack in ("apgd-ce", "square", "fgsm", "pgd"):
        cfg = RobustnessConfig(eps=1 / 255, attacks=(attack,), steps=2, queries=5, sanity=False)
        assert evaluate_robustness(model, x, y, cfg).objective().name in columns


def _write_jung(root, drop_file: str | None = None, dataset: str = "cifar10") -> None:
    ids = {"0": {"nb201-string": CELLS[0], "isomorph": "0"}, "1": {"nb201-string": CELLS[1], "isomorph": "1"},
           "2": {"nb201-string": CELLS[2], "isomorph": "0"}}  # 2 is an isomorph of 0: no results
    eps = [0.5, 1.0, 2.0]
    (root / dataset).mkdir(parents=True)
    (root / "meta.json").write_text(json.dumps({"ids": ids, "epsilons": {k: eps for k in
                                                ("aa_apgd-ce", "aa_square", "fgsm", "pgd")}}))
    values = {"clean": {"0": 0.9, "1": 0.8}, "aa_apgd-ce": {"0": [0.5, 0.3, 0.1], "1": [0.4, 0.2, 0.0]},
              "aa_square": {"0": [0.6, 0.4, 0.2], "1": [0.5, 0.25, 0.1]}, "fgsm": {"0": [0.7, 0.5, 0.3], "1": [0.6, 0.3, 0.1]},
              "pgd": {"0": [0.55, 0.35, 0.15], "1": [0.45, 0.15, 0.05]}}
    for key, v in values.items():
        if key != drop_file:
            (root / dataset / f"{key}_accuracy.json").write_text(json.dumps({dataset: {key: {"accuracy": v}}}))


def test_jung_format_loader(tmp_path):
    _write_jung(tmp_path / "rd")
    b = load_jung(tmp_path / "rd", "cifar10", eps=1 / 255)
    assert len(b) == 2  # the isomorph without results is not a row
    assert b.architectures[0] == "nb201:" + CELLS[0]
    assert b.columns["accuracy"].tolist() == [0.9, 0.8]
    assert b.columns[APGD].tolist() == [0.3, 0.2] and b.columns[MIN4].tolist() == [0.3, 0.15]
    assert open_bench(str(tmp_path / "rd")).name.startswith("jung-cifar10")
    with pytest.raises(DataError, match="eps 4/255 not among"):
        load_jung(tmp_path / "rd", eps=4 / 255)
    _write_jung(tmp_path / "c100", dataset="cifar100")
    assert open_bench(str(tmp_path / "c100"), dataset="cifar100").name == "jung-cifar100@eps1/255"
    _write_jung(tmp_path / "broken", drop_file="pgd")
    with pytest.raises(DataError, match="pgd_accuracy.json"):
        load_jung(tmp_path / "broken")


def test_bench_csv_round_trip_and_bad_files(tmp_path, shared):
    b = load_nb201_cifar10(shared / "nb201").take(np.arange(20))
    back = read_bench_csv(b.to_csv(tmp_path / "b.csv"))
    assert back.architectures == b.architectures and np.array_equal(back.columns[PGD], b.columns[PGD])
    (tmp_path / "bad.csv").write_text("net,clean\n1,2\n")
    with pytest.raises(DataError, match="'architecture' column"):
        read_bench_csv(tmp_path / "bad.csv")


def test_plan_is_deterministic_and_distinct(digits):
    cfg = BuildConfig(n=30, seed=3)
    a = plan_architectures(cfg, digits.input_shape)
    assert a == plan_architectures(cfg, digits.input_shape) and len(set(a)) == 30
    assert a != plan_architectures(BuildConfig(n=30, seed=4), digits.input_shape)


SMALL = ["--epochs", "1", "--images", "20", "--proxies", "params,synflow,snip", "--workers", "2"]


def _rows(db) -> list[str]:
    if not os.path.exists(db):
        return []
    try:
        con = sqlite3.connect(db)
        try:
            return [r[0] for r in con.execute("SELECT architecture FROM rows")]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return []


def test_killed_build_resumes_with_exactly_n_rows(tmp_path, digits):
    db = str(tmp_path / "b.db")
    cmd = [sys.executable, "-m", "paretonet.cli", "bench", "build", "--n", "6", "--store", db, *SMALL]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while len(_rows(db)) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the parent and its workers, mid-build
    proc.wait()
    partial = _rows(db)
    assert 2 <= len(partial) < 6
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = _rows(db)
    assert len(rows) == 6 and len(set(rows)) == 6 and set(partial) <= set(rows)
    assert set(rows) == set(plan_architectures(BuildConfig(n=6), digits.input_shape))
    b = open_bench(db)
    from paretonet.evaluate import BASIC_OBJECTIVES, ENERGY_OBJECTIVE

    worst, fgsm = "robust_accuracy@worst:fast:0.1", "robust_accuracy@fgsm:0.1"
    # the basic objectives' names (what a Record holds; measured latency is asked for), the attacks', the proxies
    energy = {ENERGY_OBJECTIVE.replace("energy_", f"energy_{p}_" if p else "energy_") for p in ("", "mac", "mult", "data")}
    registry = {n for n in BASIC_OBJECTIVES if not n.startswith("energy")} | energy
    assert registry | {worst, fgsm, "robust_accuracy@pgd:0.1", "proxy_synflow"} <= set(b.columns)
    assert np.all(b.columns[worst] <= b.columns[fgsm] + 1e-12)
    # every row is a Record; the sanity checks ran with the first attack; the attacked images are a seeded sample
    store = BenchStore(db)
    records = store.records()
    store.close()
    assert len(records) == 6 and all(r.details["robustness"]["fgsm"]["sanity"] for r in records)
    assert records[0].budgets["robust_images"] == 20
    # the same store with another configuration is refused, not mixed
    with pytest.raises(ConfigError, match="another configuration"):
        build_bench(db, BuildConfig(n=6, epochs=2, robust_images=20, proxies=("params", "synflow", "snip")))
