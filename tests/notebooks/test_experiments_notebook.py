"""notebooks/03-prompt-experiments.ipynb: saved after a headless run, its sweep cells show the
labelled grid as a JPEG (no widget needed), so the notebook shows it when reopened anywhere."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path

import nbformat
from PIL import Image

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "03-prompt-experiments.ipynb"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def test_the_saved_notebook_shows_the_sweep_grids(
    tmp_path: Path, kernel_env: dict[str, str], run_notebook: Callable[..., None]
) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    run_notebook(nb, tmp_path, kernel_env)
    saved = tmp_path / "saved.ipynb"
    nbformat.write(nb, saved)
    reopened = nbformat.read(saved, as_version=4)
    sweep_cells = [
        c for c in reopened.cells
        if c.cell_type == "code" and ("sj.sweep(" in c.source or "--vary" in c.source)
    ]
    assert len(sweep_cells) == 2
    for cell in sweep_cells:
        data = [o.data for o in cell.outputs if o.output_type == "display_data"]
        grids = [d for d in data if "image/jpeg" in d and d["text/plain"].startswith("Sweep")]
        assert len(grids) == 1, cell.source
        sheet = Image.open(io.BytesIO(base64.b64decode(grids[0]["image/jpeg"])))
        assert sheet.format == "JPEG" and sheet.width > 300
        assert "SIMULATED" in grids[0]["text/plain"]
        assert not any(WIDGET_MIME in d for d in data)
        assert not any("text/html" in d and "sj-sweep-grid" in d["text/html"] for d in data)
    assert len(nbformat.writes(reopened)) < 1_000_000
