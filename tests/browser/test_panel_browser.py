"""The panel in a real browser, in JupyterLab 4 and in Notebook 7.

Each test opens ``02-panel.ipynb`` through the app's command API, runs it, and works the
form like a person would: fill in, pick, click. See ``conftest.py`` for the server, the
guards (no request leaves 127.0.0.1, no console errors, no dialogs) and the helpers.
"""

from __future__ import annotations

from typing import Any

import pytest
from jupyter_browser import JS_EXECUTION_COUNTS, SENTINEL_KEY, SLOW_NOTEBOOK, Browse

from seedream_jupyter import catalog

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
except ImportError:  # pragma: no cover - the fixtures skip these tests then
    pass

UIS = ("lab", "notebook7")
XSS = "<img src=x onerror=alert(1)>"


def _png_1px() -> bytes:
    """A real one-pixel PNG (uploads are fully decoded before anything is sent)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 60, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG_1PX = _png_1px()


# The panel cell's outputs in the notebook model (what a save writes), once its record has a
# JPEG; and how many images show in that cell outside the live panel.
JS_SAVED_PANEL_SHEET = """() => {
  const nb = window.jupyterapp.shell.currentWidget;
  const cells = nb.context.model.toJSON().cells;
  const joined = (v) => (Array.isArray(v) ? v.join("") : v || "");
  const index = cells.findIndex((c) => joined(c.source).includes("sj.Panel()"));
  const outputs = cells[index].outputs || [];
  const record = outputs.find((o) => o.data && o.data["image/jpeg"]);
  if (!record) return false;
  const node = nb.content.widgets[index].node;
  const images = [...node.querySelectorAll(".jp-OutputArea-output img")];
  return {
    jpeg_chars: record.data["image/jpeg"].length,
    text: joined(record.data["text/plain"]),
    alt: ((record.metadata || {})["image/jpeg"] || {}).alt || "",
    stray_images: images.filter((img) => !img.closest(".sjp-panel")).length,
  };
}"""


def open_panel(b: Browse, ui: str, notebook: str = "02-panel.ipynb") -> Any:
    """Open the notebook, run all its cells, and return the panel's locator."""
    b.open_notebook(notebook, ui)
    b.run_all()
    panel = b.page.locator(".sjp-panel").first
    panel.locator(".sjp-generate").wait_for()
    return panel


def pick_model(panel: Any, model_id: str) -> None:
    spec = catalog.MODELS[model_id]
    select = panel.locator(".sjp-model select")
    label = select.locator("option", has_text=spec.label).first.text_content()
    select.select_option(label=label)


@pytest.mark.parametrize("ui", UIS)
def test_generate_shows_live_progress_and_images(browse: Browse, ui: str) -> None:
    b = browse
    if ui == "notebook7":  # Notebook 7's file browser is the way in
        b.goto("/tree")
        expect(b.page.locator(".jp-DirListing-content")).to_contain_text("02-panel.ipynb")
    panel = open_panel(b, ui)
    expect(panel.locator(".sjp-sim")).to_contain_text("SIMULATED")

    panel.locator("textarea.sjp-prompt").fill("a lighthouse on a cliff at dusk, oil painting")
    pick_model(panel, "doubao-seedream-5.0-lite")
    # Switching model re-reads the catalog: 5.0-lite offers 3K but not edit.
    three_k = panel.locator(".sjp-choice-3k")
    expect(three_k).to_be_enabled()
    expect(panel.locator(".sjp-choice-edit")).to_be_disabled()
    expect(panel.locator(".sjp-choice-edit")).to_have_attribute(
        "title", "5.0-lite does not support edit (4.5, 4.0 do)"
    )
    expect(panel.locator(".sjp-not-offered")).to_contain_text("not on 5.0-lite")
    three_k.click()
    count = panel.locator(".sjp-count input")
    count.fill("3")
    count.blur()
    expect(panel.locator(".sjp-cost")).to_contain_text("3 images × $0.02975")
    expect(panel.locator(".sjp-cost")).to_contain_text("3072×3072 px")

    b.record_progress()
    panel.locator(".sjp-generate").click()
    task = panel.locator(".sjp-runs .sj-task").first
    expect(task).to_have_attribute("data-status", "completed")
    b.images_loaded(task)
    expect(task.locator(".sj-gallery img")).to_have_count(3)
    expect(task.locator(".sj-title")).to_contain_text("doubao-seedream-5.0-lite")
    expect(task.locator(".sj-badge-sim")).to_be_visible()

    seen = b.recorded(task)
    values = [int(v) for v in seen["values"]]
    assert len(set(values)) >= 2, f"the progress bar took only {values}"
    assert any(0 < v < 100 for v in values), f"no intermediate progress: {values}"
    assert values[-1] == 100
    assert "processing" in seen["statuses"], seen["statuses"]

    # The run's Result is reachable: panel.results[0], and "→ variable" stores it.
    expect(panel.locator(".sjp-run-label").first).to_have_text("3 images · panel.results[0]")
    panel.locator(".sjp-var-name input").first.fill("lighthouse")
    panel.locator(".sjp-to-var").first.click()
    expect(panel.locator(".sjp-run-message").first).to_contain_text(
        "lighthouse = panel.results[0] (3 images)"
    )
    b.screenshot(f"{ui}-panel-generate", task)

    # What saving would write: the panel's cell now also holds a JPEG contact sheet of the
    # run (updated through its display id after the cell returned), hidden in the live page.
    sheet = b.page.wait_for_function(JS_SAVED_PANEL_SHEET).json_value()
    assert sheet["jpeg_chars"] > 1000 and "1 run, 3 images" in sheet["text"], sheet
    assert sheet["alt"].startswith("[SIMULATED] Seedream panel:"), sheet
    assert sheet["stray_images"] == 0, "the record must not show in the live notebook"
    b.assert_clean()


