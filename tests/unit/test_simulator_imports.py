"""The simulator imports nothing of the package but ``catalog``, so that its checks are its own:
a bug in the client's payload or validation is not mirrored by the server it is tested with."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIMULATOR = Path(__file__).resolve().parents[2] / "seedream_jupyter" / "simulator"
MODULES = sorted(SIMULATOR.glob("*.py"))


def package_imports(path: Path) -> set[str]:
    """The package modules (``catalog``, ``request``, ...) that one simulator file imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level >= 2:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("seedream_jupyter."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("seedream_jupyter."):
                    found.add(alias.name.split(".")[1])
    return found - {"simulator"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_the_simulator_imports_only_the_catalog(path: Path) -> None:
    assert package_imports(path) <= {"catalog"}, path.name


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_modules_stay_small(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, path.name
