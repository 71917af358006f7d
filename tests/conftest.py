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
