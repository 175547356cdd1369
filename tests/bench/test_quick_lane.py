"""The quick lane's list of slow tests (tests/conftest.py's SLOW) names tests that exist: a
renamed test would otherwise drop back into the quick lane unnoticed."""

from __future__ import annotations

import ast

from tests.conftest import ROOT, SLOW


def _test_functions() -> dict[str, set[str]]:
    """Each test file's stem -> the names of its test functions (files that share a stem pooled)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {
            n.name
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test")
        }
        found.setdefault(path.stem, set()).update(names)
    return found


def test_every_slow_entry_names_a_test_file_and_its_tests() -> None:
    found = _test_functions()
    missing = {
        f"{stem}::{name}"
        for stem, names in SLOW.items()
        for name in ([] if names is None else names)
        if name not in found.get(stem, set())
    }
    assert set(SLOW) <= set(found), set(SLOW) - set(found)
    assert not missing, sorted(missing)
