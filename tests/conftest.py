from __future__ import annotations

from pathlib import Path

import pytest

from paretonet.data import DataConfig, load_dataset

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def digits():
    return load_dataset(DataConfig("digits", seed=0))


@pytest.fixture(scope="session")
def synthetic():
    return load_dataset(DataConfig("synthetic", seed=0))


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"reference data {SHARED} is absent")
    return SHARED


@pytest.fixture(scope="session")
def saved_model(tmp_path_factory):
    """A lenet-tiny trained for 3 epochs on digits and saved: input for the model-file commands."""
    from paretonet.cli import main

    folder = tmp_path_factory.mktemp("model")
    assert main(["train", "--arch", "lenet-tiny", "--epochs", "3", "--save-model", str(folder / "m")]) == 0
    return str(folder / "m")
