"""The panel at the Python level: form → request, catalog-driven choices, runs, errors.

Runs go through the real ``api.start`` / ``Job`` / ``TaskView`` against ``simulator.mock``
(the ``sim`` fixture, an ``httpx.MockTransport``): no kernel, no network.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import html
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from simtools import first, of_scope, payloads, sim_client, stub_before

from seedream_jupyter import api, catalog
from seedream_jupyter.panel import Panel, PanelRun
from seedream_jupyter.panel.choices import why_not
from seedream_jupyter.panel.form import PanelForm
from seedream_jupyter.panel.prompt import PromptArea
from seedream_jupyter.results import Result
from seedream_jupyter.simulator import MockSimulator

pytestmark = pytest.mark.filterwarnings("ignore::seedream_jupyter.api.SimulatorWarning")
XSS = "<img src=x onerror=alert(1)>"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def front_end_msg(content: dict[str, Any]) -> dict[str, Any]:
    """A custom comm message as the kernel hands it to ``Widget._handle_msg``."""
    return {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}


def submitted(run: PanelRun | None, timeout: float = 10) -> PanelRun:
    """Wait until the server has named the run's task."""
    assert run is not None
    deadline = time.monotonic() + timeout
    while run.job.task_id is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.job.task_id is not None
    return run


def finish(run: PanelRun | None, timeout: float = 10) -> PanelRun:
    """Wait for a run's job to end (its listeners have run by then)."""
    assert run is not None
    with contextlib.suppress(Exception):  # failures are what some tests look at
        run.job.future.result(timeout)
    return run


@pytest.fixture
def panel(sim: MockSimulator) -> Any:
    client = sim_client(sim)
    yield Panel(client=client)
    client.close()


@pytest.fixture
def queued(make_sim: Callable[..., MockSimulator]) -> Any:
    """A panel whose tasks stay queued (for 30 s), and its simulator."""
    sim = make_sim(queue_seconds=30)
    client = sim_client(sim)
    yield Panel(client=client), sim
    client.close()


@pytest.fixture
def fake_shell(monkeypatch: pytest.MonkeyPatch) -> Any:
    class Shell:
        def __init__(self) -> None:
            self.user_ns: dict[str, Any] = {}

    shell = Shell()
    monkeypatch.setattr("IPython.core.getipython.get_ipython", lambda: shell)
    return shell


# -- catalog-driven choices ---------------------------------------------------------------------


@pytest.mark.parametrize("model_id", catalog.MODEL_IDS)
def test_each_model_disables_exactly_what_it_cannot_do(model_id: str) -> None:
    form = PanelForm(model=model_id)
    spec = catalog.MODELS[model_id]
    groups = [
        (form.action, spec.actions),
        (form.aspect_ratio, spec.aspect_ratios),
        (form.resolution, spec.resolutions),
        (form.output_format, spec.output_formats),
    ]
    for group, offered in groups:
        for option, button in group.buttons.items():
            assert button.disabled is (option not in offered), (model_id, option)
            if option not in offered:
                assert "does not" in button.tooltip and "(" in button.tooltip
        assert group.value in offered


def test_reasons_name_the_models_that_can() -> None:
    lite = catalog.MODELS["doubao-seedream-5.0-lite"]
    assert why_not(lite, "action", "edit") == "5.0-lite does not support edit (4.5, 4.0 do)"
    assert why_not(lite, "resolution", "1K") == "5.0-lite does not offer resolution 1K (4.0 does)"
    assert why_not(lite, "action", "generate") is None
    form = PanelForm(model="5.0-lite")
    assert form.action.buttons["edit"].tooltip == "5.0-lite does not support edit (4.5, 4.0 do)"
    note = form.not_offered.value
    assert "not on 5.0-lite" in note and "edit, reference (4.5, 4.0 do)" in note
    assert "9:21 (4.5, 4.0 do)" in note


def test_switching_model_falls_back_and_says_so() -> None:
    form = PanelForm(model="4.0", resolution="1K")
    form.action.value = "edit"
    form.model.value = "doubao-seedream-5.0-lite"
    assert form.action.value == "generate"
    assert form.resolution.value == "2K"
    assert "switched to 5.0-lite" in form.not_offered.value
    assert "edit → generate" in form.not_offered.value
    assert "1K → 2K" in form.not_offered.value
    form.model.value = "doubao-seedream-4.5"
    assert not form.action.buttons["edit"].disabled
    assert form.output_format.buttons["png"].disabled


