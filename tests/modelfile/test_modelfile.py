from __future__ import annotations

import json
import pickle

import pytest
import torch

from paretonet import ModelMeta, load_model, save_model
from paretonet.errors import ModelFileError
from paretonet.spaces import Architecture, build_model


@pytest.fixture()
def saved(tmp_path):
    arch = Architecture.parse("lenet:lenet-tiny")
    model = build_model(arch, (1, 8, 8), 10, mean=[0.3], std=[0.2], seed=3).eval()
    meta = ModelMeta(str(arch), (1, 8, 8), 10, "digits", seed=3, metrics={"accuracy": 0.5})
    save_model(tmp_path / "m", model, meta)
    return tmp_path, model, meta


def test_round_trip_gives_identical_outputs(saved):
    folder, model, meta = saved
    x = torch.rand(4, 1, 8, 8)
    for path in ("m", "m.safetensors", "m.json"):
        loaded, lmeta = load_model(folder / path)
        assert torch.equal(loaded(x), model(x))
        assert lmeta.architecture == meta.architecture and lmeta.input_shape == (1, 8, 8)
        assert lmeta.metrics == {"accuracy": 0.5} and lmeta.paretonet_version
    assert json.loads((folder / "m.json").read_text())["dataset"] == "digits"


def test_pickles_are_refused_without_unpickling(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(Boom()))
    with pytest.raises(ModelFileError, match="is a pickle / torch.save file; paretonet never unpickles"):
        load_model(tmp_path / "evil.pkl")
    torch.save({"w": torch.zeros(2)}, tmp_path / "model.pt")
    with pytest.raises(ModelFileError, match="model.pt is a pickle / torch.save file"):
        load_model(tmp_path / "model.pt")
    # even when named like a safetensors file
    (tmp_path / "x.safetensors").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(tmp_path / "x.safetensors")


def test_corrupt_or_inconsistent_files(saved):
    folder, _, _ = saved
    (folder / "m.json").unlink()
    with pytest.raises(ModelFileError, match="m.json is missing"):
        load_model(folder / "m")
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(folder / "nothing")
    (folder / "junk.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(ModelFileError, match="not a safetensors file"):
        load_model(folder / "junk.safetensors")


def test_weights_that_do_not_fit_the_architecture(saved):
    folder, _, meta = saved
    d = json.loads((folder / "m.json").read_text())
    d["architecture"] = "lenet:lenet5"
    (folder / "m.json").write_text(json.dumps(d))
    with pytest.raises(ModelFileError, match="do not match architecture lenet:lenet5|do not match architecture lenet:r32"):
        load_model(folder / "m")


def test_a_safetensors_header_length_starting_with_0x80_is_not_taken_for_a_pickle(tmp_path):
    """The 8-byte little-endian header length may begin with the byte pickle protocol 2+ starts with."""
    import torch
    from safetensors.torch import save_file

    from paretonet.modelfile import _check_safetensors

    path = tmp_path / "w.safetensors"
    for pad in range(300):
        save_file({"w": torch.zeros(2)}, str(path), metadata={"pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    _check_safetensors(path)  # no error: a valid safetensors file
