"""The architecture of DESIGN.md, held by tools: the import-linter contracts in pyproject.toml
(layers, no cycles, a simulator that imports only the catalog, IPython only in the notebook
layers), small modules, and a light ``import seedream_jupyter``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "seedream_jupyter"
MAX_MODULE_LINES = 450


def test_import_linter_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().split("contracts:")[-1].split("kept")[0]


@pytest.mark.parametrize(
    "path",
    sorted(PACKAGE.rglob("*.py")),
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_modules_stay_small(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{path.name} has {lines} lines: split it by job"


def test_import_is_light() -> None:
    code = (
        "import sys, seedream_jupyter, seedream_jupyter.api;"
        "heavy = [m for m in ('PIL', 'IPython', 'ipywidgets', 'anywidget') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import seedream_jupyter pulled in: {out.stdout.strip()}"
