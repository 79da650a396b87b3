"""TaskView and the static / text fallbacks, driven by a fake job (no kernel, no network)."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from seedream_jupyter import errors
from seedream_jupyter.display import static, terminal
from seedream_jupyter.display.taskview import TaskView
from seedream_jupyter.request import GenerationRequest
from seedream_jupyter.results import Result
from seedream_jupyter.task import ImageRef, Task, TaskStatus

DISPLAY = Path(__file__).resolve().parents[2] / "seedream_jupyter" / "display"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class FakeJob:
    """Duck-typed ``api.Job``: attributes plus subscribe / cancel; ``emit`` changes it."""

    def __init__(self, request: GenerationRequest, *, simulated: bool = True) -> None:
        self.request = request
        self.simulated = simulated
        self.task_id: str | None = None
        self.state = "submitting"
        self.progress = 0
        self.started_at = time.time()
        self.finished_at: float | None = None
        self.from_cache = False
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.message: str | None = None
        self.cancel_calls = 0
        self._listeners: list[Callable[[FakeJob], None]] = []

    def subscribe(self, fn: Callable[[FakeJob], None]) -> None:
        self._listeners.append(fn)
        fn(self)

    def emit(self, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(self, name, value)
        for fn in list(self._listeners):
            fn(self)

    def cancel(self) -> str:
        self.cancel_calls += 1
        message = f"task {self.task_id} was queued and has been cancelled on the server (refunded)"
        self.emit(
            state="cancelled",
            message=message,
            error=errors.TaskCancelledError(self.task_id or "?"),
            finished_at=time.time(),
        )
        return message


def jpeg(width: int, height: int, colour: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    img = Image.new("RGB", (width, height), colour)
    for x in range(0, width, 64):  # some detail, so the JPEG is not trivially small
        img.paste((x % 255, 255 - x % 255, 90), (x, 0, x + 24, height))
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def make_result(request: GenerationRequest, task_id: str, *, simulated: bool = True) -> Result:
    width, height = request.pixel_size
    count = request.output_count
    datas = [jpeg(width, height, (40 * i % 255, 120, 200)) for i in range(count)]
    task = Task(
        task_id,
        TaskStatus.COMPLETED,
        100,
        model=request.model,
        images=tuple(ImageRef(f"http://sim.test/files/{task_id}/{i}.jpeg") for i in range(count)),
    )
    return Result(task, request, image_bytes=datas, simulated=simulated)


class Recorder:
    """Captures what a widget sends over its comm."""

    def __init__(self, view: TaskView) -> None:
        self.messages: list[tuple[dict[str, Any], list[Any]]] = []
        self.lock = threading.Lock()
        view.comm.send = self.send

    def send(self, data: Any = None, buffers: Any = None, **_: Any) -> None:
        with self.lock:
            self.messages.append((data, list(buffers or [])))

    def states(self) -> list[dict[str, Any]]:
        with self.lock:
            return [m["state"] for m, _ in self.messages if m.get("method") == "update"]


def front_end_msg(content: dict[str, Any]) -> dict[str, Any]:
    """A comm message as the kernel hands it to ``Widget._handle_msg``."""
    return {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}


def complete(job: FakeJob, task_id: str = "task-wave-1") -> Result:
    result = make_result(job.request, task_id, simulated=job.simulated)
    job.emit(
        state="completed",
        progress=100,
        task_id=task_id,
        result=result,
        finished_at=time.time(),
    )
    return result


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


@pytest.fixture
def request_2k() -> GenerationRequest:
    return GenerationRequest(prompt="a red fox <img src=x onerror=alert(1)>", aspect_ratio="16:9")


# -- header and live state -------------------------------------------------------------------


def test_header_traits_come_from_the_request(request_2k: GenerationRequest) -> None:
    view = TaskView(FakeJob(request_2k))
    assert view.model_name == "doubao-seedream-4.5"
    assert view.action == "generate"
    assert (view.aspect_ratio, view.resolution, view.pixel_size) == ("16:9", "2K", "2560×1440")
    assert view.estimated_cost == pytest.approx(request_2k.estimate_cost())
    assert view.cost_text == "≈ $0.0298"  # the catalog's text, to 4 places like every view
    assert view.prompt == request_2k.prompt  # raw: the front-end sets it with textContent
    assert view.simulated is True
    assert view.status == "submitting"
    assert view.started_at > 0


def test_group_header_counts_the_group() -> None:
    request = GenerationRequest(prompt="lanterns", action="group", max_images=4)
    view = TaskView(FakeJob(request))
    assert view.count_label == "group ×4"


def test_state_changes_are_sent_at_once_and_progress_is_throttled(
    request_2k: GenerationRequest,
) -> None:
    job = FakeJob(request_2k)
    view = TaskView(job, min_interval=1.0)  # wide, so a loaded CI machine stays inside it
    sent = Recorder(view)
    job.emit(state="queued", task_id="task-wave-1")
    job.emit(state="processing", progress=5)
    for progress in range(6, 40):
        job.emit(progress=progress)
    states = sent.states()
    assert [s.get("status") for s in states if "status" in s] == ["queued", "processing"]
    assert len(states) <= 3  # 34 progress changes inside 1 s: throttled
    # the trailing update delivers the last value
    wait_for(lambda: view.progress == 39, timeout=5)
    assert sent.states()[-1]["progress"] == 39


def test_one_update_message_per_change(request_2k: GenerationRequest) -> None:
    job = FakeJob(request_2k)
    view = TaskView(job)
    sent = Recorder(view)
    job.emit(state="queued", task_id="task-wave-9")
    assert len(sent.messages) == 1
    state = sent.states()[0]
    assert state["status"] == "queued" and state["task_id"] == "task-wave-9"
    assert "clock" in state  # the front-end ticks the elapsed time itself


def test_thumbnails_travel_as_binary_buffers_not_base64(request_2k: GenerationRequest) -> None:
    request = request_2k.with_changes(n=2)
    job = FakeJob(request)
    view = TaskView(job, thumb_size=256, pixel_ratio=1.0)
    sent = Recorder(view)
    complete(job)
    wait_for(lambda: len(view.thumbnails) == 2)
    thumb_messages = [(m, b) for m, b in sent.messages if "thumbnails" in m.get("state", {})]
    assert thumb_messages, "no thumbnails message"
    message, buffers = thumb_messages[-1]
    assert ["thumbnails", 0] in message["buffer_paths"]
    assert ["thumbnails", 1] in message["buffer_paths"]
    assert len(buffers) == 2
    for buffer in buffers:
        data = bytes(buffer)
        assert data[:3] == b"\xff\xd8\xff"  # JPEG, not PNG
        img = Image.open(io.BytesIO(data))
        assert max(img.size) <= 256
    text = json.dumps(message)
    assert "/9j/" not in text and "base64" not in text  # no base64 JPEG in the JSON part
    assert len(text) < 2000
    assert view.image_sizes == [[2560, 1440], [2560, 1440]]


def test_failure_shows_message_and_what_to_do(request_2k: GenerationRequest) -> None:
    job = FakeJob(request_2k)
    view = TaskView(job)
    error = errors.TaskFailedError("task-wave-3", "content_filter", "the prompt was refused")
    job.emit(state="failed", task_id="task-wave-3", error=error, finished_at=time.time())
    assert view.status == "failed" and view.done
    assert "the prompt was refused" in view.error
    assert "rephrase" in view.hint
    assert view.finished_at > 0


def test_detach_is_a_message_not_an_error(request_2k: GenerationRequest) -> None:
    job = FakeJob(request_2k)
    view = TaskView(job)
    job.emit(
        state="detached",
        task_id="task-wave-4",
        error=errors.TaskDetachedError("task-wave-4"),
        message="task task-wave-4 is still processing; fetch it later with sj.load('task-wave-4')",
        finished_at=time.time(),
    )
    assert view.error == ""
    assert "sj.load('task-wave-4')" in view.message


def test_cancel_message_from_the_front_end_cancels_the_job(request_2k: GenerationRequest) -> None:
    job = FakeJob(request_2k)
    view = TaskView(job)
    job.emit(state="queued", task_id="task-wave-5")
    # exactly what ipywidgets delivers for the front-end's model.send({type: "cancel"})
    view._handle_msg(front_end_msg({"type": "cancel"}))
    assert job.cancel_calls == 1
    assert view.status == "cancelled"
    assert "refunded" in view.message
    view._handle_msg(front_end_msg({"type": "something else"}))
    assert job.cancel_calls == 1


def test_errors_never_show_the_key(request_2k: GenerationRequest) -> None:
    secret = "sk-display-secret-123456"
    errors.register_secret(secret)
    job = FakeJob(request_2k, simulated=False)
    view = TaskView(job)
    job.emit(state="error", error=RuntimeError(f"boom {secret}"), finished_at=time.time())
    assert secret not in view.error
    bundle, _ = view._repr_mimebundle_()
    assert secret not in json.dumps(bundle)


def test_on_done_runs_after_the_gallery_is_filled(request_2k: GenerationRequest) -> None:
    job = FakeJob(request_2k)
    view = TaskView(job)
    seen: list[int] = []
    view.on_done(lambda v: seen.append(len(v.thumbnails)))
    complete(job)
    wait_for(lambda: bool(seen))
    assert seen == [1]
    later: list[bool] = []
    view.on_done(lambda v: later.append(True))  # already done: called at once
    assert later == [True]


# -- static fallback ---------------------------------------------------------------------------


def test_bundle_before_completion_has_widget_and_text_only(request_2k: GenerationRequest) -> None:
    job = FakeJob(request_2k)
    view = TaskView(job)
    job.emit(state="processing", progress=40, task_id="task-wave-6")
    data, _ = view._repr_mimebundle_()
    assert WIDGET_MIME in data
    assert "image/jpeg" not in data
    text = data["text/plain"]
    assert "SIMULATED" in text and "task-wave-6" in text and "processing 40%" in text
    assert "doubao-seedream-4.5" in text and "≈ $0.0298" in text


def test_bundle_after_completion_has_a_small_jpeg_contact_sheet(
    request_2k: GenerationRequest,
) -> None:
    request = request_2k.with_changes(n=4)
    job = FakeJob(request)
    view = TaskView(job)
    complete(job)
    data, _ = view._repr_mimebundle_()
    assert WIDGET_MIME in data
    encoded = data["image/jpeg"]
    assert isinstance(encoded, str)
    sheet = Image.open(io.BytesIO(base64.b64decode(encoded)))
    assert sheet.format == "JPEG"
    assert sheet.width <= 4 * static.STATIC_THUMB_SIDE + 5 * 10
    assert len(encoded) < 60_000 * 4  # tens of KB per 2K image, not MB
    assert "4 images" in data["text/plain"] and "completed" in data["text/plain"]


def test_real_results_are_not_marked_simulated(request_2k: GenerationRequest) -> None:
    job = FakeJob(request_2k, simulated=False)
    view = TaskView(job)
    complete(job)
    data, _ = view._repr_mimebundle_()
    assert "SIMULATED" not in data["text/plain"]
    assert view.simulated is False


def test_summary_text_without_a_widget(request_2k: GenerationRequest) -> None:
    job = FakeJob(request_2k)
    complete(job, "task-wave-7")
    text = static.summary_text(job)
    assert text.startswith("[SIMULATED] doubao-seedream-4.5 · generate · 16:9 · 2K")
    assert "task task-wave-7" in text and "1 image" in text
    assert "prompt: a red fox" in text


# -- the front-end files -----------------------------------------------------------------------


def test_front_end_files_are_real_files_and_escape_user_text() -> None:
    js = (DISPLAY / "taskview.js").read_text(encoding="utf-8")
    css = (DISPLAY / "taskview.css").read_text(encoding="utf-8")
    assert "export default" in js and "render" in js
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js
    assert 'model.send({ type: "cancel" })' in js
    assert "--jp-layout-color1" in css and "--jp-ui-font-color1" in css
    view = TaskView(FakeJob(GenerationRequest(prompt="x")))
    assert "export default" in view._esm  # anywidget loaded the file's contents


# -- terminal ------------------------------------------------------------------------------------


def test_text_progress_line_and_summary(request_2k: GenerationRequest) -> None:
    job = FakeJob(request_2k)
    out = io.StringIO()
    progress = terminal.TextProgress(job, stream=out, min_interval=0.0)
    job.emit(state="queued", task_id="task-wave-8")
    job.emit(state="processing", progress=50)
    complete(job, "task-wave-8")
    text = out.getvalue()
    assert text.count("\r") >= 4
    assert "[SIMULATED]" in text and "processing 50%" in text and "completed" in text
    assert text.endswith("\n")
    assert "task task-wave-8" in progress.summary()


def test_text_progress_reports_errors_once(request_2k: GenerationRequest) -> None:
    job = FakeJob(request_2k)
    out = io.StringIO()
    terminal.TextProgress(job, stream=out)
    error = errors.AuthenticationError("bad key", status_code=401)
    job.emit(state="error", error=error, finished_at=time.time())
    job.emit(state="error")
    text = out.getvalue()
    assert text.count("error: HTTP 401") == 1
    assert "WAVE_API_KEY" in text


# -- memory: a finished view keeps thumbnails, not images --------------------------------------


def test_thumbnails_come_from_the_files_without_decoding_the_result(
    request_2k: GenerationRequest, tmp_path: Path
) -> None:
    job = FakeJob(request_2k)
    result = make_result(request_2k, "task-wave-10")
    path = tmp_path / "fox.jpg"
    path.write_bytes(jpeg(2560, 1440))
    result.paths = [path]
    view = TaskView(job, thumb_size=512, pixel_ratio=1.0)
    job.emit(
        state="completed",
        progress=100,
        task_id="task-wave-10",
        result=result,
        finished_at=time.time(),
    )
    wait_for(lambda: len(view.thumbnails) == 1)
    assert result._images is None  # full-size pixels were never decoded into the Result
    assert view.image_sizes == [[2560, 1440]]
    assert max(Image.open(io.BytesIO(view.thumbnails[0])).size) == 512


def test_a_finished_view_lets_go_of_the_job(request_2k: GenerationRequest) -> None:
    job = FakeJob(request_2k)
    view = TaskView(job)
    complete(job, "task-wave-11")
    wait_for(lambda: isinstance(view.job, static.FrozenJob))
    data, _ = view._repr_mimebundle_()
    assert "image/jpeg" in data
    assert "task task-wave-11 · 1 image" in data["text/plain"]
    assert view.cancel().startswith("task task-wave-11 is already completed")


def test_server_completed_before_download_is_still_downloading(
    request_2k: GenerationRequest,
) -> None:
    job = FakeJob(request_2k)
    view = TaskView(job)
    job.emit(state="completed", progress=100, task_id="task-wave-12")  # polled, not finished
    assert view.status == "downloading" and not view.done
    complete(job, "task-wave-12")
    assert view.status == "completed" and view.done
