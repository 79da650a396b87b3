"""The first ten minutes in a real browser: a notebook that reopens with its images, a Cancel
that cancels in a blocking cell, "Stop waiting" once a task has started, and screenshots of
each surface in light and dark at 1024 and 1440 px wide (``test-artifacts/``)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from jupyter_browser import (
    JS_OUTPUT_IMAGES,
    JS_SAVE,
    JS_SET_THEME,
    JS_START_ALL,
    SLOW_KERNEL,
    SLOW_WORK_KERNEL,
    Browse,
    write_notebook,
)

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
except ImportError:  # pragma: no cover - the fixtures skip these tests then
    pass

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# The cell's execution count stays empty while it runs (Lab's kernel status is not a guide:
# it also follows the control channel's requests).
JS_COUNT = """(index) => window.jupyterapp.shell.currentWidget.model.toJSON()
  .cells[index].execution_count"""
LIGHT, DARK = "JupyterLab Light", "JupyterLab Dark"

# Every kind of output: %%seedream, sj.generate, a group, a sweep and the panel.
EVERY_KIND = [
    "%load_ext seedream_jupyter\nimport seedream_jupyter as sj",
    "%%seedream -a 16:9 fox <<\nA red fox in fresh snow at dawn",
    'lighthouse = sj.generate("a lighthouse on a cliff at dusk", aspect_ratio="3:4")\nlighthouse',
    "%%seedream -g 3 seasons <<\nThe same mountain lake in spring, summer and autumn",
    's = sj.sweep("a {animal} in ink wash", animal=["heron", "crane"], seed=7)\ns',
    'panel = sj.Panel("a paper boat on a pond")\npanel',
]
# images each cell shows once reopened: fox 1, lighthouse 1, seasons 3, sweep 2, panel run 1
REOPENED_IMAGES = 8


def _open(b: Browse, path: str, ui: str) -> None:
    b.open_notebook(path, ui)


def _cell_outputs(b: Browse, name: str) -> list[list[dict[str, Any]]]:
    nb = json.loads((b.server.root / name).read_text(encoding="utf-8"))
    return [cell.get("outputs", []) for cell in nb["cells"]]


@pytest.mark.parametrize("ui", ["lab", "notebook7"])
def test_a_saved_notebook_reopens_with_every_image(browse: Browse, ui: str) -> None:
    b = browse
    name = write_notebook(b.server.root, f"every-kind-{ui}.ipynb", EVERY_KIND)
    _open(b, name, ui)
    b.run_all(timeout_ms=120_000)
    panel = b.page.locator(".sjp-panel").first
    panel.locator(".sjp-generate").click()
    run = panel.locator(".sjp-runs .sj-task").first
    expect(run).to_have_attribute("data-status", "completed")
    b.images_loaded(run)
    live = b.page.locator(".sj-task")
    for index in range(live.count()):
        expect(live.nth(index)).to_have_attribute("data-status", "completed")
    # the panel's record (under it, hidden while live) has caught up with the run
    b.page.wait_for_function(
        """() => {
          const cells = window.jupyterapp.shell.currentWidget.context.model.toJSON().cells;
          const outs = cells[cells.length - 1].outputs || [];
          return outs.some((o) => o.data && o.data["text/html"] && o.data["image/jpeg"]);
        }"""
    )
    b.screenshot(f"{ui}-every-kind-live", run)
    assert b.call(JS_SAVE) == name

    # On disk: our outputs are in their static form (no widget view), with their images.
    outputs = _cell_outputs(b, name)
    for cell in outputs:
        for output in cell:
            data = output.get("data", {})
            if "seedream_jupyter" in output.get("metadata", {}):
                assert WIDGET_MIME not in data, output.get("metadata")
    with_images = [o for cell in outputs for o in cell if "image/jpeg" in o.get("data", {})]
    assert len(with_images) >= 5, [list(o.get("data", {})) for c in outputs for o in c]

    # Shut the kernel down and reload the page: a new session opens the saved file.
    b.server.shutdown_kernels()
    _open(b, name, ui)  # a new page load: nothing of the old session is left in it
    b.page.wait_for_function(
        "(n) => [...document.querySelectorAll('.jp-OutputArea-output img')]"
        ".filter((i) => i.complete && i.naturalWidth > 0).length >= n",
        arg=REOPENED_IMAGES,
        timeout=30_000,
    )
    time.sleep(2.5)  # the widget manager gives a missing model 2 s before it says so
    seen = b.page.evaluate(JS_OUTPUT_IMAGES)
    assert seen["failures"] == [], seen
    assert seen["loaded"] == seen["total"] >= REOPENED_IMAGES, seen
    assert all(seen["alts"]), f"an image without alt text: {seen['alts']}"
    for theme, label in ((LIGHT, "light"), (DARK, "dark")):
        if ui == "lab":
            b.call(JS_SET_THEME, theme)
        b.page.locator(".jp-OutputArea-output img").first.scroll_into_view_if_needed()
        b.screenshot(f"{ui}-reopened-{label}")
        if ui != "lab":
            break
    if ui == "lab":
        b.call(JS_SET_THEME, LIGHT)
    b.assert_clean()


def test_cancel_in_a_blocking_cell(browse: Browse, slow_sim: Any) -> None:
    b = browse
    name = write_notebook(
        b.server.root,
        "blocking-cancel.ipynb",
        ["%load_ext seedream_jupyter", "%%seedream waiting <<\na fox that waits in the queue"],
        kernel=SLOW_KERNEL,
    )
    _open(b, name, "lab")
    before = set(slow_sim.task_ids())
    cancels = slow_sim.stats.cancels
    b.call(JS_START_ALL)
    task = b.page.locator(".sj-task").first
    expect(task).to_have_attribute("data-status", "queued")
    cancel = task.locator(".sj-cancel")
    expect(cancel).to_be_visible()
    expect(cancel).to_have_text("Cancel")
    expect(cancel).to_have_attribute(
        "title", "cancel the task on the server: a queued task is refunded"
    )
    assert b.page.evaluate(JS_COUNT, 1) is None, "the cell should still be running (it blocks)"
    b.screenshot("lab-blocking-queued", task)
    cancel.click()
    expect(task).to_have_attribute("data-status", "cancelled")
    expect(task.locator(".sj-note")).to_contain_text("cancelled on the server (refunded)")
    (task_id,) = [t for t in slow_sim.task_ids() if t not in before]
    assert slow_sim.stats.cancels == cancels + 1
    assert str(slow_sim.task(task_id).status) == "cancelled"
    b.page.wait_for_function(f"() => ({JS_COUNT})(1) !== null")
    # said once: the view's note, no error output, no second message
    text = b.page.locator(".jp-Cell").nth(1).inner_text()
    assert text.count("refunded") == 1, text
    assert "Error" not in text and "Traceback" not in text, text
    b.screenshot("lab-blocking-cancelled", task)
    # the kernel is still usable
    b.page.evaluate(
        """async () => {
          const app = window.jupyterapp, nb = app.shell.currentWidget, m = nb.content.model;
          m.sharedModel.insertCell(m.cells.length, {cell_type: "code", source: "6 * 7"});
          nb.content.activeCellIndex = m.cells.length - 1;
          await app.commands.execute("notebook:run-cell");
        }"""
    )
    expect(b.page.locator(".jp-Cell").last.locator(".jp-OutputArea-output")).to_contain_text("42")
    b.assert_clean()


def test_stop_waiting_once_the_task_has_started(browse: Browse, slow_work_sim: Any) -> None:
    b = browse
    name = write_notebook(
        b.server.root,
        "blocking-stop.ipynb",
        ["%load_ext seedream_jupyter", "%%seedream -r 4K later <<\na heron that takes its time"],
        kernel=SLOW_WORK_KERNEL,
    )
    _open(b, name, "lab")
    b.call(JS_START_ALL)
    task = b.page.locator(".sj-task").first
    expect(task).to_have_attribute("data-status", "processing")
    stop = task.locator(".sj-stop")
    expect(stop).to_be_visible()
    expect(stop).to_have_text("Stop waiting")
    assert "saved when it completes" in (stop.get_attribute("title") or "")
    expect(task.locator(".sj-cancel")).to_be_hidden()  # a started task cannot be cancelled
    b.screenshot("lab-blocking-processing", task)
    assert b.page.evaluate(JS_COUNT, 1) is None, "the cell should still be running (it blocks)"
    stop.click()
    b.page.wait_for_function(f"() => ({JS_COUNT})(1) !== null", timeout=10_000)
    cell = b.page.locator(".jp-Cell").nth(1)
    expect(cell).to_contain_text("Stopped waiting")
    assert cell.inner_text().count("Stopped waiting") == 1
    expect(task).to_have_attribute("data-status", "processing")  # it goes on
    expect(task).to_have_attribute("data-status", "completed", timeout=90_000)
    # the view's output is then brought up to date (re-rendered) with its static images
    b.page.wait_for_function(
        """() => (window.jupyterapp.shell.currentWidget.model.toJSON().cells[1].outputs || [])
          .some((o) => o.data && o.data["image/jpeg"])""",
        timeout=30_000,
    )
    task = b.page.locator(".sj-task").first
    b.images_loaded(task)
    b.screenshot("lab-blocking-stopped-then-completed", task)
    b.assert_clean()


@pytest.mark.parametrize("width", [1024, 1440])
def test_screenshots_light_and_dark(browse: Browse, width: int) -> None:
    b = browse
    b.page.set_viewport_size({"width": width, "height": 1000})
    name = write_notebook(
        b.server.root,
        f"surfaces-{width}.ipynb",
        [
            "%load_ext seedream_jupyter\nimport seedream_jupyter as sj",
            "%%seedream -a 16:9 fox <<\nA red fox in fresh snow at dawn",
            "%%seedream -g 3\nThe same mountain lake in spring, summer and autumn",
            'sj.generate("a lighthouse on a cliff at dusk", aspect_ratio="3:4")',
            "%seedream history 5",
            "%seedream models",
            'panel = sj.Panel("a paper boat on a pond")\npanel',
        ],
    )
    _open(b, name, "lab")
    b.run_all(timeout_ms=120_000)
    panel = b.page.locator(".sjp-panel").first
    panel.locator(".sjp-generate").click()
    expect(panel.locator(".sjp-runs .sj-task").first).to_have_attribute("data-status", "completed")
    cells = b.page.locator(".jp-Cell")
    for theme, label in ((LIGHT, "light"), (DARK, "dark")):
        b.call(JS_SET_THEME, theme)
        shots = ((1, "taskview"), (2, "group"), (3, "helper"), (4, "history"), (5, "models"))
        for index, surface in shots:
            cells.nth(index).evaluate("(el) => el.scrollIntoView({block: 'start'})")
            b.page.screenshot(path=str(b.screenshot_path(f"{width}-{label}-{surface}")))
        cells.nth(6).evaluate("(el) => el.scrollIntoView({block: 'start'})")
        b.page.screenshot(path=str(b.screenshot_path(f"{width}-{label}-panel")))
        panel.locator(".sjp-runs").evaluate("(el) => el.scrollIntoView({block: 'start'})")
        b.page.screenshot(path=str(b.screenshot_path(f"{width}-{label}-panel-run")))
        # nothing in the panel is clipped: every label's text fits its box
        clipped = panel.evaluate(
            """(root) => [...root.querySelectorAll('.widget-label, .sjp-cost, .sjp-not-offered')]
              .filter((el) => el.offsetParent && el.scrollWidth > el.clientWidth + 1)
              .map((el) => el.textContent)"""
        )
        assert clipped == [], f"clipped at {width} px ({label}): {clipped}"
    b.call(JS_SET_THEME, LIGHT)
    b.assert_clean()