def test_clicking_the_pressed_choice_keeps_it_pressed() -> None:
    form = PanelForm()
    button = form.aspect_ratio.buttons["1:1"]
    button.value = False  # what a click on a pressed ToggleButton does
    assert button.value is True and form.aspect_ratio.value == "1:1"
    form.aspect_ratio.buttons["16:9"].value = True
    assert form.aspect_ratio.value == "16:9"
    assert [o for o, b in form.aspect_ratio.buttons.items() if b.value] == ["16:9"]


# -- form → request -----------------------------------------------------------------------------


def test_form_maps_to_the_request_payload() -> None:
    form = PanelForm(prompt="a fox", model="5.0-lite")
    form.aspect_ratio.value = "16:9"
    form.resolution.value = "3K"
    form.output_format.value = "png"
    form.count.value = 2
    form.random_seed.value = False
    form.seed.value = 123
    form.watermark.value = True
    assert form.request().to_payload() == {
        "model": "doubao-seedream-5.0-lite",
        "action": "generate",
        "prompt": "a fox",
        "n": 2,
        "seed": 123,
        "aspect_ratio": "16:9",
        "resolution": "3K",
        "watermark": True,
        "output_format": "png",
    }


def test_group_size_and_random_seed() -> None:
    form = PanelForm(prompt="four seasons")
    form.seed.value = 99
    assert form.seed.disabled  # "random" is on
    form.action.value = "group"
    assert form.count.description == "group of up to"
    form.count.value = 3
    payload = form.request().to_payload()
    assert payload["seed"] == -1
    assert "n" not in payload
    assert payload["sequential_image_generation"] == "auto"
    assert payload["sequential_image_generation_options"] == {"max_images": 3}


def test_cost_updates_as_fields_change() -> None:
    form = PanelForm(model="4.5")
    assert "≈ $0.0298 (1 image × $0.02975)" in form.cost.value
    form.count.value = 4
    assert "≈ $0.1190 (4 images × $0.02975)" in form.cost.value
    form.model.value = "doubao-seedream-4.0"
    assert "≈ $0.0952 (4 images × $0.0238)" in form.cost.value
    form.aspect_ratio.value = "16:9"
    assert "2560×1440 px" in form.cost.value
    assert "mathjax_ignore" in form.cost.value  # "$...$" must not become TeX


def test_show_request_is_the_escaped_json_and_follows_the_form(panel: Panel) -> None:
    panel.form.prompt.value = f"a lantern {XSS}"
    panel.show_request.value = True
    shown = panel.request_view.value
    assert "POST /v1/tasks" in shown
    assert html.escape(f'"prompt": "a lantern {XSS}"') in shown
    assert XSS not in shown
    assert "mathjax_ignore" in shown  # "$5 and $10" in a prompt must stay text
    panel.form.count.value = 2
    assert "&quot;n&quot;: 2" in panel.request_view.value
    panel.form.prompt.value = ""
    # the error is said once: in the message line, not again in the request view
    assert "Not sent — prompt" in panel.message.value
    assert "Not sent" not in panel.request_view.value
    panel.show_request.value = False
    assert panel.request_view.value == ""


# -- reference images ---------------------------------------------------------------------------


def test_uploads_become_removable_thumbnails(image_bytes: Callable[..., bytes]) -> None:
    form = PanelForm(prompt="fuse these", model="4.5")
    png = image_bytes(300, 200, "png")
    now = datetime.datetime.now(datetime.timezone.utc)

    def upload(name: str, kind: str, data: bytes) -> dict[str, Any]:
        return {
            "name": name,
            "type": kind,
            "size": len(data),
            "content": memoryview(data),
            "last_modified": now,
        }

    form.upload.value = (
        upload("a.png", "image/png", png),
        upload(f"{XSS}.txt", "text/plain", b"hi"),
    )
    assert form.upload.value == ()  # ready for the next upload
    assert len(form.references) == 1
    assert form.references[0].url.startswith("data:image/png;base64,")
    assert form.references[0].thumbnail is not None
    assert len(form.thumbnails.children) == 1
    problem = form.reference_message.value
    assert html.escape(f"{XSS}.txt") in problem and XSS not in problem
    form.add_reference(image_bytes(64, 64), label="b.jpg")
    form.action.value = "reference"
    assert len(form.request().image_urls) == 2
    stale_remove = form.thumbnails.children[0].children[0].children[1]
    stale_remove.click()
    stale_remove.click()  # a second click on the same (now stale) button removes nothing
    assert [r.label for r in form.references] == ["b.jpg"]
    assert len(form.thumbnails.children) == 1


