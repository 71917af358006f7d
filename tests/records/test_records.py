"""The one currency: every command writes Records, every Record describes the model its key names."""

from __future__ import annotations

import json

import pytest
import torch

from paretonet.cli import main
from paretonet.errors import ConfigError, ModelFileError
from paretonet.evaluate import evaluate_objectives
from paretonet.modelfile import ModelMeta, load_model, save_model
from paretonet.pipeline import load_for_eval
from paretonet.records import Objective, Record, records_from_json
from paretonet.spaces import Architecture
from paretonet.train import TrainConfig
from paretonet.variant import Variant, apply_variant

LUTS = ["--lut-dir", "LUTS"]


def _commands(model: str, out) -> dict[str, list[str]]:  # noqa: ANN001
    small = ["--images", "24", "--queries", "40"]
    return {
        "train": ["train", "--arch", "lenet-tiny", "--epochs", "1"],
        "evaluate": ["evaluate", model],
        "evaluate --bits": ["evaluate", model, "--bits", "4"],
        "spaces": ["spaces", "lenet", "--arch", "lenet5"],
        "robustness": ["robustness", model, "--preset", "fast", "--eps", "0.05,0.1", "--images", "24", "--queries", "40",
                       "--noise", "gaussian:0.1", "--draws", "2"],
        "variance": ["variance", "--arch", "lenet-tiny", "--seeds", "1", "--epochs", "1", "--images", "20"],
        "energy": ["energy", model, "--dataflow", "hierarchy"],
        "compress": ["compress", model, "--bits", "4", "--qat", "1", "--prune", "0.3", "--finetune", "1", *small],
        "compress channels": ["compress", model, "--channels", "0.25", "--no-robust"],
        "approx": ["approx", model, "--multiplier", "mul8u_L40", *LUTS, *small],
        "approx --sensitivity": ["approx", model, "--multiplier", "trunc:k=10", "--sensitivity", "--no-robust"],
        "bench build": ["bench", "build", "--n", "1", "--epochs", "1", "--images", "16", "--proxies", "params",
                        "--workers", "1", "--store", str(out / "b.db")],
    }


@pytest.fixture(scope="module")
def written(saved_model, shared, tmp_path_factory):
    """Every command that measures a model, run once with --output: {command: records}."""
    out = tmp_path_factory.mktemp("records")
    result = {}
    for name, args in _commands(saved_model, out).items():
        args = [str(shared / "evoapprox" / "luts") if a == "LUTS" else a for a in args]
        path = out / f"{name.replace(' ', '_')}.json"
        assert main([*args, "--output", str(path)]) == 0, name
        result[name] = records_from_json(json.loads(path.read_text()), name)
    return result


def test_every_command_writes_records_in_the_schema(written):
    for name, records in written.items():
        assert records, name
        for r in records:
            assert r.to_dict()["format"] == 1
            assert {"threads", "cpu_capability", "torch", "paretonet"} <= set(r.versions), name
            again = Record.from_dict(json.loads(r.to_json()))
            assert again == r, name
    assert [r.variant for r in written["approx"]] == ["", "multiplier=exact", "multiplier=mul8u_L40"]


def test_the_schema_refuses_what_is_not_a_record():
    good = Record("lenet:lenet5", "digits", 0, (Objective("accuracy", 0.9, "fraction", "max"),)).to_dict()
    for field, value, message in (("format", "1", "field format"), ("seed", 1.5, "field seed"),
                                  ("objectives", [{"name": "a", "value": "high", "unit": "", "direction": "max"}],
                                   "field objectives.0.value"),
                                  ("variant", None, "field variant"), ("extra", 1, "field extra")):
        with pytest.raises(ConfigError, match=message):
            Record.from_dict({**good, field: value}, "r.json")


def _float_model(saved_model):  # noqa: ANN202
    net, meta, data = load_for_eval(saved_model)
    cfg = TrainConfig.from_dict({**meta.train_config, "seed": 0})
    return net, meta, data, cfg


def test_no_record_pairs_one_model_with_another_models_numbers(written, saved_model, shared):
    """Rebuild every variant a command measured, independently, and measure it again: same numbers."""
    net, meta, data, cfg = _float_model(saved_model)
    arch = Architecture.parse(meta.architecture)
    float_acc = evaluate_objectives(net, data, ("accuracy",))[0].value
    checked = 0
    for name in ("evaluate --bits", "compress", "compress channels", "approx", "energy", "evaluate"):
        for r in written[name]:
            variant = Variant.parse(r.variant)
            vm = apply_variant(net, arch, data, variant, cfg if name != "evaluate --bits" else TrainConfig(),
                               (str(shared / "evoapprox" / "luts"),))
            assert str(vm.architecture) == r.architecture and str(vm.variant) == r.variant
            names = [o.name for o in r.objectives if o.name in ("accuracy", "size_bytes", "energy_pj@horowitz45:hierarchy")]
            again = {o.name: o.value for o in evaluate_objectives(vm.model, data, ("accuracy", "size_bytes", "energy"))}
            for n in names:
                assert r.value(n) == again[n], (name, r.variant, n)
            checked += len(names)
    assert checked >= 20
    # evaluate --bits 4 quantized for real: its accuracy is the quantized model's (checked above), whose
    # outputs are not the float model's; here it also moved the accuracy itself
    q4 = written["evaluate --bits"][0]
    assert q4.variant == "bits=4" and q4.value("size_bytes") < written["evaluate"][0].value("size_bytes") / 4
    quantized = apply_variant(net, arch, data, Variant(bits=4)).model
    assert not torch.equal(_outputs(quantized, data.test.x), _outputs(net, data.test.x))
    assert q4.value("accuracy") != float_acc


