"""Bring your own model: a network defined in a user's file, loaded by entry point, through the commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from paretonet.cli import main
from paretonet.data import DataConfig
from paretonet.hw.approx import ApproxLayer
from paretonet.modelfile import load_model
from paretonet.train import TrainConfig, train

USER_FILE = Path(__file__).parent / "usermodels" / "usernet.py"  # tests/modelfile/usermodels


def _user_model(folder: Path, factory: str, state: dict | None = None, **meta) -> Path:  # noqa: ANN003
    """What a user hands in: their file, a safetensors state dict, and the JSON beside it."""
    shutil.copy(USER_FILE, folder / "usernet.py")
    path = folder / factory
    save_file(state, str(path.with_suffix(".safetensors")))
    path.with_suffix(".json").write_text(json.dumps({"entry_point": f"usernet:{factory}", "input_shape": [1, 8, 8],
                                                     "n_classes": 10, "dataset": "digits", **meta}))
    return path


@pytest.fixture(scope="module")
def resnet(tmp_path_factory, digits):
    import importlib.util

    spec = importlib.util.spec_from_file_location("usernet_for_training", USER_FILE)
    user = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(user)
    torch.manual_seed(0)
    net = user.resnet()
    train(net, digits, TrainConfig(epochs=4, seed=0))
    folder = tmp_path_factory.mktemp("user")
    return _user_model(folder, "resnet", {k: v.contiguous() for k, v in net.state_dict().items()})


def test_an_entry_point_model_goes_through_the_commands(capsys, resnet, tmp_path):
    net, meta = load_model(resnet, trust_code=True)
    assert meta.architecture.startswith("entry:usernet:resnet@") and type(net).__name__ == "ResNet"
    commands = {"evaluate": ["evaluate"], "robustness": ["robustness", "--preset", "fast", "--images", "20"],
                "energy": ["energy", "--dataflow", "hierarchy"], "certify": ["certify", "--n", "50", "--n0", "10",
                                                                              "--images", "10", "--no-robust"],
                "compress": ["compress", "--bits", "8", "--no-robust"], "prune": ["compress", "--prune", "0.5", "--no-robust"],
                "approx": ["approx", "--multiplier", "trunc:k=6", "--no-robust", "--save-model", str(tmp_path / "approx_model")],
                "noise": ["noise", "--outputs", "0.1", "--draws", "2"], "faults": ["faults", "--bits", "8", "--trials", "2"]}
    for name, args in commands.items():
        out = tmp_path / f"{name}.json"
        assert main([args[0], str(resnet), "--trust-code", *args[1:], "-o", str(out)]) == 0, name
        doc = json.loads(out.read_text())
        records = doc if isinstance(doc, list) else [doc]
        assert all(r["architecture"] == meta.architecture for r in records), name
    energy = json.loads((tmp_path / "energy.json").read_text())
    kinds = {layer["kind"] for layer in energy["details"]["estimates"][0]["layers"]}
    assert "add" in kinds  # the residual sum is priced as data movement of its own
    assert "IBP skipped" in capsys.readouterr().out  # a residual block interval bounds do not know: said, not fatal
    # every conv and linear layer approximate, bit-exact against the int64 reference
    approx, ameta = load_model(tmp_path / "approx_model", trust_code=True)
    layers = [m for m in approx.modules() if isinstance(m, ApproxLayer)]
    assert len(layers) == 4 and ameta.entry_point == "usernet:resnet"
    seen = {}
    hooks = [m.register_forward_hook(lambda m, i, o: seen.__setitem__(m, i[0])) for m in layers]
    approx(torch.rand(3, 1, 8, 8))
    for h in hooks:
        h.remove()
    for m in layers:
        assert torch.equal(m(seen[m]).view(torch.int32), m.integer_reference(seen[m]).view(torch.int32))


def test_an_operation_the_energy_model_cannot_price_is_named(capsys, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("usernet_lstm", USER_FILE)
    user = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(user)
    path = _user_model(tmp_path, "lstm", {k: v.contiguous() for k, v in user.lstm().state_dict().items()})
    assert main(["energy", str(path), "--trust-code"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "energy: layer rnn (LSTM) is an operation the cost model cannot price" in err[0], err
    assert main(["evaluate", str(path), "--trust-code", "-o", str(tmp_path / "e.json")]) == 0  # the others work
    names = {o["name"] for o in json.loads((tmp_path / "e.json").read_text())["objectives"]}
    assert "accuracy" in names and not any(n.startswith("energy") for n in names)  # absent, not priced as zero
    assert "energy not measured" in capsys.readouterr().out


EVIL = """from pathlib import Path
Path(__file__).with_name("ran").write_text("the sender's code ran")
from usernet import resnet
"""


def test_code_that_came_with_a_model_runs_only_with_trust_code(capsys, resnet, tmp_path):
    """A model someone sent names an entry point in a module beside it: nothing of it runs unless the user says
    so for that run; a module installed in the environment needs no opt-in."""
    from safetensors.torch import load_file

    from paretonet.errors import ModelFileError
    from paretonet.modelfile import trusting_code

    state = load_file(str(resnet.with_suffix(".safetensors")))
    path = _user_model(tmp_path, "resnet", state, entry_point="evil:resnet")
    (tmp_path / "evil.py").write_text(EVIL)
    for command in (["energy"], ["evaluate"], ["robustness", "--images", "5"], ["compress", "--bits", "8"]):
        assert main([command[0], str(path), *command[1:]]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"would import and run {tmp_path / 'evil.py'}" in err[0] and "--trust-code" in err[0], err
    assert not (tmp_path / "ran").exists()
    with pytest.raises(ModelFileError, match="not installed in this environment"):
        load_model(path)
    assert main(["energy", str(path), "--trust-code", "--no-layers"]) == 0  # the user's choice, for this run
    assert (tmp_path / "ran").exists()
    (tmp_path / "ran").unlink()
    assert main(["energy", str(path), "--no-layers"]) == 2  # and only for that run
    with trusting_code():
        net, _ = load_model(path)
    assert type(net).__name__ == "ResNet"
    # an installed module runs without the opt-in, even with a file of its name beside the model
    path.with_suffix(".json").write_text(json.dumps({"entry_point": "torch.nn:Identity", "input_shape": [1, 8, 8],
                                                     "n_classes": 10, "dataset": "digits"}))
    save_file({}, str(path.with_suffix(".safetensors")))
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(EVIL)
    net, _ = load_model(path)
    assert type(net).__name__ == "Identity" and not (tmp_path / "ran").exists()


@pytest.mark.parametrize("case,message", [
    ("no module", "entry point 'nosuch:make' failed: ModuleNotFoundError"),
    ("not a module", "entry point 'usernet:not_a_module' returned a int, not a torch.nn.Module"),
    ("keys", "do not match entry point usernet:resnet: missing stem.0.weight"),
    ("shapes", "shape of head.2.weight (10, 64) vs (10, 128)"),
    ("pickle", "is a pickle"),
])
def test_bad_user_models_are_one_line_and_exit_2(capsys, resnet, tmp_path, case, message):
    from safetensors.torch import load_file

    state = load_file(str(resnet.with_suffix(".safetensors")))
    if case == "no module":
        path = _user_model(tmp_path, "resnet", state)
        meta = json.loads(path.with_suffix(".json").read_text())
        path.with_suffix(".json").write_text(json.dumps({**meta, "entry_point": "nosuch:make"}))
    elif case == "not a module":
        path = _user_model(tmp_path, "not_a_module", state)
    elif case == "keys":
        path = _user_model(tmp_path, "resnet", {k: v for k, v in state.items() if k != "stem.0.weight"})
    elif case == "shapes":
        path = _user_model(tmp_path, "resnet", {**state, "head.2.weight": torch.zeros(10, 64)})
    else:
        path = _user_model(tmp_path, "resnet", state)
        torch.save(state, path.with_suffix(".safetensors"))  # a pickle under the safetensors name
    assert main(["evaluate", str(path), "--trust-code"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


@pytest.fixture(scope="module")
def exported(resnet, tmp_path_factory):
    """The same network exported to ONNX by torch's exporter (batch norm kept as its own node)."""
    net, _ = load_model(resnet, trust_code=True)
    folder = tmp_path_factory.mktemp("onnx")
    path = folder / "resnet.onnx"
    torch.onnx.export(net, (torch.zeros(1, 1, 8, 8),), str(path), dynamo=False, do_constant_folding=False,
                      input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}})
    path.with_suffix(".json").write_text(json.dumps({"dataset": "digits"}))
    return path


