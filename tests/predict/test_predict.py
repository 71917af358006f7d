"""The surrogate's scikit-learn contract, the protocol, and the predict CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.utils.estimator_checks import check_estimator

from paretonet.bench import load_nb201_cifar10
from paretonet.cli import main
from paretonet.errors import ConfigError
from paretonet.predict import Surrogate, evaluate_protocol, feature_matrix

MIN4 = "robust_accuracy@min:apgd-ce+square+fgsm+pgd:1/255"


def test_surrogate_passes_sklearn_check_estimator():
    results = check_estimator(Surrogate(), on_fail=None)  # the defaults the protocol uses at small n
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert len(results) > 40 and not failed


def test_surrogate_uncertainty_multi_output_and_importance():
    rng = np.random.default_rng(0)
    X = rng.random((200, 4))
    y = np.stack([3 * X[:, 0] + 0.1 * rng.standard_normal(200), X[:, 1] ** 2], axis=1)
    m = Surrogate(n_estimators=100, n_members=4).fit(X[:150], y[:150])
    pred, std = m.predict(X[150:]), m.predict_std(X[150:])
    assert pred.shape == (50, 2) and std.shape == (50, 2) and (std > 0).all()
    assert np.corrcoef(pred[:, 0], y[150:, 0])[0, 1] > 0.9
    imp = m.importance(X[:150], ["a", "b", "c", "d"])
    assert max(imp, key=lambda k: imp[k][1]) == "a"


def test_nb201_features_and_protocol_on_a_small_run(shared):
    b = load_nb201_cifar10(shared / "nb201")
    names, X = feature_matrix(b, "proxies+encoding")
    assert X.shape == (9445, len(names)) and "count_nor_conv_3x3" in names and "proxy_synflow" in names
    onehot = X[:, names.index("edge0_skip_connect"):names.index("edge0_skip_connect") + 5]
    assert (onehot.sum(1) == 1).all()
    cells = evaluate_protocol(b, [100], 2, ["accuracy", MIN4], ("proxies+encoding", "params+flops"))
    r2 = {(c.features, c.target): c.r2.mean for c in cells}
    assert r2[("proxies+encoding", "accuracy")] > r2[("params+flops", "accuracy")]
    assert r2[("proxies+encoding", MIN4)] > 0.3
    with pytest.raises(ConfigError, match="train-sizes: 7000 is not below the 6285"):
        evaluate_protocol(b, [7000], 1, ["accuracy"])


def test_predict_cli_on_a_csv_bench(capsys, shared, tmp_path):
    b = load_nb201_cifar10(shared / "nb201").unique()
    path = b.take(np.arange(400)).to_csv(tmp_path / "small.csv")
    out = tmp_path / "p.json"
    code = main(["predict", "evaluate", "--bench", str(path), "--train-sizes", "50,150", "--seeds", "2",
                 "--targets", f"accuracy,{MIN4}", "--importance-plot", str(tmp_path / "imp.svg"), "--output", str(out)])
    assert code == 0
    doc = json.loads(out.read_text())
    assert {(c["train_size"], c["target"]) for c in doc["cells"]} == {(n, t) for n in (50, 150) for t in ("accuracy", MIN4)}
    assert (tmp_path / "imp.svg").read_text().startswith("<svg")


@pytest.mark.parametrize("case", [
    ("--bench", "MISSING_COLS"),
    ("--bench", "NOT_SQLITE"),
    ("--bench", "FOLDER"),
    ("--eps", "1"),  # eps is in [0, 1] like everywhere: 255/255 is not in the table
    ("--eps", "3"),
    ("--train-sizes", "100000"),
    ("--train-sizes", "ten"),
    ("--targets", "nope"),
])
def test_predict_bad_input(capsys, tmp_path, case, shared):
    args = list(case)
    if "MISSING_COLS" in args:
        (tmp_path / "b.csv").write_text("architecture,clean\nlenet:lenet5,0.9\nlenet:lenet1,0.8\n")
        args[1] = str(tmp_path / "b.csv")
    if "NOT_SQLITE" in args:
        (tmp_path / "notes.db").write_text("these are my notes, not a database\n")
        args[1] = str(tmp_path / "notes.db")
    if "FOLDER" in args:
        args[1] = str(tmp_path)
    code = main(["predict", "evaluate", "--seeds", "1", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err


def test_bench_build_unknown_proxy_is_exit_2(capsys, tmp_path):
    code = main(["bench", "build", "--n", "2", "--store", str(tmp_path / "x.db"), "--proxies", "params,nope"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [err[0]] and "unknown proxy 'nope'" in err[0]


@pytest.mark.parametrize("args", [["--n", "0"], ["--preset", "nope"], ["--workers", "0"], ["--eps", "2"],
                                  ["--store", "NOT_SQLITE"], ["--store", "FOLDER"]])
def test_bench_build_bad_input(capsys, tmp_path, args):
    (tmp_path / "notes.txt").write_text("not a database\n")
    args = [{"NOT_SQLITE": str(tmp_path / "notes.txt"), "FOLDER": str(tmp_path)}.get(a, a) for a in args]
    code = main(["bench", "build", "--store", str(tmp_path / "x.db"), "--n", "1", "--epochs", "1", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
