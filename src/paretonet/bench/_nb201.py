"""NAS-Bench-201 robustness data: the shared CIFAR-10 CSVs and Jung et al.'s on-disk format.

Columns carry the objective names every other stage uses, values as fractions: `accuracy` (the
benchmark's `val_accs`), `robust_accuracy@<attack>:<eps>` for APGD-CE, Square, FGSM and PGD, and
`robust_accuracy@min:<attacks>:<eps>`, the minimum of the four per-attack accuracies: an upper
bound of the per-image worst case, which these tables do not hold. Proxies are `proxy_<name>`.
Isomorphic cells share their robustness values (Jung et al. evaluated one cell per class), so
the class of a row is the tuple of all its robustness values.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np

from ..errors import DataError, check_float
from ..records.names import device_name, min_over_attacks_name, robust_name
from ..spaces.nb201 import NB201Space
from ._table import Bench


def default_shared_nb201() -> Path:
    """../shared/nb201 next to the checkout, or PARETONET_NB201 if set."""
    env = os.environ.get("PARETONET_NB201")
    return Path(env) if env else Path(__file__).resolve().parents[4] / "shared" / "nb201"

# attack as paretonet names it -> column / key prefix in the published data
ATTACK_COLUMNS = {"apgd-ce": "aa_apgd-ce", "square": "aa_square", "fgsm": "fgsm", "pgd": "pgd"}
PROXY_COLUMNS = ("epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm", "nwot", "params",
                 "plain", "snip", "synflow", "zen")
DEFAULT_EPS = 1 / 255


def target_names(eps: float) -> dict[str, str]:
    """Published short name -> objective name at `eps`."""
    names = {"clean": "accuracy"}
    names.update({a: robust_name(a, eps) for a in ATTACK_COLUMNS})
    names["worst"] = min_over_attacks_name(tuple(ATTACK_COLUMNS), eps)
    return names


def _read(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(f"benchmark file {str(path)!r} does not exist")
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _need(rows: list[dict[str, str]], cols: list[str], path: Path) -> None:
    missing = [c for c in cols if not rows or c not in rows[0]]
    if missing:
        raise DataError(f"benchmark file {str(path)!r}: missing column(s) {', '.join(missing)}")


def _eps_255(eps: float) -> float:
    """eps in [0, 1] as the tables write it: units of 1/255, one decimal."""
    check_float("eps", eps, minimum=0.0, maximum=1.0)
    return round(eps * 255, 1)


DEVICE_FILE = "hw_devices_cifar100.csv"


def device_columns(root: Path) -> dict[str, dict[str, float]]:
    """HW-NAS-Bench's measured costs per cell ('net' tuple) as `latency_ms@<device>` / `energy_mj@<device>`;
    empty when the file is absent. Measured on the CIFAR-100 networks (a wider classifier than CIFAR-10's)."""
    path = root / DEVICE_FILE
    if not path.is_file():
        return {}
    rows = _read(path)
    names = {c: device_name(*(("latency", "ms") if c.endswith("_latency") else ("energy", "mJ")), c.rpartition("_")[0])
             for c in rows[0] if c != "net"} if rows else {}
    # -1 marks a cell a device has no measurement for (HW-NAS-Bench's Edge TPU): missing, not a cost
    return {r["net"]: {names[c]: float(v) for c, v in r.items() if c != "net" and v != "" and float(v) != -1.0}
            for r in rows}


def load_nb201_cifar10(root: str | Path, eps: float = DEFAULT_EPS) -> Bench:
    """The 9,445 non-degenerate cells with 13 proxies, targets at eps (in [0, 1]; the tables hold k/255) and,
    where the shared file is there, the measured device costs of HW-NAS-Bench."""
    root = Path(root)
    proxies_path, targets_path = root / "nb201_zc_proxies.csv", root / "robustness_targets.csv"
    proxies, targets = _read(proxies_path), _read(targets_path)
    _need(proxies, ["net", "net_str", *PROXY_COLUMNS], proxies_path)
    k = _eps_255(eps)
    attack_cols = [f"{a}@Linf_eps-{k:.1f}" for a in ATTACK_COLUMNS.values()]
    if targets and attack_cols[0] not in targets[0]:
        have = sorted({float(c.rpartition("-")[2]) for c in targets[0] if c.startswith("aa_apgd-ce@")})
        raise DataError(f"eps: got {eps:g} ({k:g}/255); {str(targets_path)!r} has eps "
                        f"{', '.join(f'{v:g}/255' for v in have)}")
    _need(targets, ["net", "val_accs", *attack_cols], targets_path)
    robust_cols = [c for c in targets[0] if c not in ("net", "val_accs")]
    by_net = {r["net"]: r for r in targets}
    space = NB201Space()
    names = target_names(eps)
    archs, groups = [], []
    cols: dict[str, list[float]] = {c: [] for c in (*(f"proxy_{p}" for p in PROXY_COLUMNS), *names.values())}
    devices = device_columns(root)
    device_names = sorted({k for d in devices.values() for k in d})
    cols.update({name: [] for name in device_names})
    for r in proxies:
        measured = devices.get(r["net"], {})
        for name in device_names:
            cols[name].append(measured.get(name, math.nan))
        t = by_net.get(r["net"])
        if t is None:
            raise DataError(f"benchmark file {str(targets_path)!r}: no row for net {r['net']}")
        archs.append("nb201:" + str(space.resolve(r["net_str"])))
        groups.append("|".join(t[c] for c in robust_cols))
        for c in PROXY_COLUMNS:
            cols[f"proxy_{c}"].append(float(r[c]) if r[c] else math.nan)
        cols["accuracy"].append(float(t["val_accs"]) / 100)
        attacks = [float(t[c]) / 100 for c in attack_cols]
        for name, v in zip(ATTACK_COLUMNS, attacks):
            cols[names[name]].append(v)
        cols[names["worst"]].append(min(attacks))
    return Bench(f"nb201-cifar10@eps{k:g}/255", "nb201", tuple(archs),
                 {k: np.array(v) for k, v in cols.items()}, tuple(groups))


def load_jung(root: str | Path, dataset: str = "cifar10", eps: float = DEFAULT_EPS) -> Bench:
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

    k = _eps_255(eps)
    clean = measure("clean")
    attacks = {}
    for short, key in ATTACK_COLUMNS.items():
        values = measure(key)
        eps_list = [float(e) for e in epsilons.get(key, [])]
        if k not in eps_list:
            raise DataError(f"robustness dataset {str(root)!r}: eps {k:g}/255 not among {key}'s epsilons "
                            f"{', '.join(f'{e:g}/255' for e in eps_list)}")
        attacks[short] = (values, eps_list.index(k))
    space = NB201Space()
    names = target_names(eps)
    reps = [i for i, info in ids.items() if str(info.get("isomorph", i)) == str(i) and str(i) in clean]
    archs, cols = [], {c: [] for c in names.values()}
    for i in reps:
        archs.append("nb201:" + str(space.resolve(ids[i]["nb201-string"])))
        cols["accuracy"].append(float(clean[str(i)]))
        row = [float(values[str(i)][j]) for values, j in attacks.values()]
        for name, v in zip(ATTACK_COLUMNS, row):
            cols[names[name]].append(v)
        cols[names["worst"]].append(min(row))
    return Bench(f"jung-{dataset}@eps{k:g}/255", "nb201", tuple(archs), {c: np.array(v) for c, v in cols.items()},
                 tuple(str(i) for i in reps))
