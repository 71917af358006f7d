from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pytest

from paretonet.cli import main
from idx_files import make_idx_folder  # tests/idx_files.py


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
    rec = json.loads((tmp_path / "r.json").read_text())
    assert rec["architecture"] == "lenet:native-same|c8k3-relu-max|c16k3-relu-max|f32-relu" and rec["seed"] == 2
    assert len(rec["details"]["history"]) == 3 and rec["variant"] == "" and rec["format"] == 1
    assert rec["versions"]["threads"] >= 1 and rec["versions"]["cpu_capability"]
    names = {o["name"]: o for o in rec["objectives"]}
    assert set(names) == {"accuracy", "params", "size_bytes", "macs", "energy_pj@horowitz45:hierarchy", "energy_mac_pj@horowitz45:hierarchy",
                          "energy_mult_pj@horowitz45:hierarchy", "energy_data_pj@horowitz45:hierarchy"}
    assert names["energy_pj@horowitz45:hierarchy"]["unit"] == "pJ" and names["energy_pj@horowitz45:hierarchy"]["direction"] == "min"
    assert names["size_bytes"]["value"] == 4 * names["params"]["value"]
    code, out, _ = run_cli(capsys, "evaluate", str(tmp_path / "m.safetensors"), "--bits", "8", "--output", str(tmp_path / "e.json"))
    assert code == 0
    ev = json.loads((tmp_path / "e.json").read_text())
    evn = {o["name"]: o["value"] for o in ev["objectives"]}
    assert abs(evn["accuracy"] - names["accuracy"]["value"]) <= 0.02  # 8-bit post-training quantization
    assert evn["size_bytes"] < names["size_bytes"]["value"] / 3  # 8-bit weights, 32-bit biases
    assert ev["variant"] == "bits=8"
    assert evn["energy_pj@horowitz45:hierarchy"] < names["energy_pj@horowitz45:hierarchy"]["value"]  # 8-bit moves and multiplies less


def test_spaces_listing_and_samples(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "spaces")
    assert code == 0 and "lenet5" in out and "nb201" in out
    code, out, _ = run_cli(capsys, "spaces", "lenet", "--arch", "lenet5", "--input-shape", "1,32,32",
                           "--output", str(tmp_path / "s.json"))
    assert code == 0
    rec = json.loads((tmp_path / "s.json").read_text())
    assert {o["name"]: o["value"] for o in rec["objectives"]} == {"macs": 416_520, "params": 61_706}
    assert rec["budgets"] == {"input_shape": [1, 32, 32], "n_classes": 10} and len(rec["details"]["layers"]) == 5
    code, _, _ = run_cli(capsys, "spaces", "nb201", "--sample", "3", "--seed", "4", "--input-shape", "3,32,32",
                         "--output", str(tmp_path / "n.json"))
    first = [r["architecture"] for r in json.loads((tmp_path / "n.json").read_text())]
    run_cli(capsys, "spaces", "nb201", "--sample", "3", "--seed", "4", "--input-shape", "3,32,32", "--output", str(tmp_path / "n.json"))
    assert [r["architecture"] for r in json.loads((tmp_path / "n.json").read_text())] == first and len(first) == 3


def test_help_works(capsys):
    for cmd in ([], ["train"], ["evaluate"], ["spaces"]):
        code, out, _ = run_cli(capsys, *cmd, "--help")
        assert code == 0 and "Usage" in out



ROBUSTNESS_BAD = {
    "negative eps": (["--eps", "-0.1"], "eps: got -0.1, expected a number in [0, 1]"),
    "eps above 1": (["--eps", "0.1,2"], "eps: got 2, expected a number in [0, 1]"),
    "eps not a number": (["--eps", "big"], "--eps: got 'big'"),
    "unknown attack": (["--attacks", "pgd,deepfool"], "unknown attack 'deepfool'"),
    "unknown preset": (["--preset", "strongest"], "preset: got 'strongest'"),
    "too many images": (["--images", "100000"], "images: got 100000, the test split of 'digits' has 359 images"),
    "bad noise": (["--noise", "gaussian"], "--noise: got 'gaussian'"),
}


@pytest.mark.parametrize("case", sorted(ROBUSTNESS_BAD))
def test_robustness_bad_input(capsys, saved_model, case):
    args, message = ROBUSTNESS_BAD[case]
    code, out, err = run_cli(capsys, "robustness", saved_model, *args)
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err + out


