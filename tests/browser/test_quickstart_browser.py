"""The ``%%seedream`` quickstart in a real browser: live progress in blocking cells, galleries."""

from __future__ import annotations

import pytest
from jupyter_browser import JS_ERROR_OUTPUTS, Browse

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
except ImportError:  # pragma: no cover - the fixtures skip these tests then
    pass

QUICKSTART = "01-quickstart.ipynb"
BACKGROUND_CELL = (
    "%%seedream --background -r 2K later <<\na heron wading at dawn, in the background"
)

# Append a cell, run it, and return its index.
JS_RUN_NEW_CELL = """async (source) => {
  const app = window.jupyterapp;
  const nb = app.shell.currentWidget;
  const model = nb.content.model;
  model.sharedModel.insertCell(model.cells.length, {cell_type: "code", source});
  nb.content.activeCellIndex = model.cells.length - 1;
  await app.commands.execute("notebook:run-cell");
  return model.cells.length - 1;
}"""

# What saving would write for that cell, once it holds the final JPEG contact sheet.
JS_SAVED_SHEET = """(index) => {
  const cell = window.jupyterapp.shell.currentWidget.context.model.toJSON().cells[index];
  const out = (cell.outputs || []).find((o) => o.data && o.data["image/jpeg"]);
  if (!out) return false;
  const text = out.data["text/plain"];
  return {count: cell.execution_count, text: Array.isArray(text) ? text.join("") : text};
}"""


@pytest.mark.parametrize("ui", ["lab", "notebook7"])
def test_quickstart_shows_live_progress_and_galleries(browse: Browse, ui: str) -> None:
    b = browse
    if not (b.server.root / QUICKSTART).exists():
        pytest.fail(f"notebooks/{QUICKSTART} is missing")
    b.open_notebook(QUICKSTART, ui)
    b.record_progress()
    b.run_all(timeout_ms=90_000)  # resolves once every cell has run

    assert b.page.evaluate(JS_ERROR_OUTPUTS) == []
    tasks = b.page.locator(".sj-task")
    assert tasks.count() >= 4, "expected a TaskView per %%seedream cell"
    live = []
    for index in range(tasks.count()):
        task = tasks.nth(index)
        expect(task).to_have_attribute("data-status", "completed")
        b.images_loaded(task)
        seen = b.recorded(task)
        values = [int(v) for v in seen["values"]]
        if any(0 < v < 100 for v in values):
            live.append(values)
    # A blocking cell's view updates while the cell runs: intermediate values were shown.
    # (A view answered from the history cache jumps straight to 100, so not every one.)
    assert live, "no TaskView showed intermediate progress"
    group = b.page.locator(".sj-task", has_text="group ×3").first
    expect(group.locator(".sj-gallery img")).to_have_count(3)
    b.screenshot(f"{ui}-quickstart", group)

    # A --background cell returns at once; its view's final JPEG arrives after the cell has
    # returned, through the display id, and is what the saved notebook holds.
    index = b.call(JS_RUN_NEW_CELL, BACKGROUND_CELL)
    saved = b.page.wait_for_function(JS_SAVED_SHEET, arg=index).json_value()
    assert saved["count"] is not None and "completed" in saved["text"], saved
    assert "SIMULATED" in saved["text"], saved
    b.assert_clean()
