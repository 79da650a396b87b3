"""The layer order of DESIGN.md, held by reading every module's imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "seedream_jupyter"

# Lower index = higher layer. A module may import only from its own layer or above.
LAYERS: dict[str, int] = {
    "_version": 0,
    "catalog": 0,
    "errors": 1,
    "config": 1,
    "request": 1,
    "task": 1,
    "_loop": 2,
    "client": 2,
    "images": 3,
    "provenance": 4,
    "store": 4,
    "results": 5,
    "api": 6,
    "archive": 6,
    "display": 7,
    "magic": 8,
    "panel": 8,
}
# The simulator stands apart: it may use only these, and anyone may start it.
SIMULATOR_MAY_IMPORT = {"catalog", "request", "errors", "_version", "simulator"}
NOTEBOOK_LIBS = ("IPython", "ipywidgets", "anywidget", "traitlets", "ipykernel")
NOTEBOOK_LAYERS = {"display", "magic", "panel"}


def top_part(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    return rel.parts[0]


def layer_of(part: str) -> str:
    """A module's layer name: the package part, or its prefix (panel_form → panel)."""
    if part in LAYERS or part == "simulator":
        return part
    for name in sorted(LAYERS, key=len, reverse=True):
        if part.startswith(name + "_"):
            return name
    raise AssertionError(f"seedream_jupyter/{part} has no layer: add it to LAYERS")


def imports(path: Path) -> list[tuple[str, int]]:
    """(imported package part or library, line) for every import, lazy ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, int]] = []
    depth = len(path.relative_to(PACKAGE).parts) - 1
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.append((node.module or "", node.lineno))
            elif node.level > depth:  # reaches the package root
                if node.module:
                    found.append(("seedream_jupyter." + node.module, node.lineno))
                else:
                    found += [("seedream_jupyter." + a.name, node.lineno) for a in node.names]
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)
# Parsed at collection, before any test starts a thread: CPython 3.11's AST builder keeps one
# recursion counter per interpreter, so a parse racing another thread's (3.11 tracebacks parse
# source lines) can fail with "AST constructor recursion depth mismatch" (see gh-106905).
IMPORTS = {path: imports(path) for path in MODULES}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path: Path) -> None:
    me = layer_of(top_part(path))
    for name, line in IMPORTS[path]:
        where = f"{path.relative_to(PACKAGE)}:{line} imports {name}"
        if name.startswith("seedream_jupyter."):
            other = layer_of(name.split(".")[1])
            if me == "simulator":
                assert other in SIMULATOR_MAY_IMPORT, where
            elif other != "simulator" and other != me:
                assert LAYERS[other] <= LAYERS[me], f"{where}: upward import breaks the layers"
        elif name.split(".")[0] in NOTEBOOK_LIBS:
            assert me in NOTEBOOK_LAYERS, f"{where}: only display/magic/panel may use it"


def test_import_is_light() -> None:
    code = (
        "import sys, seedream_jupyter, seedream_jupyter.api;"
        "heavy = [m for m in ('PIL', 'IPython', 'ipywidgets', 'anywidget') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import seedream_jupyter pulled in: {out.stdout.strip()}"