def test_robustness_refuses_files_that_are_not_paretonet_models(capsys, tmp_path):
    (tmp_path / "w.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    code, _, err = run_cli(capsys, "robustness", str(tmp_path / "w.safetensors"))
    assert code == 2 and "w.json is missing" in err
    (tmp_path / "x.npy").write_bytes(b"\x93NUMPY\x01\x00")
    code, _, err = run_cli(capsys, "robustness", str(tmp_path / "x.npy"))
    assert code == 2 and "not a safetensors file" in err


def test_robustness_command_writes_every_number(capsys, saved_model, tmp_path):
    code, out, _ = run_cli(capsys, "robustness", saved_model, "--preset", "fast", "--eps", "0.05,0.2", "--images", "60",
                           "--noise", "gaussian:0.1,0.3", "--draws", "2", "--seed", "1", "--output", str(tmp_path / "r.json"))
    assert code == 0 and "sanity checks" in out and "accuracy under noise" in out
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["budgets"]["robust_images"] == 60 and [c["eps"] for c in r["details"]["robustness"]] == [0.05, 0.2]
    first = r["details"]["robustness"][0]
    assert sum(first["broken_by_counts"].values()) <= 60 and {a["name"] for a in first["attacks"]} == {"fgsm", "pgd"}
    assert len(first["sanity"]) == 8 and all("passed" in c for c in first["sanity"])
    objectives = {o["name"]: o for o in r["objectives"]}
    assert objectives["robust_accuracy@worst:fast:0.05"]["direction"] == "max"
    assert {"accuracy@noise:gaussian:0.1", "accuracy@noise:gaussian:0.3", "accuracy", "size_bytes"} <= set(objectives)
    assert objectives["robust_accuracy@worst:fast:0.2"]["value"] <= objectives["robust_accuracy@worst:fast:0.05"]["value"]


def test_variance_command(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "variance", "--arch", "lenet-tiny", "--arch", "native-same|c4k3-relu-max|f16-relu",
                           "--seeds", "2", "--epochs", "2", "--images", "50", "--output", str(tmp_path / "v.json"))
    assert code == 0 and "ranking flips" in out
    v = json.loads((tmp_path / "v.json").read_text())
    assert [r["seed"] for r in v] == [0, 1, 0, 1, -1, -1] and v[0]["details"]["seed_variance"]["seeds"] == [0, 1]
    assert 0.0 <= v[0]["details"]["ranking_flips"]["paired_flip_rate"] <= 1.0
    # over the seeds (seed -1): the mean, and the seed variance's 95 % t-interval in the interval field
    over = {o["name"]: o for o in v[4]["objectives"]}
    sv = v[4]["details"]["seed_variance"]
    per_seed = [{o["name"]: o["value"] for o in r["objectives"]} for r in v[:2]]
    assert over["accuracy"]["value"] == pytest.approx((per_seed[0]["accuracy"] + per_seed[1]["accuracy"]) / 2)
    assert over["accuracy"]["interval"][0] < over["accuracy"]["value"] < over["accuracy"]["interval"][1]
    assert over["robust_accuracy@worst:fast:0.1"]["interval"] == pytest.approx([sv["robust"]["ci95_low"],
                                                                               sv["robust"]["ci95_high"]])
    code, _, err = run_cli(capsys, "variance", "--arch", "lenet-tiny", "--seeds", "0")
    assert code == 2 and "--seeds: got 0" in err


def test_energy_command(capsys, saved_model, tmp_path):
    code, out, _ = run_cli(capsys, "energy", saved_model, "--output", str(tmp_path / "e.json"))
    assert code == 0 and "E_data" in out
    e = json.loads((tmp_path / "e.json").read_text())
    estimates = e["details"]["estimates"]
    assert [x["dataflow"] for x in estimates] == ["A", "B", "hierarchy"]
    a = estimates[0]
    assert e["objectives"][0] == {"name": "energy_pj@horowitz45:A", "value": pytest.approx(a["mac_pj"] + a["op_pj"] + a["data_pj"]),
                                  "unit": "pJ", "direction": "min"}
    assert e["objectives"][1]["name"] == "energy_mac_pj@horowitz45:A" and e["objectives"][1]["value"] == pytest.approx(a["mac_pj"])
    assert e["objectives"][2]["name"] == "energy_mult_pj@horowitz45:A" and e["objectives"][2]["value"] == pytest.approx(a["mult_pj"])
    assert 0 < a["mult_pj"] < a["mac_pj"]
    assert e["objectives"][3]["name"] == "energy_data_pj@horowitz45:A" and e["objectives"][3]["value"] == pytest.approx(a["data_pj"])
    assert set(estimates[2]["by_level_pj"]) == {"dram", "global_buffer", "array", "register_file"}
    code, _, _ = run_cli(capsys, "energy", saved_model, "--hardware", "eyeriss", "--bits", "4", "--dataflow", "B",
                         "--output", str(tmp_path / "e4.json"))
    e4 = json.loads((tmp_path / "e4.json").read_text())
    assert code == 0 and e4["objectives"][0]["name"] == "energy_mac16@eyeriss:B" and e4["variant"] == "bits=4"


ENERGY_BAD = {
    "bits out of range": (["--bits", "17"], "bits: got 17, expected an integer in 1..16"),
    "unknown dataflow": (["--dataflow", "C"], "dataflow: got 'C'"),
    "unknown hardware": (["--hardware", "tsmc7"], "hardware: got 'tsmc7'"),
}


@pytest.mark.parametrize("case", sorted(ENERGY_BAD))
def test_energy_bad_input(capsys, saved_model, case):
    args, message = ENERGY_BAD[case]
    code, _, err = run_cli(capsys, "energy", saved_model, *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_energy_malformed_hardware_file(capsys, saved_model, tmp_path):
    from paretonet.hw import HOROWITZ45

    d = HOROWITZ45.to_dict()
    d["levels"] = [lv for lv in d["levels"] if lv["name"] != "dram"][:0]
    (tmp_path / "hw.json").write_text(json.dumps(d))
    code, _, err = run_cli(capsys, "energy", saved_model, "--hardware", str(tmp_path / "hw.json"))
    assert code == 2 and "field levels: list should have at least 1 item" in err
    d = HOROWITZ45.to_dict()
    d["mult_pj_8x8"] = -0.2
    (tmp_path / "neg.json").write_text(json.dumps(d))
    code, _, err = run_cli(capsys, "energy", saved_model, "--hardware", str(tmp_path / "neg.json"))
    assert code == 2 and "field mult_pj_8x8: input should be greater than or equal to 0 (got -0.2)" in err
    for field, value in (("skip_zeros", "no"), ("unit", 5)):  # wrongly typed: refused, not taken as true / "5"
        (tmp_path / "typed.yaml").write_text(f"{json.dumps({**HOROWITZ45.to_dict(), field: value})}\n")
        code, _, err = run_cli(capsys, "energy", saved_model, "--hardware", str(tmp_path / "typed.yaml"))
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and f"field {field}:" in lines[0] and repr(value) in lines[0], err


COMPRESS_BAD = {
    "bits 0": (["--bits", "0"], "bits: got 0, expected an integer in 1..16"),
    "bits 17": (["--bits", "17"], "bits: got 17, expected an integer in 1..16"),
    "prune 1": (["--prune", "1"], "prune: got 1, expected a number in [0, 1)"),
    "negative prune": (["--prune", "-0.2"], "prune: got -0.2"),
    "channels 1": (["--channels", "1.0"], "channels: got 1"),
}


@pytest.mark.parametrize("case", sorted(COMPRESS_BAD))
def test_compress_bad_input(capsys, saved_model, case):
    args, message = COMPRESS_BAD[case]
    code, _, err = run_cli(capsys, "compress", saved_model, *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_compress_prints_before_and_after(capsys, saved_model, tmp_path):
    code, out, _ = run_cli(capsys, "compress", saved_model, "--bits", "8", "--images", "40", "--output",
                           str(tmp_path / "c.json"))
    assert code == 0 and "as trained" in out and "bits=8" in out
    c = json.loads((tmp_path / "c.json").read_text())
    before = {o["name"]: o["value"] for o in c[0]["objectives"]}
    after = {o["name"]: o["value"] for o in c[1]["objectives"]}
    assert set(before) == {"accuracy", "params", "macs", "robust_accuracy@worst:fast:0.1", "size_bytes",
                           "energy_pj@horowitz45:hierarchy", "energy_mac_pj@horowitz45:hierarchy", "energy_mult_pj@horowitz45:hierarchy",
                           "energy_data_pj@horowitz45:hierarchy"}
    assert after["size_bytes"] < before["size_bytes"] / 3 and after["energy_pj@horowitz45:hierarchy"] < before["energy_pj@horowitz45:hierarchy"]
    assert c[0]["variant"] == "" and c[1]["variant"] == "bits=8"
    assert "bits=8 vs as trained" in out


def test_every_table_command_prints_its_tables_as_csv_json_and_markdown(capsys, saved_model, tmp_path):
    """--format on every command that prints a table: the same cells as the terminal table, parseable; lines
    beside the tables go to stderr so stdout holds only the format."""
    import csv
    import io

    arch = json.loads(open(saved_model + ".json").read())["architecture"]
    commands = [["evaluate", saved_model], ["compress", saved_model, "--bits", "8", "--no-robust"],
                ["approx", saved_model, "--multiplier", "trunc:k=6", "--sensitivity", "--no-robust"],
                ["robustness", saved_model, "--preset", "fast", "--images", "10", "--eps", "0.1"],
                ["energy", saved_model, "--dataflow", "A"], ["noise", saved_model, "--outputs", "0.1", "--draws", "1"],
                ["faults", saved_model, "--bits", "8", "--rate", "0.01", "--trials", "1"],
                ["spaces", "lenet", "--arch", arch.removeprefix("lenet:")], ["multipliers"]]
    for args in commands:
        assert main([*args, "--format", "json"]) == 0, args
        tables = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert tables and all(t["rows"] and all(len(r) == len(t["columns"]) for r in t["rows"]) for t in tables), args
        assert main([*args, "--format", "csv"]) == 0, args
        blocks = capsys.readouterr().out.strip().split("\n\n")
        assert len(blocks) == len(tables), args
        for block, t in zip(blocks, tables):
            assert list(csv.reader(io.StringIO(block))) == [t["columns"], *t["rows"]], args
    assert main(["energy", saved_model, "--dataflow", "A", "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert md.startswith(f"**{arch}") and "| dataflow | E_MAC |" in md and "|---|---:|" in md
    assert main(["energy", saved_model, "--format", "xml"]) == 2
    assert "--format: got 'xml', expected one of table, csv, md, latex, json" in capsys.readouterr().err


def test_piped_tables_are_never_cut(capsys, saved_model, tmp_path):
    """Output to a pipe or file (not a terminal): no value cut with '…', no title broken over lines."""
    arch = json.loads(open(saved_model + ".json").read())["architecture"]
    commands = [["evaluate", saved_model], ["compress", saved_model, "--bits", "8", "--no-robust"],
                ["approx", saved_model, "--multiplier", "trunc:k=6", "--no-robust"],
                ["robustness", saved_model, "--preset", "fast", "--images", "20", "--noise", "gaussian:0.1", "--draws", "1"],
                ["energy", saved_model], ["noise", saved_model, "--outputs", "0.1", "--draws", "1"],
                ["faults", saved_model, "--bits", "8", "--rate", "0.01", "--trials", "1"],
                ["spaces", "lenet", "--arch", arch.removeprefix("lenet:")]]
    for args in commands:
        assert main(args) == 0, args
        text = capsys.readouterr().out
        assert "…" not in text, args
        assert any(arch in line for line in text.splitlines()), args  # the title (or the row) on one line


def test_help_off_a_terminal_is_never_cut(capsys):
    """Piped help keeps every option name and every summary whole (no '…' or '...' cuts)."""
    assert main(["--help"]) == 0
    top = capsys.readouterr().out
    assert "Train one architecture with a recipe and print its objectives (compress or evaluate --bits quantize it)." in top
    assert main(["robustness", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--attack-preset, --preset" in text and "APGD-CE+APGD-T+FAB-T+Square) or full." in text
    assert "…" not in top + text and "..." not in top.replace("[ARGS]...", "")


@pytest.mark.parametrize("names", [[], ["train"], ["evaluate"], ["search"], ["device"], ["device", "fit"],
                                   ["bench", "build"], ["predict", "evaluate"], ["compare"], ["faults"]])
def test_the_fast_help_is_the_help_typer_prints(capsys, names):
    """`paretonet CMD --help` skips typer's parsing (start-up); what it prints is what typer's own path prints."""
    import typer

    from paretonet.cli import app, help_text

    command = typer.main.get_command(app)
    assert main([*names, "--help"]) == 0
    fast = capsys.readouterr().out
    with pytest.raises(SystemExit):  # typer's own path: parse, run the eager --help callback, exit
        command.main(args=[*names, "--help"], prog_name="paretonet", standalone_mode=True)
    assert fast == capsys.readouterr().out == help_text(command, names) + "\n"
    assert help_text(command, ["nosuch"]) is None


def test_help_of_an_unknown_command_is_one_line_and_exit_2(capsys):
    assert main(["nosuch", "--help"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "nosuch" in lines[0], lines