def test_url_references(panel: Panel) -> None:
    form = panel.form
    form.url.value = "ftp://example.com/a.png"
    form.add_url_reference()
    assert form.references == []
    assert "give an http(s):// URL" in form.reference_message.value
    form.url.value = "https://example.com/a.png"
    form.add_url.click()
    assert [r.url for r in form.references] == ["https://example.com/a.png"]
    assert form.url.value == ""
    assert form.thumbnails.children[0].children[0].children[0].format == "url"
    form.prompt.value = "make it blue"
    form.action.value = "image2image"
    assert panel.request().image_urls == ("https://example.com/a.png",)


# -- generating ---------------------------------------------------------------------------------


def test_generate_runs_in_the_background_and_records_results(
    panel: Panel, sim: MockSimulator
) -> None:
    panel.form.prompt.value = "a red fox"
    run = panel.generate()
    assert run is not None  # Generate returned at once; the job runs on the loop thread
    finish(run)
    assert run.job.state == "completed"
    assert isinstance(run.result, Result)
    assert panel.results == [run.result]
    assert panel.last is run.result
    assert run.label.value == "1 image · panel.results[0]"
    assert not run.to_variable.disabled and not run.save.disabled
    assert sim.stats.submits == 1
    assert payloads(sim)[0]["prompt"] == "a red fox"


def test_several_runs_in_flight_newest_first(queued: Any) -> None:
    panel, sim = queued  # they stay queued
    panel.form.prompt.value = "first"
    first = panel.generate()
    panel.form.prompt.value = "second"
    second = panel.generate()
    assert first is not None and second is not None
    assert panel.runs_box.children[0] is second.box
    assert panel.runs_box.children[1] is first.box
    assert panel.runs == [first, second]
    for run in (first, second):
        assert "queued and has been cancelled" in submitted(run).view.cancel()
        finish(run)
        assert run.job.state == "cancelled"
    assert sim.stats.cancels == 2 and sim.stats.cancelled == 2
    assert panel.results == []


def test_cancel_button_message_cancels_a_queued_task(queued: Any) -> None:
    panel, sim = queued
    panel.form.prompt.value = "slow"
    run = submitted(panel.generate())
    run.view._handle_msg(front_end_msg({"type": "cancel"}))  # what the Cancel button sends
    finish(run)
    assert run.job.state == "cancelled"
    assert [r.path for r in of_scope(sim, "cancel")] == [f"/v1/tasks/{run.job.task_id}/cancel"]
    assert run.label.value == "cancelled: no images"


def test_ctrl_enter_in_the_prompt_generates(panel: Panel, sim: MockSimulator) -> None:
    panel.form.prompt.value = "from the keyboard"
    panel.form.prompt._handle_msg(front_end_msg({"type": "submit"}))
    assert len(panel.runs) == 1
    finish(panel.runs[0])
    assert payloads(sim)[0]["prompt"] == "from the keyboard"


def test_prompt_area_is_an_anywidget_with_a_text_value() -> None:
    area = PromptArea(value="x")
    assert "textarea" in area._esm and "ctrlKey" in area._esm and "metaKey" in area._esm
    assert "innerHTML" not in area._esm  # the prompt is only ever a textarea's value
    calls: list[int] = []
    area.on_submit(lambda: calls.append(1))
    area._handle_msg(front_end_msg({"type": "other"}))
    area._handle_msg(front_end_msg({"type": "submit"}))
    area._handle_msg({"content": {"data": {"method": "update", "state": {"value": "y"}}}})
    assert area.value == "y"  # value updates from the browser still reach Python
    assert calls == [1]


# -- errors -------------------------------------------------------------------------------------


def test_validation_errors_are_shown_and_nothing_is_sent(panel: Panel, sim: MockSimulator) -> None:
    assert panel.generate() is None
    assert "Not sent — prompt" in panel.message.value
    panel.form.prompt.value = "make it blue"
    panel.form.action.value = "image2image"
    panel.generate_button.click()
    assert "Not sent — images" in panel.message.value
    assert "takes at least one, at most 14 reference images" in panel.message.value
    assert sim.requests == []
    assert panel.runs == []


