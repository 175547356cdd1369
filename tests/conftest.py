"""Shared fixtures. The tests never touch the network."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

os.environ.setdefault("DREAMLAB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]

# Under CI the property tests draw the same examples every run (a red CI is then reproducible);
# locally they explore new random examples each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() == "true":
    settings.load_profile("ci")
SAMPLES = ROOT / "dreamlab" / "assets" / "samples"


@pytest.fixture(autouse=True)
def _offline_torch_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point the torch hub cache at an empty temp dir: no test sees or fills the user's cache."""
    import torch

    hub = tmp_path_factory.getbasetemp() / "torch-hub"
    monkeypatch.setattr(torch.hub, "_hub_dir", str(hub))
    monkeypatch.setenv("DREAMLAB_OFFLINE", "1")


@pytest.fixture(autouse=True, scope="session")
def _private_dreamlab_dirs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Trained models and data sets go to temp folders, never the user's cache."""
    os.environ["DREAMLAB_MODELS"] = str(tmp_path_factory.mktemp("dreamlab-models"))
    os.environ["DREAMLAB_DATA"] = str(tmp_path_factory.mktemp("dreamlab-data"))


@pytest.fixture(scope="session")
def lite0():
    """The embedded EfficientNet-Lite0 on the CPU (loaded once per test session)."""
    from dreamlab.models import load_model

    return load_model("efficientnet_lite0", device="cpu")


@pytest.fixture(scope="session")
def chelsea() -> np.ndarray:
    from dreamlab.images import load_sample

    return load_sample("chelsea")


@pytest.fixture(scope="session")
def coffee() -> np.ndarray:
    from dreamlab.images import load_sample

    return load_sample("coffee")


@pytest.fixture
def own_models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh models folder (``DREAMLAB_MODELS``) for one test; not created until saved into."""
    folder = tmp_path / "models"
    monkeypatch.setenv("DREAMLAB_MODELS", str(folder))
    return folder


@pytest.fixture
def own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model registry as it is now, restored after the test: models a test saves and
    registers never reach later tests' ``list_models()``."""
    from dreamlab.models import registry

    registry.registered_names()  # the built-ins in first
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


@pytest.fixture(scope="session")
def playwright_driver():
    """The session's one Playwright driver: its sync API allows one at a time in a thread, so
    every browser fixture (tests/e2e, tests/serve) launches its Chromium from this one."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        yield pw


# The quick lane, `pytest -m "not e2e and not slow"`, leaves out the browser tests and these: the
# slowest of the rest on two shared cores (`pytest -m "not e2e" --durations=50`). Keyed by the
# test file's name and the test's name (None: the whole file), so a file may move to another
# folder; a test may also carry `@pytest.mark.slow` itself.
SLOW: dict[str, frozenset[str] | None] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests listed in :data:`SLOW` as ``slow``."""
    for item in items:
        stem = item.path.stem
        if stem not in SLOW:
            continue
        names = SLOW[stem]
        if names is None or getattr(item, "originalname", item.name) in names:
            item.add_marker(pytest.mark.slow)
