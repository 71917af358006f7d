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


def _browser_check(path: Path, divs: tuple[str, ...]) -> None:
    """Open an HTML page in Debian's headless chromium: no console errors, a plot drawn in every div."""
    import shutil

    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("no chromium + chromium-driver (Debian packages; .ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.get(path.resolve().as_uri())
        for div in divs:
            marks = driver.execute_script(
                f"const e = document.getElementById('{div}');"
                "return e ? e.querySelectorAll('svg .point, svg .bars path, svg path.js-line, svg g.parcoords .axis, svg .hm image')"
                ".length : -1")
            assert marks > 0, (div, marks)
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert not errors, errors
    finally:
        driver.quit()


@pytest.fixture
def draws_in_browser():
    """check(path, divs): the page opens in headless chromium without errors and every div holds a drawn plot
    (skips where chromium is absent)."""
    return _browser_check