def test_a_refused_key_is_readable_and_the_panel_lives_on(
    make_sim: Callable[..., MockSimulator],
) -> None:
    sim = make_sim(api_key="sk-the-servers-own-key")
    refused = sim_client(sim)  # the test key: HTTP 401
    panel = Panel(client=refused)
    panel.form.prompt.value = "a fox"
    run = finish(panel.generate())
    assert run.job.state == "error"
    assert "HTTP 401" in run.view.error
    assert "wave_api_key" in (run.view.error + run.view.hint).lower()
    assert run.label.value == "error: no images"
    assert sim.stats.unauthorized == 1 and sim.task_ids() == []
    accepted = sim_client(sim, api_key="sk-the-servers-own-key")
    panel.client = accepted  # the user fixes the key: the panel keeps working
    again = finish(panel.generate())
    assert again.job.state == "completed"
    assert panel.results == [again.result]
    refused.close()
    accepted.close()


def test_insufficient_balance_is_readable_and_the_panel_lives_on(sim: MockSimulator) -> None:
    def no_balance(request: httpx.Request) -> httpx.Response:  # stub: the simulator never bills
        body = {"error": {"message": "no", "code": "insufficient_balance"}}
        return httpx.Response(402, json=body)

    client = sim_client(sim, transport=stub_before(sim, first(1, no_balance, "submit")))
    panel = Panel(client=client)
    panel.form.prompt.value = "a fox"
    run = finish(panel.generate())
    assert run.job.state == "error"
    assert "HTTP 402" in run.view.error
    assert "top up" in (run.view.error + run.view.hint).lower()
    assert run.label.value == "error: no images"
    again = finish(panel.generate())  # the panel keeps working
    assert again.job.state == "completed"
    assert panel.results == [again.result] and sim.stats.submits == 1
    client.close()


def test_failed_task_shows_the_server_message(panel: Panel, sim: MockSimulator) -> None:
    sim.set_faults("fail")
    panel.form.prompt.value = f"sad {XSS}"
    run = finish(panel.generate())
    assert run.job.state == "failed"
    state = sim.task(run.job.task_id or "")
    assert state is not None and state.json["error"]["message"] in run.view.error
    assert "task_failed" in run.view.error
    assert run.view.hint
    assert panel.results == []


