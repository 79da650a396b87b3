"""``%%seedream`` / ``%seedream`` in an IPython InteractiveShell (no kernel), against
``simulator.mock`` (the ``sim`` fixture: httpx.MockTransport, no sockets)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell
from IPython.utils.capture import capture_output
from PIL import Image
from simtools import SMALL_SIDE, payloads, put_task, sim_client

from seedream_jupyter import api, catalog, magic
from seedream_jupyter.errors import TaskFailedError
from seedream_jupyter.magic import commands as magic_commands
from seedream_jupyter.results import Result
from seedream_jupyter.session import session
from seedream_jupyter.simulator import MockSimulator

pytestmark = pytest.mark.filterwarnings("ignore::seedream_jupyter.api.SimulatorWarning")

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def ip(sim: MockSimulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    """A shell with the extension loaded; every job goes to the simulator."""
    clients: list[Any] = []

    def client() -> Any:
        clients.append(sim_client(sim))
        return clients[-1]

    monkeypatch.setattr(session(), "client", client)
    shell = InteractiveShell.instance()
    magic.load_ipython_extension(shell)
    yield shell
    for name in ("out", "img", "fox", "style", "refs", "later"):
        shell.user_ns.pop(name, None)
    magic.unload_ipython_extension(shell)
    for c in clients:
        c.close()


def run(ip: InteractiveShell, source: str) -> tuple[ExecutionResult, Any]:
    with capture_output() as captured:
        result = ip.run_cell(source)
    return result, captured


def the_magic(ip: InteractiveShell) -> magic.SeedreamMagic:
    found = ip.magics_manager.registry["SeedreamMagic"]
    return found


# -- loading and settings ---------------------------------------------------------------------


def test_load_registers_line_and_cell_magics_and_config(ip: InteractiveShell) -> None:
    assert "seedream" in ip.magics_manager.magics["cell"]
    assert "seedream" in ip.magics_manager.magics["line"]
    assert any(isinstance(c, magic.SeedreamMagic) for c in ip.configurables)
    ip.run_line_magic("config", 'SeedreamMagic.model = "4.0"')
    assert the_magic(ip).model == "doubao-seedream-4.0"
    ip.run_line_magic("config", 'SeedreamMagic.model = "doubao-seedream-4.5"')


def test_settings_are_validated_against_the_catalog(ip: InteractiveShell) -> None:
    m = the_magic(ip)
    with pytest.raises(Exception, match="did you mean"):
        m.model = "4.6"
    with pytest.raises(Exception, match="choose one of"):
        m.aspect_ratio = "5:4"
    m.resolution = "4k"
    assert m.resolution == "4K"
    m.resolution = "2K"
    traits = m.class_own_traits(config=True)
    assert {
        "model",
        "aspect_ratio",
        "resolution",
        "timeout",
        "thumbnail_size",
        "budget_usd",
    } <= set(traits)
    assert all(trait.help for trait in traits.values())


def test_unload_removes_the_magics() -> None:
    shell = InteractiveShell.instance()
    magic.load_ipython_extension(shell)
    magic.unload_ipython_extension(shell)
    assert "seedream" not in shell.magics_manager.magics["cell"]
    assert not any(isinstance(c, magic.SeedreamMagic) for c in shell.configurables)


def test_help_is_generated_from_the_catalog() -> None:
    doc = magic.SeedreamMagic.seedream.__doc__ or ""
    for spec in catalog.MODELS.values():
        assert spec.id in doc
        assert f"${spec.price_per_image_usd:g}" in doc
    for name in (*catalog.ACTIONS, *catalog.ASPECT_RATIOS, "1K", "2K", "3K", "4K"):
        assert name in doc
    for option in (
        "--model",
        "--seed",
        "--aspect-ratio",
        "--resolution",
        "--image",
        "--group",
        "--dry-run",
        "--background",
        "--timeout",
        "--watermark",
        "--format",
    ):
        assert option in doc
    assert "%seedream doctor" in doc


# -- usage errors: one line, nothing sent -------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("-n 20", "between 1 and 15"),
        ("-n two", "whole number"),
        ("-m 4.6", "did you mean"),
        ("-a 5:4", "5:4"),
        ("-r 8K", "offers 2K, 4K"),
        ("--bogus", "unknown option --bogus"),
        ("-s 99999999999", "use -1 (random)"),
        ("-m 5.0-lite --action edit", "for 'edit' use"),
        ("-g 3 --action edit", "drop --action edit"),
        ("-n 3 -g 2", "drop -n"),
        ("-i http://", "names no host"),
        ("-i no_such_file.png", "no variable, file"),
        ("out << fox <<", "one 'VAR <<'"),
        ("class <<", "cannot be a variable name"),
        ("some words", "the prompt goes in the cell body"),
    ],
)
def test_bad_options_are_one_line_usage_errors(
    ip: InteractiveShell, sim: MockSimulator, line: str, fragment: str
) -> None:
    result, captured = run(ip, f"%%seedream {line}\na red fox\n")
    assert isinstance(result.error_in_exec, UsageError)
    assert fragment in str(result.error_in_exec)
    assert "Traceback" not in captured.stdout + captured.stderr
    assert len(str(result.error_in_exec).splitlines()) == 1
    assert sim.requests == []


def test_empty_prompt_and_missing_variables(ip: InteractiveShell, sim: MockSimulator) -> None:
    result, _ = run(ip, "%%seedream\n   \n")
    assert "the cell is empty" in str(result.error_in_exec)
    result, _ = run(ip, "%%seedream\na {nobody} in snow\n")
    assert "no variable 'nobody'" in str(result.error_in_exec)
    assert "{{nobody}}" in str(result.error_in_exec)
    result, _ = run(ip, "%%seedream\nan unmatched { brace\n")
    assert "brace" in str(result.error_in_exec)
    ip.user_ns.update(refs=["a", "b"], style="ink", out={"a": 1})
    for body, fragment in (
        ("{refs:>10}", "cannot format list with '>10'"),
        ("{style.upper}", "is a function or method"),
        ("{out[b]}", "cannot fill {out[b]} in the prompt (KeyError: 'b')"),
        ("a {} b", "without a variable name"),
    ):
        result, captured = run(ip, f"%%seedream\n{body}\n")
        assert isinstance(result.error_in_exec, UsageError), body
        assert fragment in str(result.error_in_exec), str(result.error_in_exec)
        assert "Traceback" not in captured.stdout + captured.stderr
    assert sim.requests == []


def test_line_commands_fail_in_one_line(ip: InteractiveShell, tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("")
    for line, fragment in (
        ("%seedream show task-nosuch", "no task 'task-nosuch' in the history"),
        ("%seedream history 99999999999999999999", "between 1 and 1000000"),
        (f"%seedream export {taken}", "a folder (this is a file)"),
    ):
        result, captured = run(ip, line)
        assert fragment in str(result.error_in_exec), line
        assert "Traceback" not in captured.stdout + captured.stderr, line
        error = result.error_in_exec
        assert isinstance(error, UsageError) or hasattr(error, "_render_traceback_"), line


# -- dry run ----------------------------------------------------------------------------------


def test_dry_run_shows_payload_and_cost_and_sends_nothing(
    ip: InteractiveShell, sim: MockSimulator
) -> None:
    ip.user_ns["style"] = "ink"
    result, captured = run(
        ip, "%%seedream --dry-run -g 3 -a 16:9 out <<\na fox, {style} style, {{x}}\n"
    )
    assert result.success
    assert sim.requests == []
    text = captured.stdout
    assert "nothing sent" in text
    assert "≈ $0.0892" in text or "≈ $0.0893" in text
    assert "× $0.02975" in text
    payload = json.loads(text[text.index("{") :])
    assert payload["prompt"] == "a fox, ink style, {x}"
    assert payload["sequential_image_generation_options"] == {"max_images": 3}
    assert payload["aspect_ratio"] == "16:9"
    assert ip.user_ns["out"]["prompt"] == "a fox, ink style, {x}"


def test_images_from_a_path_a_variable_and_a_result(
    ip: InteractiveShell, sim: MockSimulator, tmp_path: Path
) -> None:
    path = tmp_path / "sketch.png"
    Image.new("RGB", (64, 48), "white").save(path)
    ip.user_ns["img"] = Image.new("RGB", (32, 32), "red")
    result, captured = run(ip, f"%%seedream --dry-run -i {path} -i img\nthe same, in oil\n")
    assert result.success, result.error_in_exec
    payload = json.loads(captured.stdout[captured.stdout.index("{") :])
    assert payload["action"] == "image2image"
    assert len(payload["image_urls"]) == 2
    assert all(u.startswith("data:image/png;base64,") for u in payload["image_urls"])
    assert sim.requests == []


# -- generating -------------------------------------------------------------------------------


def test_text_mode_stores_the_result_in_var(ip: InteractiveShell, sim: MockSimulator) -> None:
    the_magic(ip).display_mode = "text"
    try:
        result, captured = run(ip, "%%seedream -n 2 -s 7 out <<\na red fox\n")
    finally:
        the_magic(ip).display_mode = "auto"
    assert result.success, result.error_in_exec
    out = ip.user_ns["out"]
    assert isinstance(out, Result)
    assert len(out.images) == 2
    assert all(isinstance(img, Image.Image) for img in out.images)
    assert out.images[0].size == (SMALL_SIDE, SMALL_SIDE)  # 2K 1:1, drawn small
    assert payloads(sim)[0]["n"] == 2 and payloads(sim)[0]["seed"] == 7
    assert "\r" in captured.stdout and "completed" in captured.stdout
    assert result.result is None  # stored in VAR, not shown again


def test_text_mode_without_var_returns_the_result(ip: InteractiveShell) -> None:
    the_magic(ip).display_mode = "text"
    try:
        result, _ = run(ip, "%%seedream\na red fox\n")
    finally:
        the_magic(ip).display_mode = "auto"
    assert isinstance(result.result, Result)
    assert ip.user_ns["_"] is result.result


def test_widget_mode_displays_a_view_then_its_static_fallback(
    ip: InteractiveShell, make_sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    importlib.import_module("seedream_jupyter.display.taskview")  # not imported mid-cell
    sim = make_sim(queue_seconds=0.2)  # still running when its view is first shown
    client = sim_client(sim)
    monkeypatch.setattr(session(), "client", lambda: client)
    the_magic(ip).display_mode = "widget"
    try:
        result, captured = run(ip, "%%seedream -a 16:9\na red fox\n")
    finally:
        the_magic(ip).display_mode = "auto"
    assert result.success, result.error_in_exec
    assert result.result is None  # the view is the output; no second copy of the images
    value = ip.user_ns["_"]
    assert isinstance(value, Result) and value.images[0].size == (SMALL_SIDE, 36)  # 16:9
    outputs = captured.outputs
    assert len(outputs) >= 2
    first, last = outputs[0], outputs[-1]
    assert WIDGET_MIME in first.data and "image/jpeg" not in first.data
    assert WIDGET_MIME in last.data and "image/jpeg" in last.data
    assert last.update  # the same output, updated in place
    assert value.task_id in last.data["text/plain"]
    client.close()


def test_background_returns_at_once_and_fills_var(
    ip: InteractiveShell, sim: MockSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    async def held(request: httpx.Request) -> httpx.Response:  # a gate: the simulator answers
        await asyncio.to_thread(release.wait, 30)  # once the test lets the submit through
        return await sim.transport.handle_async_request(request)

    client = sim_client(sim, transport=httpx.MockTransport(held))
    monkeypatch.setattr(session(), "client", lambda: client)
    the_magic(ip).display_mode = "widget"
    try:
        result, _ = run(ip, "%%seedream --background later <<\na red fox\n")
    finally:
        the_magic(ip).display_mode = "auto"
    job = the_magic(ip).jobs[-1]
    # the cell ended while its submit was still held: it waited for nothing
    assert result.success and result.result is None
    assert not job.done and sim.requests == [] and "later" not in ip.user_ns
    release.set()
    job.wait(timeout=30)
    deadline = time.monotonic() + 5
    while "later" not in ip.user_ns and time.monotonic() < deadline:
        time.sleep(0.01)
    assert isinstance(ip.user_ns["later"], Result)
    client.close()


def test_failed_task_is_a_short_error(ip: InteractiveShell, sim: MockSimulator) -> None:
    sim.set_faults("fail")
    the_magic(ip).display_mode = "widget"
    try:
        result, captured = run(ip, "%%seedream\na forbidden fox\n")
    finally:
        the_magic(ip).display_mode = "auto"
    assert isinstance(result.error_in_exec, TaskFailedError)
    shown = captured.stdout + captured.stderr
    (task_id,) = sim.task_ids()
    state = sim.task(task_id)
    assert state is not None and state.json["error"]["message"] in shown
    assert "Traceback" not in shown and "File " not in shown
    assert "rephrase" in shown


@pytest.mark.parametrize("mode", ["widget", "text"])
def test_interrupt_cancels_a_queued_task_and_prints_one_line(
    ip: InteractiveShell, make_sim: Any, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    sim = make_sim(queue_seconds=30)  # it stays queued
    client = sim_client(sim)
    monkeypatch.setattr(session(), "client", lambda: client)
    real_wait = api.Job.wait

    def interrupted_wait(job: api.Job, timeout: float | None = None) -> Result:
        deadline = time.monotonic() + 10
        while job.state != "queued" and time.monotonic() < deadline:
            time.sleep(0.01)
        job.cancel()  # what Job.wait does on KeyboardInterrupt
        raise KeyboardInterrupt

    monkeypatch.setattr(api.Job, "wait", interrupted_wait)
    the_magic(ip).display_mode = mode
    try:
        result, captured = run(ip, "%%seedream\na slow fox\n")
    finally:
        the_magic(ip).display_mode = "auto"
        monkeypatch.setattr(api.Job, "wait", real_wait)
    assert result.success  # no traceback wall: the cell ends normally
    lines = [line for line in captured.stdout.splitlines() if line.startswith("Interrupted")]
    assert len(lines) == 1
    assert captured.stdout.count("refunded") == 1  # said once
    assert "cancelled" in lines[0] and "refunded" in lines[0]
    assert sim.stats.cancels == 1 and sim.stats.cancelled == 1
    job = the_magic(ip).jobs[-1]
    assert job.task_id in lines[0]
    assert job.state == "cancelled"
    assert "Traceback" not in captured.stdout + captured.stderr
    ok, _ = run(ip, "1 + 1")
    assert ok.result == 2
    client.close()


# -- line commands ----------------------------------------------------------------------------


def test_models_and_config_commands(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-magic-config-secret-0001"
    monkeypatch.setenv("WAVE_API_KEY", secret)
    _, captured = run(ip, "%seedream models")
    for spec in catalog.MODELS.values():
        assert spec.id in captured.stdout
    _, captured = run(ip, "%seedream config")
    assert "WAVE_API_KEY" in captured.stdout and " set" in captured.stdout
    assert secret not in captured.stdout
    assert "model" in captured.stdout and "thumbnail_size" in captured.stdout


def test_status_and_cancel_commands(
    ip: InteractiveShell, make_sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_sim(queue_seconds=30)
    client = sim_client(sim)
    monkeypatch.setattr(session(), "client", lambda: client)
    task_id = put_task(sim)
    _, captured = run(ip, f"%seedream status {task_id}")
    assert task_id in captured.stdout and "queued" in captured.stdout
    _, captured = run(ip, f"%seedream cancel {task_id}")
    assert "cancelled" in captured.stdout and "refunded" in captured.stdout
    result, _ = run(ip, f"%seedream cancel {task_id}")
    assert isinstance(result.error_in_exec, UsageError)
    assert "only queued tasks" in str(result.error_in_exec)
    result, _ = run(ip, "%seedream status task-nope")
    assert "does not know" in str(result.error_in_exec)
    client.close()
    assert sim.stats.cancelled == 1 and sim.stats.cancels == 2


def test_unknown_and_malformed_commands(ip: InteractiveShell) -> None:
    result, _ = run(ip, "%seedream frobnicate")
    assert "unknown command 'frobnicate'" in str(result.error_in_exec)
    result, _ = run(ip, "%seedream")
    assert "needs a command" in str(result.error_in_exec)
    result, _ = run(ip, "%seedream status")
    assert "usage: %seedream status TASK_ID" in str(result.error_in_exec)


def test_doctor_reports_each_check(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(magic_commands, "_probe_server", lambda: ("✓", "server answers"))
    _, captured = run(ip, "%seedream doctor")
    text = captured.stdout
    assert "WAVE_API_KEY is unset" in text
    assert "ipywidgets" in text and "anywidget" in text
    assert "terminal" in text  # no kernel here: text progress
    assert "checks," in text


def test_simulator_status_when_not_running(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    import seedream_jupyter.simulator as simulator_module

    monkeypatch.setattr(simulator_module, "running_shared", lambda: None)
    _, captured = run(ip, "%seedream simulator status")
    assert "not running" in captured.stdout
    result, _ = run(ip, "%seedream simulator explode")
    assert "start, stop or status" in str(result.error_in_exec)


def test_history_commands(ip: InteractiveShell, sim: MockSimulator, tmp_path: Path) -> None:
    the_magic(ip).display_mode = "text"
    try:
        run(ip, "%%seedream -s 5 out <<\na red fox\n")
    finally:
        the_magic(ip).display_mode = "auto"
    task_id = ip.user_ns["out"].task_id
    listing, _ = run(ip, "%seedream history 5")
    assert [record.task_id for record in listing.result] == [task_id]
    shown, _ = run(ip, f"%seedream show {task_id}")
    assert isinstance(shown.result, Result) and len(shown.result.images) == 1
    the_magic(ip).budget_usd = 2.5
    spent, _ = run(ip, "%seedream spend 7")
    assert spent.success and spent.result.budget_usd == 2.5  # %config budget shown
    _, captured = run(ip, f"%seedream export {tmp_path / 'export'}")
    assert "exported 1 image(s)" in captured.stdout
    assert (tmp_path / "export" / "manifest.jsonl").is_file()
    bad, _ = run(ip, "%seedream history lots")
    assert "not a whole number" in str(bad.error_in_exec)


def test_a_percent_config_budget_holds_for_helpers_and_the_panel(
    ip: InteractiveShell, sim: MockSimulator
) -> None:
    import seedream_jupyter as sj
    from seedream_jupyter.panel import Panel

    client = sim_client(sim)
    run(ip, "%config SeedreamMagic.budget_usd = 0.001")
    try:
        assert session().budget_usd() == 0.001
        with pytest.raises(sj.BudgetExceededError, match="budget"):
            sj.generate("a fox", client=client)  # not only %%seedream
        panel = Panel(client=client)
        panel.form.prompt.value = "a fox"
        job = panel.generate().job  # type: ignore[union-attr]
        with contextlib.suppress(Exception):
            job.future.result(10)
        assert job.state == "error" and "budget" in str(job.error)
        result, _ = run(ip, "%%seedream\na fox\n")
        assert not result.success
        assert sim.requests == []
    finally:
        run(ip, "%config SeedreamMagic.budget_usd = None")
        client.close()
    assert session().budget_usd() is None


def test_a_percent_config_model_reaches_the_panel_and_the_helpers(
    ip: InteractiveShell, sim: MockSimulator
) -> None:
    import seedream_jupyter as sj
    from seedream_jupyter.panel import Panel

    run(ip, '%config SeedreamMagic.model = "doubao-seedream-4.0"')
    run(ip, '%config SeedreamMagic.resolution = "1K"')
    assert Panel("a fox").request().model == "doubao-seedream-4.0"
    assert Panel().form.resolution.value == "1K"
    client = sim_client(sim)
    result = sj.generate("a fox", client=client, cache=False)
    assert result.model == "doubao-seedream-4.0"
    assert payloads(sim)[-1]["model"] == "doubao-seedream-4.0"
    assert payloads(sim)[-1]["resolution"] == "1K"
    batch = sj.batch(["an owl"], client=client)
    assert payloads(sim)[-1]["model"] == "doubao-seedream-4.0" and len(batch) == 1
    explicit = sj.generate("a heron", model="4.5", resolution="2K", client=client)
    client.close()
    assert explicit.model == "doubao-seedream-4.5"  # an argument beats %config
