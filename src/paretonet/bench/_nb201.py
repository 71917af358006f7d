"""NAS-Bench-201 robustness data: the shared CIFAR-10 CSVs and Jung et al.'s on-disk format.

Targets are in % as published: clean (`val_accs`), and robust accuracy of apgd (AutoAttack's
APGD-CE), square, fgsm and pgd at one eps (in 1/255 units); worst = the minimum over the four
attacks. Isomorphic cells share their robustness values (Jung et al. evaluated one cell per
class), so the class of a row is the tuple of all its robustness values.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..spaces.nb201 import NB201Space
from ._table import Bench

ATTACK_COLUMNS = {"apgd": "aa_apgd-ce", "square": "aa_square", "fgsm": "fgsm", "pgd": "pgd"}
PROXY_COLUMNS = ("epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm", "nwot", "params",
                 "plain", "snip", "synflow", "zen")


def _read(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(f"benchmark file {str(path)!r} does not exist")
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _need(rows: list[dict[str, str]], cols: list[str], path: Path) -> None:
    missing = [c for c in cols if not rows or c not in rows[0]]
    if missing:
        raise DataError(f"benchmark file {str(path)!r}: missing column(s) {', '.join(missing)}")


def _eps_text(eps: float) -> str:
    return f"{eps:.1f}"


def load_nb201_cifar10(root: str | Path, eps: float = 1.0) -> Bench:
    """The 9,445 non-degenerate cells with 13 proxies and targets at eps (units of 1/255)."""
    root = Path(root)
    proxies_path, targets_path = root / "nb201_zc_proxies.csv", root / "robustness_targets.csv"
    proxies, targets = _read(proxies_path), _read(targets_path)
    _need(proxies, ["net", "net_str", *PROXY_COLUMNS], proxies_path)
    attack_cols = [f"{a}@Linf_eps-{_eps_text(eps)}" for a in ATTACK_COLUMNS.values()]
    _need(targets, ["net", "val_accs", *attack_cols], targets_path)
    robust_cols = [c for c in targets[0] if c not in ("net", "val_accs")]
    by_net = {r["net"]: r for r in targets}
    space = NB201Space()
    archs, groups = [], []
    cols: dict[str, list[float]] = {c: [] for c in (*PROXY_COLUMNS, "clean", *ATTACK_COLUMNS, "worst")}
    for r in proxies:
        t = by_net.get(r["net"])
        if t is None:
            raise DataError(f"benchmark file {str(targets_path)!r}: no row for net {r['net']}")
        archs.append("nb201:" + str(space.resolve(r["net_str"])))
        groups.append("|".join(t[c] for c in robust_cols))
        for c in PROXY_COLUMNS:
            cols[c].append(float(r[c]) if r[c] else math.nan)
        cols["clean"].append(float(t["val_accs"]))
        attacks = [float(t[c]) for c in attack_cols]
        for name, v in zip(ATTACK_COLUMNS, attacks):
            cols[name].append(v)
        cols["worst"].append(min(attacks))
    return Bench(f"nb201-cifar10@eps{_eps_text(eps)}", "nb201", tuple(archs),
                 {k: np.array(v) for k, v in cols.items()}, tuple(groups))


def load_jung(root: str | Path, dataset: str = "cifar10", eps: float = 1.0) -> Bench:
    """Jung, Lukasik, Keuper (ICLR 2023) format: meta.json + <dataset>/<key>_<measure>.json.

    meta.json: {"ids": {id: {"nb201-string": cell, "isomorph": representative id}},
                "epsilons": {attack: [eps, ...]}}; result files {dataset: {key: {measure: {id: value}}}},
    attack values are lists aligned with meta's epsilons (in 1/255 units, accuracies in [0, 1]).
    Rows: the isomorph representatives (the only ones carrying results).
    """
    root = Path(root)
    try:
        meta = json.loads((root / "meta.json").read_text())
        ids, epsilons = meta["ids"], meta["epsilons"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"robustness dataset {str(root)!r}: cannot read meta.json with 'ids' and 'epsilons' ({exc})") from None

    def measure(key: str, name: str = "accuracy") -> dict[str, object]:
        path = root / dataset / f"{key}_{name}.json"
        try:
            return json.loads(path.read_text())[dataset][key][name]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"robustness dataset file {str(path)!r}: cannot read {dataset}/{key}/{name} ({exc})") from None

    clean = measure("clean")
    attacks = {}
    for short, key in ATTACK_COLUMNS.items():
        values = measure(key)
        eps_list = [float(e) for e in epsilons.get(key, [])]
        if eps not in eps_list:
            raise DataError(f"robustness dataset {str(root)!r}: eps {eps:g} not among {key}'s epsilons {eps_list}")
        attacks[short] = (values, eps_list.index(eps))
    space = NB201Space()
    reps = [i for i, info in ids.items() if str(info.get("isomorph", i)) == str(i) and str(i) in clean]
    archs, cols = [], {c: [] for c in ("clean", *ATTACK_COLUMNS, "worst")}
    for i in reps:
        archs.append("nb201:" + str(space.resolve(ids[i]["nb201-string"])))
        cols["clean"].append(100 * float(clean[str(i)]))
        row = [100 * float(values[str(i)][k]) for values, k in attacks.values()]
        for name, v in zip(ATTACK_COLUMNS, row):
            cols[name].append(v)
        cols["worst"].append(min(row))
    return Bench(f"jung-{dataset}@eps{_eps_text(eps)}", "nb201", tuple(archs), {k: np.array(v) for k, v in cols.items()},
                 tuple(str(i) for i in reps))