def test_an_unexpected_error_in_a_handler_is_shown_not_lost(
    panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError(f"kaput {XSS}")

    monkeypatch.setattr(api, "start", boom)
    panel.form.prompt.value = "a fox"
    panel.generate_button.click()
    assert "RuntimeError: kaput" in panel.message.value
    assert html.escape(XSS) in panel.message.value and XSS not in panel.message.value


# -- results to variables and disk --------------------------------------------------------------


def test_send_a_result_to_a_variable(panel: Panel, fake_shell: Any) -> None:
    panel.form.prompt.value = "a fox"
    run = finish(panel.generate())
    run.variable.value = "1bad"
    run.to_variable.click()
    assert "not a valid Python variable name" in run.message.value
    run.variable.value = "class"
    run.to_variable.click()
    assert fake_shell.user_ns == {}
    run.variable.value = "fox"
    run.to_variable.click()
    assert fake_shell.user_ns["fox"] is panel.results[0]
    assert "fox = panel.results[0] (1 image)" in run.message.value


def test_save_a_result_to_disk(panel: Panel, tmp_path: Path) -> None:
    panel.form.prompt.value = "a fox"
    panel.form.count.value = 2
    run = finish(panel.generate())
    run.save_dir.value = str(tmp_path / "out")
    run.save.click()
    files = sorted((tmp_path / "out").iterdir())
    assert len(files) == 2 and all(f.stat().st_size > 0 for f in files)
    assert "saved 2 files to" in run.message.value


def test_controls_wait_for_a_result(queued: Any) -> None:
    panel, _ = queued
    panel.form.prompt.value = "slow"
    run = panel.generate()
    assert run is not None
    assert run.to_variable.disabled and run.save.disabled
    run.assign("x")
    assert "No result yet" in run.message.value
    panel.remove_run(run)  # still running: refused, with a reason
    assert panel.runs_box.children == (run.box,) and "still running" in run.message.value
    submitted(run).view.cancel()
    finish(run)
    panel.remove_run(run)
    assert panel.runs_box.children == () and run not in panel.runs
    assert run.box.comm is None and run.to_variable.comm is None  # its widgets are closed


def test_leaving_group_undoes_the_automatic_group_size() -> None:
    form = PanelForm(model="4.5")
    form.action.value = "group"
    assert form.count.value == catalog.DEFAULT_GROUP_SIZE
    form.action.value = "generate"
    assert form.count.value == catalog.DEFAULT_N  # not four billed images by accident
    form.action.value = "group"
    form.count.value = 6
    form.action.value = "generate"
    assert form.count.value == 6  # a count the user chose stays


# -- display ------------------------------------------------------------------------------------


def test_simulated_banner_only_without_a_key(panel: Panel) -> None:
    assert panel.banner.value == ""  # its client has a key
    embedded = Panel()  # no WAVE_API_KEY: the embedded simulator would serve
    assert "SIMULATED" in embedded.banner.value


def test_mimebundle_is_the_widget_plus_a_text_summary(panel: Panel) -> None:
    data, _metadata = panel._repr_mimebundle_()
    assert WIDGET_MIME in data
    assert data["text/plain"].startswith("Seedream panel (a live widget")
    assert "panel.results" in data["text/plain"]  # no counts: they would go stale when saved
    assert repr(panel) == "<Panel 0 runs, 0 results>"


def test_a_saved_notebook_keeps_a_contact_sheet_of_the_runs(panel: Panel) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    record_id = panel.record.display_id

    def record_updates() -> list[Any]:
        return [o for o in captured.outputs if o.update and o.transient["display_id"] == record_id]

    def wait_for_record(text: str) -> Any:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            panel.record.wait(1)
            updates = record_updates()
            if updates and text in updates[-1].data["text/plain"]:
                return updates[-1]
            time.sleep(0.02)
        raise AssertionError(f"no record update saying {text!r}: {record_updates()}")

    with capture_output() as captured:
        display(panel)
        shown, record = captured.outputs[0], captured.outputs[1]
        panel.form.prompt.value = "a red fox"
        first = finish(panel.generate())
        panel.form.prompt.value = "two herons"
        panel.form.count.value = 2
        second = finish(panel.generate())
        both = wait_for_record("2 runs, 3 images")
        panel.remove_run(first)
        one = wait_for_record("1 run, 2 images")

    assert WIDGET_MIME in shown.data and shown.data[WIDGET_MIME]["model_id"]  # the live panel
    # The record is hidden live (an empty model id) and empty until a run ends.
    assert record.transient == {"display_id": record_id} and not record.update
    assert record.data[WIDGET_MIME]["model_id"] == "" and record.data["text/plain"] == ""
    assert "image/jpeg" not in record.data
    for update, runs in ((both, [second, first]), (one, [second])):
        assert update.data[WIDGET_MIME]["model_id"] == ""
        text = update.data["text/plain"]
        assert [r.job.task_id for r in runs] == [
            line.split("task ")[1].split(" ")[0] for line in text.splitlines() if "task " in line
        ]  # newest first
        sheet = Image.open(io.BytesIO(base64.b64decode(update.data["image/jpeg"])))
        count = sum(len(r.job.result or ()) for r in runs)
        assert sheet.format == "JPEG" and sheet.width > sheet.height * (count - 0.5)
        # simulated images say so, even in the alt text
        assert update.metadata["image/jpeg"]["alt"].startswith("[SIMULATED] Seedream panel:")


def test_prefilled_panel() -> None:
    panel = Panel("a lighthouse", model="4.0")
    assert panel.form.prompt.value == "a lighthouse"
    assert panel.request().model == "doubao-seedream-4.0"
    assert '"model": "doubao-seedream-4.0"' in panel.request_json()


def test_one_run_without_thumbnails_does_not_stop_the_record(panel: Panel) -> None:
    from seedream_jupyter.panel.record import record_bundle

    panel.form.prompt.value = "kept"
    good = finish(panel.generate())
    panel.form.prompt.value = "its file is gone"
    broken = finish(panel.generate())

    def missing() -> list[bytes]:
        raise FileNotFoundError("the image file was deleted")

    broken.view.thumbnail_bytes = missing
    data, _ = record_bundle([good, broken])
    assert "2 runs, 2 images" in data["text/plain"] and "its file is gone" in data["text/plain"]
    sheet = Image.open(io.BytesIO(base64.b64decode(data["image/jpeg"])))
    assert sheet.width < sheet.height * 1.5  # one picture: the good run's
