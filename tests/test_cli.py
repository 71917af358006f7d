from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pytest

from paretonet.cli import main
from test_data import make_idx_folder


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _truncated_idx(tmp_path):
    make_idx_folder(tmp_path)
    f = tmp_path / "train-labels-idx1-ubyte.gz"
    f.write_bytes(f.read_bytes()[:-3])
    return str(tmp_path)


def _pickle_model(tmp_path):
    (tmp_path / "model.pt").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    return str(tmp_path / "model.pt")


BAD_INPUTS = {
    "unknown space": (lambda t: ["train", "--space", "vgg"], "unknown search space 'vgg'; known: lenet, nb201"),
    "bad arch string": (lambda t: ["train", "--arch", "r32-valid|c6k9-relu-max"], "kernel 9, expected 3, 5"),
    "unknown named arch": (lambda t: ["train", "--arch", "lenet7"], "lenet architecture 'lenet7'"),
    "bad nb201 arch": (lambda t: ["train", "--space", "nb201", "--arch", "|conv~0|"], "nb201 architecture"),
    "unknown dataset": (lambda t: ["train", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    "missing folder": (lambda t: ["train", "--dataset", "mnist", "--data-dir", str(t / "nope")], "does not exist"),
    "truncated IDX": (lambda t: ["train", "--dataset", "mnist", "--data-dir", _truncated_idx(t)], "truncated"),
    "wrong input shape": (
        lambda t: ["train", "--arch", "native-valid|c6k5-relu-max|c16k5-relu-max"],
        "does not fit input shape (1, 8, 8)",
    ),
    "pickle as model": (lambda t: ["evaluate", _pickle_model(t)], "never unpickles"),
    "negative epochs": (lambda t: ["train", "--epochs", "-1"], "epochs: got -1, expected an integer >= 0"),
    "non-integer epochs": (lambda t: ["train", "--epochs", "many"], "'--epochs'"),
    "unknown option": (lambda t: ["train", "--colour", "red"], "No such option"),
    "output over model metadata": (
        lambda t: ["train", "--save-model", str(t / "m"), "--output", str(t / "m.json")],
        "is where --save-model writes the model's metadata",
    ),
    "bad input shape": (lambda t: ["spaces", "lenet", "--input-shape", "8,8"], "--input-shape: got '8,8'"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_and_exit_2(capsys, tmp_path, case):
    make_args, message = BAD_INPUTS[case]
    code, out, err = run_cli(capsys, *make_args(tmp_path))
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err + out


def test_real_process_exit_code_and_stderr(tmp_path):
    p = subprocess.run([sys.executable, "-m", "paretonet.cli", "train", "--epochs", "-3"], capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == ["error: epochs: got -3, expected an integer >= 0"]


def test_wrong_input_shape_of_saved_model(capsys, tmp_path):
    code, _, _ = run_cli(capsys, "train", "--arch", "lenet-tiny", "--epochs", "1", "--save-model", str(tmp_path / "m"))
    assert code == 0
    make_idx_folder(tmp_path / "idx")  # 6x6 images
    code, _, err = run_cli(capsys, "evaluate", str(tmp_path / "m"), "--dataset", "mnist", "--data-dir", str(tmp_path / "idx"))
    assert code == 2 and "wrong input shape: the model expects (1, 8, 8), dataset 'mnist' has (1, 6, 6)" in err


def test_train_then_evaluate_round_trip(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "train", "--arch", "lenet-tiny", "--epochs", "3", "--seed", "2",
                           "--output", str(tmp_path / "r.json"), "--save-model", str(tmp_path / "m"))
    assert code == 0 and "accuracy" in out and "macs" in out
    result = json.loads((tmp_path / "r.json").read_text())
    rec = result["record"]
    assert rec["architecture"] == "lenet:native-same|c8k3-relu-max|c16k3-relu-max|f32-relu" and rec["seed"] == 2
    assert len(result["history"]) == 3
    names = {o["name"]: o for o in rec["objectives"]}
    assert set(names) == {"accuracy", "params", "size_bytes", "macs"}
    assert names["size_bytes"]["value"] == 4 * names["params"]["value"]
    code, out, _ = run_cli(capsys, "evaluate", str(tmp_path / "m.safetensors"), "--bits", "8", "--output", str(tmp_path / "e.json"))
    assert code == 0
    ev = json.loads((tmp_path / "e.json").read_text())["record"]
    evn = {o["name"]: o["value"] for o in ev["objectives"]}
    assert evn["accuracy"] == names["accuracy"]["value"]  # same model, same split
    assert evn["size_bytes"] == names["params"]["value"]  # 8 bits per parameter
    assert ev["variant"] == "bits=8"


def test_spaces_listing_and_samples(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "spaces")
    assert code == 0 and "lenet5" in out and "nb201" in out
    code, out, _ = run_cli(capsys, "spaces", "lenet", "--arch", "lenet5", "--input-shape", "1,32,32",
                           "--output", str(tmp_path / "s.json"))
    assert code == 0
    rows = json.loads((tmp_path / "s.json").read_text())["architectures"]
    assert rows[0]["macs"] == 416_520 and rows[0]["params"] == 61_706
    code, _, _ = run_cli(capsys, "spaces", "nb201", "--sample", "3", "--seed", "4", "--input-shape", "3,32,32",
                         "--output", str(tmp_path / "n.json"))
    first = json.loads((tmp_path / "n.json").read_text())["architectures"]
    run_cli(capsys, "spaces", "nb201", "--sample", "3", "--seed", "4", "--input-shape", "3,32,32", "--output", str(tmp_path / "n.json"))
    assert json.loads((tmp_path / "n.json").read_text())["architectures"] == first and len(first) == 3


def test_help_works(capsys):
    for cmd in ([], ["train"], ["evaluate"], ["spaces"]):
        code, out, _ = run_cli(capsys, *cmd, "--help")
        assert code == 0 and "Usage" in out