@pytest.mark.parametrize("ui", UIS)
def test_cancel_a_queued_run(browse: Browse, ui: str, slow_sim: Any) -> None:
    b = browse
    panel = open_panel(b, ui, SLOW_NOTEBOOK)
    before = set(slow_sim.task_ids())
    panel.locator("textarea.sjp-prompt").fill("a lighthouse that waits in the queue")
    runs = panel.locator(".sjp-runs .sj-task")
    panel.locator(".sjp-generate").click()
    expect(runs).to_have_count(1)
    expect(runs.first).to_have_attribute("data-status", "queued")
    panel.locator(".sjp-generate").click()  # several runs in flight, newest first
    expect(runs).to_have_count(2)
    expect(runs.nth(0)).to_have_attribute("data-status", "queued")
    expect(runs.nth(1)).to_have_attribute("data-status", "queued")
    new = [t for t in slow_sim.task_ids() if t not in before]
    assert len(new) == 2
    expect(runs.nth(0).locator(".sj-id-text")).to_have_text(new[1])
    expect(runs.nth(1).locator(".sj-id-text")).to_have_text(new[0])
    # Generate did not block the kernel: it is idle while both tasks wait.
    b.page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
        " === 'idle'"
    )

    cancels = slow_sim.stats.cancels
    runs.nth(0).locator(".sj-cancel").click()
    expect(runs.nth(0)).to_have_attribute("data-status", "cancelled")
    expect(runs.nth(0).locator(".sj-note")).to_contain_text("cancelled on the server")
    assert slow_sim.stats.cancels == cancels + 1
    assert slow_sim.task(new[1]).status == "cancelled"
    assert slow_sim.task(new[0]).status == "queued"
    expect(runs.nth(1)).to_have_attribute("data-status", "queued")
    b.screenshot(f"{ui}-panel-cancel", runs.nth(0))

    runs.nth(1).locator(".sj-cancel").click()
    expect(runs.nth(1)).to_have_attribute("data-status", "cancelled")
    assert slow_sim.task(new[0]).status == "cancelled"
    assert SENTINEL_KEY not in b.page.content()
    b.assert_clean()


@pytest.mark.parametrize("ui", UIS)
def test_user_text_is_shown_as_text(browse: Browse, ui: str) -> None:
    b = browse
    panel = open_panel(b, ui)
    counts = b.page.evaluate(JS_EXECUTION_COUNTS)

    # File names are user text too: one real image, one that is not an image.
    with b.page.expect_file_chooser() as chooser:
        panel.locator(".sjp-upload").click()
    chooser.value.set_files(
        [
            {"name": f"{XSS}.png", "mimeType": "image/png", "buffer": PNG_1PX},
            {"name": f"{XSS}.txt", "mimeType": "text/plain", "buffer": b"not an image"},
        ]
    )
    expect(panel.locator(".sjp-ref")).to_have_count(1)
    expect(panel.locator(".sjp-ref img")).to_have_count(1)
    expect(panel.locator(".sjp-ref")).to_contain_text("<img src=x on")
    expect(panel.locator(".sjp-form")).to_contain_text(f"{XSS}.txt: images must be")
    panel.locator(".sjp-ref-remove").click()
    expect(panel.locator(".sjp-ref")).to_have_count(0)

    prompt = f"a lantern festival {XSS} over a river"
    area = panel.locator("textarea.sjp-prompt")
    area.fill(prompt)
    area.press("Control+Enter")  # the prompt's own shortcut: generate, not "run cell"
    task = panel.locator(".sjp-runs .sj-task").first
    expect(task).to_have_attribute("data-status", "completed")
    expect(task.locator(".sj-prompt")).to_contain_text(XSS)
    panel.locator(".sjp-show-request").click()
    expect(panel.locator(".sjp-request pre")).to_contain_text(f'"prompt": "{prompt}"')
    b.images_loaded(task)

    assert b.page.locator('img[src="x"]').count() == 0
    assert b.page.evaluate(JS_EXECUTION_COUNTS) == counts, "Ctrl+Enter re-ran a cell"
    b.screenshot(f"{ui}-panel-escaping", task)
    b.assert_clean()  # includes: no dialog (alert) opened