def test_an_onnx_file_equals_onnxruntime_and_the_entry_point_model(capsys, resnet, exported, tmp_path):
    import numpy as np
    import onnxruntime

    net, meta = load_model(exported)
    x = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(5))
    session = onnxruntime.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    ref = session.run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        assert np.abs(net(x).numpy() - ref).max() <= 1e-5
    assert meta.architecture.startswith("onnx:") and meta.input_shape == (1, 8, 8) and meta.n_classes == 10
    by = {}
    for name, model in (("entry", resnet), ("onnx", exported)):
        assert main(["evaluate", str(model), "--trust-code", "-o", str(tmp_path / f"{name}.json")]) == 0
        by[name] = {o["name"]: o["value"] for o in json.loads((tmp_path / f"{name}.json").read_text())["objectives"]}
    for k in ("size_bytes", "params", "macs", "energy_pj@horowitz45:hierarchy", "energy_data_pj@horowitz45:hierarchy"):
        assert by["onnx"][k] == by["entry"][k], k  # the same network, priced the same
    assert abs(by["onnx"]["accuracy"] - by["entry"]["accuracy"]) <= 1 / 359 + 1e-12  # within one image
    out = tmp_path / "approx.json"
    assert main(["approx", str(exported), "--multiplier", "trunc:k=6", "--no-robust", "-o", str(out)]) == 0
    assert [r["architecture"] for r in json.loads(out.read_text())] == [meta.architecture] * 3


