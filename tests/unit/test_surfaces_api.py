"""The whole API on every surface, without a server: the magic's options and dry runs, the
panel's advanced box and size line, and what the views say of ``auto``, an unknown price and
a cache hit."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell
from IPython.utils.capture import capture_output
from PIL import Image

import seedream_jupyter as sj
from seedream_jupyter import api, magic
from seedream_jupyter.api import JobState
from seedream_jupyter.display import static
from seedream_jupyter.display.taskview import TaskView
from seedream_jupyter.display.terminal import TextProgress
from seedream_jupyter.magic.help import help_text
from seedream_jupyter.panel import Panel
from seedream_jupyter.panel.form import PanelForm
from seedream_jupyter.request import GenerationRequest
from seedream_jupyter.results import Result, ResultSet
from seedream_jupyter.task import Task, TaskStatus

NEW_ID = "doubao-seedream-5.0-pro"
NOTE = "from the history on disk: nothing billed"


def png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def uri(size: tuple[int, int]) -> str:
    return "data:image/png;base64," + base64.b64encode(png(size)).decode()


def frozen(request: GenerationRequest, **kw: Any) -> static.FrozenJob:
    now = time.time()
    values: dict[str, Any] = {
        "request": request,
        "task_id": "task-wave1",
        "state": JobState.COMPLETED,
        "progress": 100,
        "started_at": now - 2,
        "finished_at": now,
        "from_cache": False,
        "error": None,
        "message": None,
        "simulated": False,
        "image_count": 1,
    }
    values.update(kw)
    return static.FrozenJob(**values)


# -- the magic ---------------------------------------------------------------------------------


@pytest.fixture
def ip() -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    shell.config.pop("SeedreamMagic", None)  # other tests' %config values outlive them
    magic.load_ipython_extension(shell)
    yield shell
    for name in ("fox", "portrait", "payload"):
        shell.user_ns.pop(name, None)
    magic.unload_ipython_extension(shell)
    shell.config.pop("SeedreamMagic", None)  # %config values outlive the extension


def run(ip: InteractiveShell, source: str) -> tuple[ExecutionResult, Any]:
    with capture_output() as captured:
        result = ip.run_cell(source)
    return result, captured


def failed(ip: InteractiveShell, source: str) -> str:
    result, _ = run(ip, source)
    assert result.error_in_exec is not None, source
    return str(result.error_in_exec)


def test_magic_extra_options_and_callback_reach_the_dry_run(ip: InteractiveShell) -> None:
    result, out = run(
        ip,
        "%%seedream --dry-run -m 5.0-lite --web-search --optimize-prompt standard "
        "--extra stream=false --extra 'meta={\"a\": [1, 2]}' --extra response_format=url "
        "--callback-url https://example.com/hook payload <<\ntoday's skyline\n",
    )
    assert result.error_in_exec is None, out.stdout
    body = ip.user_ns["payload"]
    assert body["stream"] is False and body["meta"] == {"a": [1, 2]}
    assert body["response_format"] == "url"  # not JSON: sent as text
    assert body["tools"] == [{"type": "web_search"}]
    assert body["optimize_prompt_options"] == {"mode": "standard"}
    assert body["callback_url"] == "https://example.com/hook"
    assert "POST /v1/tasks\n" in out.stdout


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("--extra seed=3", "extra['seed']"),
        ("--extra novalue", "KEY=VALUE"),
        ("--extra 'meta={\"a\": 1'", "meta=...: not valid JSON"),
        ("--callback-url http://", "with a host"),
        ("--callback-url ftp://example.com/x", "http(s)"),
        ("-m 4.5 --web-search", "web search"),
        ("-m 4.5 --optimize-prompt fast", "doubao-seedream-4.0"),
        ("-a auto", "`auto` follows the first reference image"),
        (f"-m {NEW_ID}", "strict=False"),
        ("--preset nothere", "no variable by that name"),
        ("--wait later", "invalid choice"),
        ("--price -1", "0 or more"),
    ],
)
def test_magic_refuses_bad_whole_api_options_before_sending(
    ip: InteractiveShell, line: str, says: str
) -> None:
    assert says in failed(ip, f"%%seedream --dry-run {line}\na fox\n")


def test_magic_auto_dry_run_uses_the_first_reference(ip: InteractiveShell) -> None:
    ip.user_ns["portrait"] = Image.open(io.BytesIO(png((720, 1280))))
    result, out = run(ip, "%%seedream --dry-run -a auto -i portrait\nthe same, in oil\n")
    assert result.error_in_exec is None
    assert "auto → 9:16, 1440×2560 px each" in out.stdout


def test_magic_unknown_ids_with_no_strict_and_a_price(ip: InteractiveShell) -> None:
    result, out = run(ip, f"%%seedream --dry-run -m {NEW_ID} --no-strict -r 3K\na fox\n")
    assert result.error_in_exec is None
    assert "estimated cost: unknown" in out.stdout and "3072×3072" in out.stdout
    assert "not in the catalog" in out.stderr  # the warning
    result, out = run(ip, f"%%seedream --dry-run -m {NEW_ID} --no-strict --price 0.05 -n 2\nx\n")
    assert "≈ $0.1000" in out.stdout


def test_strict_models_config_lets_the_model_setting_take_a_new_id(ip: InteractiveShell) -> None:
    m = ip.magics_manager.registry["SeedreamMagic"]
    with pytest.raises(Exception, match="strict_models = False"):
        m.model = NEW_ID
    assert m.model == "doubao-seedream-4.5"
    ip.run_line_magic("config", "SeedreamMagic.strict_models = False")
    ip.run_line_magic("config", f'SeedreamMagic.model = "{NEW_ID}"')
    ip.run_line_magic("config", "SeedreamMagic.price_per_image_usd = 0.03")
    result, out = run(ip, "%%seedream --dry-run\na fox\n")
    assert result.error_in_exec is None and f'"model": "{NEW_ID}"' in out.stdout
    assert "≈ $0.0300" in out.stdout
    ip.run_line_magic("config", 'SeedreamMagic.model = "doubao-seedream-4.5"')


def test_magic_settings_for_placement_and_wait(ip: InteractiveShell) -> None:
    ip.run_line_magic("config", 'SeedreamMagic.upstream_placement = "extra"')
    result, out = run(ip, "%%seedream --dry-run --extra stream=false payload <<\nx\n")
    assert result.error_in_exec is None, out.stdout
    assert ip.user_ns["payload"]["extra"] == {"stream": False}
    ip.run_line_magic("config", 'SeedreamMagic.wait = "sync"')
    _, out = run(ip, "%%seedream --dry-run\nx\n")
    assert "POST /v1/tasks/sync" in out.stdout
    _, out = run(ip, "%%seedream --dry-run --wait poll\nx\n")
    assert "POST /v1/tasks\n" in out.stdout
    with pytest.raises(Exception, match="top-level"):
        ip.magics_manager.registry["SeedreamMagic"].upstream_placement = "body"


def test_magic_preset_fills_what_the_cell_does_not_say(ip: InteractiveShell) -> None:
    ip.user_ns["fox"] = sj.preset(model="4.5", aspect_ratio="16:9", resolution="4K", seed=5)
    result, out = run(ip, "%%seedream --dry-run --preset fox -r 2K payload <<\na red fox\n")
    assert result.error_in_exec is None, out.stdout
    body = ip.user_ns["payload"]
    assert (body["model"], body["aspect_ratio"], body["resolution"], body["seed"]) == (
        "doubao-seedream-4.5",
        "16:9",
        "2K",
        5,
    )
    ip.user_ns["fox"] = "not a preset"
    assert "str" in failed(ip, "%%seedream --dry-run --preset fox\nx\n")


def test_help_tells_the_truth_about_seeds_and_lists_the_new_options() -> None:
    text = help_text()
    assert "same seed ⇒ same image" not in text
    assert "similar (not identical)" in text and NOTE in text
    for option in (
        "--extra",
        "--callback-url",
        "--optimize-prompt",
        "--web-search",
        "--wait",
        "--preset",
        "--no-strict",
        "--price",
    ):
        assert option in text
    assert "inferred" in text and "warned, not refused" in text


# -- the panel ---------------------------------------------------------------------------------


def test_panel_advanced_box_reaches_the_request() -> None:
    form = PanelForm(prompt="a skyline", model="doubao-seedream-5.0-lite")
    adv = form.advanced
    assert adv.optimize_prompt.options == ("off", "standard")
    adv.optimize_prompt.value = "standard"
    adv.web_search.value = True
    adv.callback_url.value = "https://example.com/hook"
    adv.extra.value = '{"stream": false}'
    body = form.request().to_payload()
    assert body["tools"] == [{"type": "web_search"}] and body["stream"] is False
    assert body["optimize_prompt_options"] == {"mode": "standard"}
    assert body["callback_url"] == "https://example.com/hook"


def test_panel_advanced_box_follows_the_model() -> None:
    form = PanelForm(model="doubao-seedream-5.0-lite")
    form.advanced.web_search.value = True
    form.model.value = "doubao-seedream-4.0"
    assert form.advanced.web_search.value is False and form.advanced.web_search.disabled
    assert "web search → off" in form.advanced.note.value
    assert form.advanced.optimize_prompt.options == ("off", "standard", "fast")
    form.advanced.optimize_prompt.value = "fast"
    form.model.value = "doubao-seedream-4.5"
    assert form.advanced.optimize_prompt.value == "off"


@pytest.mark.parametrize(
    ("field", "text", "says"),
    [
        ("extra", "{stream: false}", "not JSON"),
        ("extra", "[1, 2]", "one JSON object"),
        ("extra", '{"seed": 4}', "may not override"),
        ("callback_url", "http://", "with a host"),
    ],
)
def test_panel_advanced_box_refuses_bad_values(field: str, text: str, says: str) -> None:
    panel = Panel(prompt="x")
    getattr(panel.form.advanced, field).value = text
    assert says in panel.form.advanced.note.value  # said at once, under the box
    assert panel.generate() is None  # and nothing is sent
    assert says in panel.message.value


def test_panel_size_line_follows_the_auto_reference() -> None:
    form = PanelForm(model="doubao-seedream-4.5")
    form.aspect_ratio.value = "auto"
    assert "auto needs a reference image" in form.cost.value
    form.add_reference(png((720, 1280)), label="portrait")
    assert "1440×2560 px (auto → 9:16)" in form.cost.value
    form.remove_reference(0)
    form.add_reference("https://example.com/r.png")
    assert "the reference&#x27;s ratio" in form.cost.value


# -- the views ---------------------------------------------------------------------------------


def test_views_show_auto_the_reference_way() -> None:
    request = GenerationRequest(
        prompt="x", action="image2image", aspect_ratio="auto", image_urls=(uri((720, 1280)),)
    )
    view = TaskView(frozen(request, state=JobState.PROCESSING, finished_at=None, progress=10))
    assert view.aspect_ratio == "auto → 9:16" and view.pixel_size == "1440×2560"
    assert view.placeholder_ratio == pytest.approx(1440 / 2560)
    assert "auto → 9:16" in static.header_text(request)


def test_views_say_when_the_price_is_unknown() -> None:
    request = GenerationRequest(prompt="x", model=NEW_ID, strict=False)
    view = TaskView(frozen(request))
    assert view.price_known is False and view.cost_text == "price unknown"
    assert static.header_text(request).endswith("price unknown")
    res = Result(Task("task-wave1", TaskStatus.COMPLETED), request, image_bytes=[png((8, 8))])
    assert "price unknown" in res.summary()
    assert "1 of unknown price" in repr(ResultSet([res]))


def test_every_view_says_a_cache_hit_billed_nothing() -> None:
    request = GenerationRequest(prompt="x", seed=7)
    job = frozen(request, from_cache=True, message=f"{NOTE} (an identical request ...)")
    assert NOTE in static.status_line(static.snapshot(job))
    assert NOTE in static.summary_text(job)
    view = TaskView(job)
    assert NOTE in view.status_label and view.from_cache
    stream = io.StringIO()
    TextProgress(job, stream=stream)
    assert NOTE in stream.getvalue()
    res = Result(
        Task("task-wave1", TaskStatus.COMPLETED),
        request,
        image_bytes=[png((8, 8))],
        from_cache=True,
    )
    assert NOTE in res.summary() and NOTE in repr(res)


def test_the_taskview_front_end_shows_the_cache_note_and_unknown_price() -> None:
    from pathlib import Path

    js = (Path(api.__file__).parents[1] / "display" / "taskview.js").read_text()
    assert "nothing billed" in js and '"cost_text"' in js  # the price text comes from Python
    assert "toFixed(2)" not in js
    assert json.dumps("from cache") not in js


def test_history_tables_say_when_a_price_is_unknown() -> None:
    from seedream_jupyter.display import tables

    assert tables.cost_cell(NEW_ID, 0.0) == "price unknown"
    assert tables.cost_cell(NEW_ID, 0.05) == "$0.0500"
    assert tables.cost_cell("doubao-seedream-4.5", 0.0) == "$0.0000"