def _outputs(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


def test_every_variant_kind_saves_and_loads_bit_identically(saved_model, shared, tmp_path):
    net, meta, data, cfg = _float_model(saved_model)
    arch = Architecture.parse(meta.architecture)
    layers = ["1.0", "1.3", "1.7"]
    kinds = {
        "float": Variant(),
        "qat 4-bit": Variant(bits=4, qat=1),
        "channel-pruned": Variant(channels=0.25, finetune=1),
        "unstructured-pruned": Variant(prune=0.6, finetune=1),
        "mul8u_L40": Variant(multiplier="mul8u_L40"),
        "mixed per layer": Variant(multipliers=(f"{layers[0]}@mul8u_L40", f"{layers[1]}@drum:k=4",
                                                f"{layers[2]}@exact")),
    }
    x = data.test.x[:64]
    for kind, variant in kinds.items():
        vm = apply_variant(net, arch, data, variant, cfg, (str(shared / "evoapprox" / "luts"),))
        path = tmp_path / kind.replace(" ", "_")
        save_model(path, vm.model, ModelMeta(str(vm.architecture), meta.input_shape, meta.n_classes, meta.dataset,
                                             variant=str(vm.variant)))
        loaded, lmeta = load_model(path)
        assert lmeta.variant == str(vm.variant) and lmeta.architecture == str(vm.architecture)
        a, b = _outputs(vm.model, x), _outputs(loaded, x)
        assert torch.equal(a.view(torch.int32), b.view(torch.int32)), kind  # bit for bit
        assert evaluate_objectives(loaded, data, ("size_bytes", "energy")) == \
            evaluate_objectives(vm.model, data, ("size_bytes", "energy")), kind
    mixed = json.loads((tmp_path / "mixed_per_layer.json").read_text())["multipliers"]
    assert {v["name"] for v in mixed.values()} == {"mul8u_L40", "drum:k=4", "exact"}
    assert mixed[layers[0]]["power_mw"] == 0.189 and len(mixed[layers[0]]["sha256"]) == 64


def test_an_altered_multiplier_table_is_refused(saved_model, shared, tmp_path):
    from safetensors.torch import load_file, save_file

    net, meta, data, cfg = _float_model(saved_model)
    vm = apply_variant(net, Architecture.parse(meta.architecture), data, Variant(multiplier="mul8u_L40"), cfg,
                       (str(shared / "evoapprox" / "luts"),))
    save_model(tmp_path / "a", vm.model, ModelMeta(meta.architecture, meta.input_shape, meta.n_classes, meta.dataset,
                                                   variant="multiplier=mul8u_L40"))
    state = load_file(str(tmp_path / "a.safetensors"))
    key = next(k for k in state if k.startswith("paretonet.multiplier_table."))
    state[key] = state[key].clone()
    state[key][3, 5] += 1  # one product changed
    save_file(state, str(tmp_path / "a.safetensors"))
    with pytest.raises(ModelFileError, match="does not match its hash"):
        load_model(tmp_path / "a")


BAD_META = {
    "format as text": ({"format": "2"}, "field format: input should be a valid integer (got '2')"),
    "shape of words": ({"input_shape": ["a", 8, 8]}, "field input_shape.0: input should be a valid integer"),
    "classes as a word": ({"n_classes": "ten"}, "field n_classes: input should be a valid integer (got 'ten')"),
    "shape too short": ({"input_shape": [8, 8]}, "field input_shape: list should have at least 3 items"),
    "variant not a variant": ({"variant": "bits=four"}, "bits='four' is not"),
}


@pytest.mark.parametrize("case", sorted(BAD_META))
def test_bad_model_metadata_is_one_line_and_exit_2(capsys, saved_model, tmp_path, case):
    change, message = BAD_META[case]
    import shutil

    shutil.copy(saved_model + ".safetensors", tmp_path / "m.safetensors")
    meta = json.loads(open(saved_model + ".json").read())
    (tmp_path / "m.json").write_text(json.dumps({**meta, **change}))
    capsys.readouterr()
    code = main(["evaluate", str(tmp_path / "m")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def test_a_variant_is_not_relabelled(capsys, saved_model, tmp_path):
    """--bits on a model that is already a variant is refused rather than measured under a wrong key."""
    assert main(["compress", saved_model, "--bits", "8", "--no-robust", "--save-model", str(tmp_path / "q8")]) == 0
    capsys.readouterr()
    for cmd in (["evaluate", str(tmp_path / "q8"), "--bits", "4"], ["energy", str(tmp_path / "q8"), "--bits", "4"],
                ["compress", str(tmp_path / "q8"), "--bits", "4"]):
        code = main(cmd)
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and "already the variant 'bits=8'" in err[0], (cmd, err)
    assert main(["evaluate", str(tmp_path / "q8"), "--output", str(tmp_path / "e.json")]) == 0
    assert json.loads((tmp_path / "e.json").read_text())["variant"] == "bits=8"
