"""Numbers at their limits and paths a user cannot write: every file's number is finite and in range before it
reaches a Record, no Record is written with NaN or Infinity, nesting is bounded, a read-only place is said so."""

from __future__ import annotations

import json
import math
import subprocess

import pytest

from paretonet.cli import main


def _one_error(capsys, args: list[str], message: str) -> None:  # noqa: ANN001
    code = main(args)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err


def _hardware(**changes: object) -> dict:
    from paretonet.hw import HOROWITZ45

    d = HOROWITZ45.to_dict()
    levels = changes.pop("levels", None)
    if levels:
        d["levels"] = [{**d["levels"][0], **levels}]
    return {**d, **changes}


@pytest.mark.parametrize("case,text,message", [
    ("huge", json.dumps(_hardware(mult_pj_8x8=1e308)), "field mult_pj_8x8: input should be less than or equal to 1000000"),
    ("infinity", json.dumps(_hardware(add_pj_32=math.inf)), "Infinity is not a JSON number"),
    ("tiny reuse", json.dumps(_hardware(levels={"reuse_weights": 1e-308})),
     "field levels.0.reuse_weights: input should be greater than or equal to 0.001"),
    ("text power", json.dumps(_hardware(levels={"pj_per_bit": "abc"})), "field levels.0.pj_per_bit: input should be"),
    ("deep", "[" * 100_000 + "]" * 100_000, "JSON nested deeper than 64 levels"),
])
def test_a_hardware_file_is_finite_physical_and_shallow(capsys, saved_model, tmp_path, case, text, message):
    path = tmp_path / "hw.json"
    path.write_text(text)
    _one_error(capsys, ["energy", saved_model, "--hardware", str(path), "-o", str(tmp_path / "e.json")], message)
    assert not (tmp_path / "e.json").exists()


@pytest.fixture(scope="module")
def approx_model(saved_model, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("approx") / "a"
    assert main(["approx", saved_model, "--multiplier", "trunc:k=6", "--no-robust", "--save-model", str(path)]) == 0
    return str(path)


@pytest.mark.parametrize("field,value,message", [
    ("power_mw", "abc", "power_mw: input should be a valid number"),
    ("power_mw", 1e308, "power_mw: input should be less than or equal to 1000000000"),
    ("signed", "no", "signed: input should be a valid boolean"),
])
def test_a_models_multiplier_data_is_typed_and_in_range(capsys, approx_model, tmp_path, field, value, message):
    import shutil

    meta = json.loads(open(approx_model + ".json").read())
    layer = next(iter(meta["multipliers"]))
    meta["multipliers"][layer][field] = value
    shutil.copy(approx_model + ".safetensors", tmp_path / "m.safetensors")
    (tmp_path / "m.json").write_text(json.dumps(meta))
    _one_error(capsys, ["energy", str(tmp_path / "m")], message)


def test_compare_refuses_a_record_out_of_range(capsys, saved_model, tmp_path):
    assert main(["evaluate", saved_model, "-o", str(tmp_path / "r.json")]) == 0
    record = json.loads((tmp_path / "r.json").read_text())
    accuracy = next(o for o in record["objectives"] if o["name"] == "accuracy")
    for value, message in ((5.0, "got 5.0 for 'accuracy' (fraction), expected a number in [0, 1]"),
                           (None, "field objectives.0.value: input should be a valid number")):
        accuracy["value"] = value
        (tmp_path / "bad.json").write_text(json.dumps(record))
        _one_error(capsys, ["compare", str(tmp_path / "r.json"), str(tmp_path / "bad.json")], message)


def test_no_record_is_written_with_a_non_finite_number(tmp_path):
    from paretonet.errors import ConfigError
    from paretonet.records import Objective, Record

    record = Record("lenet:x", "digits", 0, (Objective("energy_pj@horowitz45:B", math.inf, "pJ", "min"),))
    with pytest.raises(ConfigError, match="a Record holds finite numbers only"):
        record.to_json()
    from paretonet.cli._common import write_json

    with pytest.raises(ConfigError, match="refusing to write"):
        write_json(tmp_path / "x.json", {"value": math.nan})
    assert not (tmp_path / "x.json").exists()


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody can write to, root included (chattr +i where root runs the tests, chmod otherwise)."""
    import os

    folder = tmp_path / "ro"
    folder.mkdir()
    root = os.geteuid() == 0
    if root:
        made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
    else:
        folder.chmod(0o555)
        made = True
    try:
        (folder / "probe").write_text("x")
        writable = True
    except OSError:
        writable = False
    if not made or writable:
        pytest.skip("cannot make a read-only folder here (chattr +i needs root on ext4-like file systems)")
    yield folder
    if root:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o755)


def test_a_read_only_run_folder_or_study_is_one_line(capsys, read_only_folder, tmp_path):
    _one_error(capsys, ["search", "--bench", "nb201-cifar10", "--trials", "5", "--output", str(read_only_folder)],
               f"--output: the run folder {read_only_folder} is not writable")
    run = tmp_path / "run"
    assert main(["search", "--bench", "nb201-cifar10", "--trials", "5", "--no-predictor", "--no-report",
                 "--output", str(run)]) == 0
    read_only = f"sqlite:///file:{run / 'study.db'}?mode=ro&uri=true"  # SQLite itself refuses every write
    _one_error(capsys, ["search", "--bench", "nb201-cifar10", "--trials", "10", "--no-predictor", "--no-report",
                        "--storage", read_only, "--output", str(tmp_path / "other")], "is read-only")


@pytest.mark.parametrize("args,message", [
    (["spaces", "--classes", "1"], "--classes: got 1, expected an integer >= 2"),
    (["multipliers", "--meta", "missing.json"], "--meta: 'missing.json' is not a file"),
])
def test_options_that_were_silently_accepted(capsys, args, message):
    _one_error(capsys, args, message)


def test_report_member_not_on_the_front_of_a_table_run(capsys, tmp_path):
    run = tmp_path / "run"
    assert main(["search", "--bench", "nb201-cifar10", "--trials", "5", "--no-predictor", "--output", str(run)]) == 0
    capsys.readouterr()
    _one_error(capsys, ["report", str(run), "--member", "99999"], "--member: trial 99999 is not on the front")