def test_bad_onnx_files_are_one_line_and_exit_2(capsys, exported, tmp_path):
    import onnx

    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a protobuf at all")
    model = onnx.load(str(exported))
    next(n for n in model.graph.node if n.op_type == "Relu").op_type = "Elu"  # an operator the converter does not know
    unknown = tmp_path / "unknown.onnx"
    onnx.save(model, str(unknown))
    nodataset = tmp_path / "nodataset.onnx"
    nodataset.write_bytes(exported.read_bytes())
    for path, message in ((broken, "does not parse"), (unknown, "(Elu): operator Elu is not supported; supported: Conv, Gemm"),
                          (nodataset, "name its dataset in")):
        if path is unknown:
            path.with_suffix(".json").write_text(json.dumps({"dataset": "digits"}))
        assert main(["evaluate", str(path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (path, err)


def test_variance_retrains_a_users_network_from_its_factory(capsys, tmp_path, monkeypatch):
    shutil.copy(USER_FILE, tmp_path / "usernet.py")
    monkeypatch.chdir(tmp_path)  # the user's folder: their module imports from here
    out = tmp_path / "v.json"
    assert main(["variance", "--arch", "entry:usernet:resnet", "--seeds", "2", "--epochs", "1", "--images", "20",
                 "-o", str(out)]) == 0
    records = json.loads(out.read_text())
    assert [r["architecture"] for r in records] == ["entry:usernet:resnet"] * 3 and records[2]["seed"] == -1
    accs = [next(o["value"] for o in r["objectives"] if o["name"] == "accuracy") for r in records[:2]]
    assert accs[0] != accs[1]  # two seeds, two initializations and shuffles
    from paretonet.pipeline import train_architecture

    again = train_architecture("entry:usernet:resnet", DataConfig("digits"),
                               TrainConfig(epochs=1, seed=0))
    assert again.record.value("accuracy") == accs[0]  # same seed, same network
    assert main(["variance", "--arch", "entry:nosuch:make", "--seeds", "1"]) == 2
    assert "--arch: entry point 'nosuch:make' failed: ModuleNotFoundError" in capsys.readouterr().err


def test_operations_called_as_functions_are_priced_or_named(capsys, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("usernet_functional", USER_FILE)
    user = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(user)
    relu = _user_model(tmp_path, "functional_relu", dict(user.functional_relu().state_dict()))
    assert main(["energy", str(relu), "--trust-code", "--dataflow", "hierarchy", "-o", str(tmp_path / "e.json")]) == 0
    layers = json.loads((tmp_path / "e.json").read_text())["details"]["estimates"][0]["layers"]
    assert any(layer["kind"] == "activation" and "relu" in layer["name"] for layer in layers)  # torch.relu priced
    pool = _user_model(tmp_path, "functional_pool", dict(user.functional_pool().state_dict()))
    capsys.readouterr()
    assert main(["energy", str(pool), "--trust-code"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "(max_pool2d called as a function) is an operation the cost model cannot price" in err[0]


def test_onnx_static_batches_absurd_dims_and_graphs_onnxruntime_rejects(capsys, tmp_path):
    """Plain `torch.onnx.export(model, x, ...)` fixes the batch at 1: loaded, checked image by image. Input dims are
    bounded before anything is allocated, and a graph onnxruntime refuses is one line, exit 2."""
    import onnx

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 6 * 6, 10)).eval()
    static = tmp_path / "static.onnx"
    torch.onnx.export(net, (torch.zeros(1, 1, 8, 8),), str(static), dynamo=False)
    static.with_suffix(".json").write_text(json.dumps({"dataset": "digits"}))
    assert [d.dim_value for d in onnx.load(str(static)).graph.input[0].type.tensor_type.shape.dim] == [1, 1, 8, 8]
    assert main(["evaluate", str(static), "-o", str(tmp_path / "e.json")]) == 0
    capsys.readouterr()
    cases = {}
    huge = onnx.load(str(static))
    for d, v in zip(huge.graph.input[0].type.tensor_type.shape.dim, (1, 100_000, 100_000, 100_000)):
        d.dim_value = v
    cases["huge"] = (huge, "input dims [1, 100000, 100000, 100000]; allowed a batch of at most 64")
    rejected = onnx.load(str(static))
    rejected.graph.output[0].type.tensor_type.elem_type = onnx.TensorProto.INT64  # the logits are float
    cases["rejected"] = (rejected, "onnxruntime cannot run it")
    for name, (model, message) in cases.items():
        path = tmp_path / f"{name}.onnx"
        onnx.save(model, str(path))
        path.with_suffix(".json").write_text(json.dumps({"dataset": "digits"}))
        assert main(["evaluate", str(path)]) == 2, name
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (name, err)
