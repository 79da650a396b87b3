"""Issue 11, the first ten minutes: static forms that reopen everywhere (and the pre-save hook
that writes them), an awaiting blocking cell whose Cancel / Stop waiting work, gallery sizes,
honest tables, and the help. Jobs run against ``simulator.mock`` (no sockets)."""

from __future__ import annotations

import asyncio
import base64
import html
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from PIL import Image

from seedream_jupyter import api, catalog, magic, simulator
from seedream_jupyter.client import Client
from seedream_jupyter.display import gallery, saving, tables
from seedream_jupyter.display.formatters import result_html
from seedream_jupyter.display.taskview import TaskView, thumbnail_side
from seedream_jupyter.magic import awaiting
from seedream_jupyter.magic.commands import models_table
from seedream_jupyter.magic.help import help_text
from seedream_jupyter.panel.form import PanelForm
from seedream_jupyter.request import GenerationRequest
from seedream_jupyter.session import session

WIDGET_MIME = saving.WIDGET_MIME
XSS = "<img src=x onerror=alert(1)>"


def jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Every job of the session goes to a mock simulator, history in ``tmp_path``."""
    with simulator.mock(speed=50, jitter=0) as mocked:
        client = Client(
            api_key="sk-first-minutes-0123456789", base_url=mocked.url, transport=mocked.transport
        )
        monkeypatch.setattr(session(), "client", lambda: client)
        monkeypatch.setenv("SEEDREAM_HOME", str(tmp_path / "home"))
        session().configure(home=str(tmp_path / "home"))
        yield mocked
        session().configure(home=None)


# -- the pre-save hook ---------------------------------------------------------------------------


def _notebook(*outputs: dict[str, Any]) -> dict[str, Any]:
    return {"cells": [{"cell_type": "code", "source": "", "outputs": list(outputs)}]}


def test_the_hook_saves_marked_outputs_without_their_widget_view() -> None:
    ours = {
        "output_type": "display_data",
        "data": {WIDGET_MIME: {"model_id": "abc"}, "text/html": "<b>x</b>", "text/plain": "x"},
        "metadata": gallery.marked(),
    }
    theirs = {
        "output_type": "display_data",
        "data": {WIDGET_MIME: {"model_id": "def"}, "text/plain": "a slider"},
        "metadata": {},
    }
    model = {"type": "notebook", "content": _notebook(ours, theirs)}
    saving.pre_save(model, path="x.ipynb")
    saved = model["content"]["cells"][0]["outputs"]
    assert WIDGET_MIME not in saved[0]["data"] and saved[0]["data"]["text/html"] == "<b>x</b>"
    assert saved[1]["data"][WIDGET_MIME] == {"model_id": "def"}  # other libraries: untouched


@pytest.mark.parametrize(
    "model",
    [
        {"type": "file", "content": "text"},
        {"type": "notebook", "content": None},
        {"type": "notebook", "content": {"cells": [None, {"outputs": [None, {"metadata": 3}]}]}},
    ],
)
def test_the_hook_never_breaks_a_save(model: dict[str, Any]) -> None:
    saving.pre_save(model, path="odd")  # no exception, nothing to do


def test_the_hook_is_enabled_by_the_installed_config() -> None:
    root = Path(__file__).resolve().parents[2]
    config = json.loads((root / "jupyter-config/server-config/seedream_jupyter.json").read_text())
    assert config["ServerApp"]["jpserver_extensions"] == {"seedream_jupyter.display.saving": True}
    points = saving._jupyter_server_extension_points()
    assert points == [{"module": "seedream_jupyter.display.saving"}]
    pyproject = (root / "pyproject.toml").read_text()
    assert '"jupyter-config/server-config" = "etc/jupyter/jupyter_server_config.d"' in pyproject

    hooks: list[Any] = []

    class Manager:
        def register_pre_save_hook(self, hook: Any) -> None:
            hooks.append(hook)

    class App:
        contents_manager = Manager()
        log = type("Log", (), {"info": staticmethod(lambda *a: None)})()

    saving._load_jupyter_server_extension(App())
    assert hooks == [saving.pre_save]


# -- the static gallery -----------------------------------------------------------------------


def test_fit_never_enlarges_and_keeps_the_ratio() -> None:
    assert gallery.fit((2560, 1440), gallery.SINGLE_BOX) == (853, 480)
    assert gallery.fit((1728, 2304), gallery.SINGLE_BOX) == (360, 480)
    assert gallery.fit((300, 200), gallery.SINGLE_BOX) == (300, 200)
    assert gallery.fit((2048, 2048), gallery.ROW_BOX) == (240, 240)


def test_static_bundle_is_an_escaped_gallery_with_alt_text_and_a_sheet() -> None:
    sources = [jpeg(640, 360), jpeg(640, 360)]
    data, metadata = gallery.static_bundle(
        text="plain",
        caption=f"doubao-seedream-4.5 · {XSS}",
        sources=sources,
        sizes=[[2560, 1440], [2560, 1440]],
        alts=[f"image 1 {XSS}", "image 2"],
        simulated=True,
        prompt=XSS,
    )
    page = data["text/html"]
    assert XSS not in page and html.escape(XSS) in page
    images = re.findall(r"<img [^>]*>", page)
    assert len(images) == 2
    for tag in images:
        assert re.search(r'alt="[^"]+"', tag) and 'width="427"' in tag and 'height="240"' in tag
    assert "SIMULATED" in page
    sheet = Image.open(io.BytesIO(base64.b64decode(data["image/jpeg"])))
    assert sheet.format == "JPEG" and sheet.width <= 2 * gallery.SHEET_SIDE + 3 * 6
    assert metadata[saving.MARK] == {"fallback": True}
    assert metadata["image/jpeg"]["alt"].startswith("doubao-seedream-4.5")


def test_a_single_image_sheet_is_as_wide_as_useful() -> None:
    sheet = Image.open(io.BytesIO(gallery.sheet_jpeg([jpeg(1280, 720)])))
    assert sheet.width >= 853  # not 396 px


def test_thumbnails_follow_the_gallery_and_the_pixel_ratio() -> None:
    assert thumbnail_side((2560, 1440), 1, 1.0, 960) == 853
    assert thumbnail_side((2560, 1440), 1, 2.0, 960) == 1706
    assert thumbnail_side((2560, 1440), 3, 2.0, 960) == 854  # rows 240 px high: 427 × 2
    assert thumbnail_side((800, 600), 1, 3.0, 960) == 800  # never larger than the image
    assert thumbnail_side((2560, 1440), 1, 2.0, 256) == 512  # thumb_size caps CSS pixels


# -- the TaskView's static form and buttons -----------------------------------------------------


def test_a_finished_view_carries_a_marked_html_gallery(sim: Any) -> None:
    request = api.build_request(f"a fox {XSS}", aspect_ratio="16:9", n=2)
    job = api.start(request)
    view = TaskView(job, pixel_ratio=1.0)
    job.wait()
    wait_for(lambda: len(view.thumbnails) == 2)
    data, metadata = view._repr_mimebundle_()
    assert WIDGET_MIME in data  # live: still the widget
    assert metadata[saving.MARK] == {"fallback": True}  # saved: the static form
    page = data["text/html"]
    assert len(re.findall(r"<img [^>]*alt=\"[^\"]+\"", page)) == 2
    assert XSS not in page
    caption = re.search(r"sj-static-caption[^>]*>(.*?)</div>", page)
    assert caption is not None
    for part in ("doubao-seedream-4.5", "2560×1440", "≈ $0.0595", job.task_id or "?"):
        assert part in html.unescape(caption.group(1))
    assert "full-size files:" in page


def test_stop_waiting_frees_the_cell_once_and_only_while_it_waits() -> None:
    request = GenerationRequest(prompt="a heron")

    class Job:
        state, progress, task_id, started_at = "processing", 40, "task-1", time.time()
        finished_at = result = error = message = None
        from_cache = simulated = False

        def __init__(self) -> None:
            self.request = request

        def subscribe(self, fn: Any) -> None:
            fn(self)

        def cancel(self) -> str:
            return "no"

    calls: list[TaskView] = []
    view = TaskView(Job(), blocking=True)
    view.on_stop_waiting(calls.append)
    view._on_front_end_msg(view, {"type": "stop_waiting"}, [])
    view.stop_waiting()
    assert calls == [view] and not view.blocking and view.stopped_waiting
    free = TaskView(Job(), blocking=False)
    free.on_stop_waiting(calls.append)
    free.stop_waiting()
    assert calls == [view]  # a view nobody waits on has nothing to stop


def test_a_click_asks_for_the_full_size_image(sim: Any) -> None:
    job = api.start(api.build_request("a fox", aspect_ratio="16:9"))
    view = TaskView(job)
    job.wait()
    wait_for(lambda: len(view.thumbnails) == 1)
    sent: list[tuple[Any, list[Any]]] = []
    view.send = lambda content, buffers=None: sent.append((content, list(buffers or [])))  # type: ignore[method-assign]
    view._on_front_end_msg(view, {"type": "full", "index": 0}, [])
    wait_for(lambda: bool(sent))
    content, buffers = sent[0]
    assert content == {"type": "full", "index": 0, "ok": True}
    assert Image.open(io.BytesIO(bytes(buffers[0]))).size == (2560, 1440)


# -- the awaiting cell ------------------------------------------------------------------------


def test_only_the_seedream_cell_call_is_awaited() -> None:
    call = "get_ipython().run_cell_magic('seedream', '-n 2', 'a fox\\n')\n"
    (line,) = awaiting.await_seedream_cells([call])
    assert line.startswith("await get_ipython().magics_manager.registry['SeedreamMagic']")
    assert line.endswith(".run_awaited('seedream', '-n 2', 'a fox\\n')\n")
    other = ["get_ipython().run_cell_magic('time', '', 'x\\n')\n"]
    assert awaiting.await_seedream_cells(other) == other
    two = [call, "print(1)\n"]
    assert awaiting.await_seedream_cells(two) == two


def test_no_kernel_no_awaiting() -> None:
    assert not awaiting.kernel_handles_widgets_while_awaiting(None)
    assert not awaiting.kernel_handles_widgets_while_awaiting(InteractiveShell.instance())
    assert awaiting._version_tuple("7.4.0") >= (7, 4) > awaiting._version_tuple("7.3.9rc1")


@pytest.fixture
def ip(sim: Any) -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    magic.load_ipython_extension(shell)
    shell.magics_manager.registry["SeedreamMagic"].display_mode = "widget"
    yield shell
    for name in ("fox", "later"):
        shell.user_ns.pop(name, None)
    magic.unload_ipython_extension(shell)


def _awaited(shell: InteractiveShell, line: str, cell: str, during: Any = None) -> Any:
    found = shell.magics_manager.registry["SeedreamMagic"]

    async def main() -> Any:
        waiting = asyncio.ensure_future(found.run_awaited("seedream", line, cell))
        if during is not None:
            await during(found)
        return await waiting

    with capture_output() as captured:
        value = asyncio.run(main())
    return value, captured, found


def test_an_awaited_cell_delivers_its_result(ip: InteractiveShell) -> None:
    _, captured, found = _awaited(ip, "-a 16:9 fox <<", "a red fox\n")
    fox = ip.user_ns["fox"]
    assert fox.images[0].size == (2560, 1440)
    assert found.jobs[-1].state == "completed"
    assert "Error" not in captured.stdout + captured.stderr


def test_stop_waiting_returns_and_the_task_goes_on_and_fills_the_variable(
    ip: InteractiveShell, sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cells: list[awaiting.PendingCell] = []
    made = awaiting.PendingCell.__init__

    def record(self: awaiting.PendingCell, *args: Any) -> None:
        made(self, *args)
        cells.append(self)

    monkeypatch.setattr(awaiting.PendingCell, "__init__", record)

    async def click_when_processing(found: Any) -> None:
        while not cells or cells[-1].job.state != "processing":
            await asyncio.sleep(0.005)
        cells[-1].view.stop_waiting()  # what the "Stop waiting" button sends

    value, captured, found = _awaited(ip, "-r 4K later <<", "a heron\n", click_when_processing)
    assert value is None
    job = found.jobs[-1]
    lines = [line for line in captured.stdout.splitlines() if line.startswith("Stopped waiting")]
    assert len(lines) == 1 and job.task_id in lines[0] and "later holds its Result" in lines[0]
    job.future.result(timeout=30)  # it went on
    wait_for(lambda: "later" in ip.user_ns)
    assert ip.user_ns["later"].task_id == job.task_id


# -- tables, models, help, results ----------------------------------------------------------------


def test_models_fit_80_columns_and_verbose_says_more() -> None:
    short, long = models_table(), models_table(verbose=True)
    assert max(map(len, short.splitlines())) <= 80
    assert max(map(len, long.splitlines())) <= 80
    for spec in catalog.MODELS.values():
        assert spec.id in short and spec.summary.split(",")[0] in long
    assert "2560×1440" in long and "2560×1440" not in short


def test_history_seed_is_the_seed_or_random() -> None:
    assert tables.seed_text(None) == "random"
    assert tables.seed_text(-1) == "random"
    assert tables.seed_text(42) == "42"


def test_help_has_no_rst_markup() -> None:
    text = help_text()
    assert "``" not in text
    assert "Stop waiting" in text and "empty line" in text


def test_a_result_says_what_it_is_and_where_its_files_are(sim: Any) -> None:
    with pytest.warns(api.SimulatorWarning):  # no front-end here: said as a warning
        result = api.generate("a lighthouse", aspect_ratio="3:4")
    assert result.folder is not None and result.folder.is_dir()
    assert f"files={result.folder}" in repr(result)
    assert f"files: {result.folder}" in result.summary()
    assert "(1728×2304)" in result.summary()
    page = result_html(result)
    assert "doubao-seedream-4.5" in page and result.task_id in page
    assert len(re.findall(r'<img [^>]*alt="[^"]+"', page)) == 1


def test_out_of_range_counts_are_refused_not_clamped() -> None:
    form = PanelForm(prompt="forty foxes")
    form.count.value = 40
    assert form.count.value == 40  # not silently 15
    assert "1–15" in form.cost.value
    with pytest.raises(Exception, match="15"):
        form.request()
