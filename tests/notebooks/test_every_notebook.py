"""Every notebook in notebooks/ runs top to bottom headless, with no key, without an error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_without_errors(
    path: Path,
    tmp_path: Path,
    kernel_env: dict[str, str],
    sentinel_key: str,
    run_notebook: Callable[..., None],
) -> None:
    nb = nbformat.read(path, as_version=4)
    run_notebook(nb, tmp_path, kernel_env)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert outputs, "the notebook produced no output at all"
    errors = [o for o in outputs if o.output_type == "error"]
    assert errors == [], errors[0].get("evalue") if errors else ""
    assert sentinel_key not in nbformat.writes(nb)
