"""The whole API over real sockets: what the simulator received (``handle.task(id).body /
.extra / .upstream``) for ``extra`` and the first-class options in each placement, callbacks,
``auto``, ``wait="sync"`` (with its server wait running out, and a dropped connection), model
ids the catalog does not know, presets, and the magic and the panel driving all of it."""

from __future__ import annotations

import asyncio
import io
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from PIL import Image

import seedream_jupyter as sj
from seedream_jupyter import api, catalog, magic
from seedream_jupyter.panel import Panel
from seedream_jupyter.session import session
from seedream_jupyter.simulator import SimulatorHandle
from seedream_jupyter.store import Store

KEY = "sk-api-surface-sentinel-0123456789"
NEW_ID = "doubao-seedream-5.0-pro"


@pytest.fixture(autouse=True)
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in (
        "WAVE_API_KEY",
        "WAVE_API_KEY_FILE",
        "SEEDREAM_BASE_URL",
        "SEEDREAM_SIMULATOR",
        "SEEDREAM_BUDGET_USD",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEEDREAM_HOME", str(tmp_path))
    warnings.simplefilter("ignore", sj.SimulatorWarning)
    return tmp_path


@pytest.fixture
def client(simulator: SimulatorHandle) -> sj.Client:
    return sj.Client(api_key=KEY, base_url=simulator.url)


def png(size: tuple[int, int], color: tuple[int, int, int] = (30, 90, 160)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def submits(sim: SimulatorHandle) -> list[str]:
    return [r.path for r in sim.requests if r.method == "POST" and r.scope in ("submit", "sync")]


def placements(sim: SimulatorHandle, task_id: str) -> dict[str, tuple[Any, str]]:
    state = sim.task(task_id)
    assert state is not None
    return {name: (o.value, o.placement) for name, o in state.upstream.items()}


# -- extra and the first-class options -----------------------------------------------------------


def test_extra_and_options_reach_the_server_as_top_level_keys(
    client: sj.Client, simulator: SimulatorHandle
) -> None:
    res = sj.generate(
        "today's skyline",
        model="5.0-lite",
        optimize_prompt="standard",
        web_search=True,
        extra={"stream": False, "response_format": "url"},
        client=client,
    )
    assert len(res.images) == 1
    assert placements(simulator, res.task_id) == {
        "optimize_prompt_options": ({"mode": "standard"}, "top-level"),
        "tools": ([{"type": "web_search"}], "top-level"),
        "stream": (False, "top-level"),
        "response_format": ("url", "top-level"),
    }
    state = simulator.task(res.task_id)
    assert state is not None and state.extra == {}
    assert res.request["tools"] == [{"type": "web_search"}]  # the Result keeps what was sent


def test_the_placement_switch_sends_them_in_one_extra_object(
    client: sj.Client, simulator: SimulatorHandle
) -> None:
    session().configure(upstream_placement="extra")
    res = sj.generate(
        "x", model="4.0", optimize_prompt="fast", extra={"stream": False}, client=client
    )
    state = simulator.task(res.task_id)
    assert state is not None
    assert state.extra == {"optimize_prompt_options": {"mode": "fast"}, "stream": False}
    assert "optimize_prompt_options" not in state.body and "stream" not in state.body
    assert {o.placement for o in state.upstream.values()} == {"extra"}


def test_client_submit_takes_the_whole_api(client: sj.Client, simulator: SimulatorHandle) -> None:
    task = client.submit(
        prompt="x",
        model="4.0",
        optimize_prompt="fast",
        extra={"stream": False},
        upstream_placement="extra",
        callback_url="https://example.com/hook",
    )
    assert placements(simulator, task.task_id) == {
        "optimize_prompt_options": ({"mode": "fast"}, "extra"),
        "stream": (False, "extra"),
    }
    state = simulator.task(task.task_id)
    assert state is not None and state.body["callback_url"] == "https://example.com/hook"


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"model": "4.5", "web_search": True}, "web_search"),
        ({"model": "5.0-lite", "optimize_prompt": "fast"}, "optimize_prompt"),
        ({"extra": {"seed": 1}}, "extra['seed']"),
        ({"extra": {"n": 9}}, "extra['n']"),
        ({"extra": {"image_urls": ["https://example.com/x.png"]}}, "extra['image_urls']"),
        ({"callback_url": "http://"}, "callback_url"),
        ({"aspect_ratio": "auto"}, "aspect_ratio"),
        ({"model": NEW_ID}, "model"),
        ({"wait": "later"}, "wait"),
    ],
)
def test_refused_before_anything_is_sent(
    client: sj.Client, simulator: SimulatorHandle, kw: dict[str, Any], field: str
) -> None:
    with pytest.raises(sj.ValidationError) as info:
        sj.generate("x", client=client, **kw)
    assert info.value.field == field
    assert simulator.requests == [] and simulator.stats.submit_requests == 0


# -- callbacks -----------------------------------------------------------------------------------


def test_a_helper_callback_url_receives_the_finished_task(
    client: sj.Client, callback_receiver: Any
) -> None:
    res = sj.generate("x", callback_url=callback_receiver.url, client=client)
    (body,) = callback_receiver.wait_for(1)
    assert body["task_id"] == res.task_id and body["status"] == "completed"


# -- auto ----------------------------------------------------------------------------------------


def test_auto_estimates_the_size_the_server_returns(client: sj.Client) -> None:
    request = api.build_request(
        "y", images=png((720, 1280)), aspect_ratio="auto", action="image2image"
    )
    assert request.pixel_size == (1440, 2560)
    res = sj.image2image(png((720, 1280)), "as an oil painting", aspect_ratio="auto", client=client)
    assert res.images[0].size == request.pixel_size
    tall = sj.image2image(
        png((300, 700)), "x", model="5.0-lite", aspect_ratio="auto", client=client
    )
    assert (
        tall.images[0].size
        == tall.params.pixel_size
        == catalog.MODELS["doubao-seedream-5.0-lite"].pixel_size("2K", "9:16")
    )


# -- wait="sync" ---------------------------------------------------------------------------------


def test_sync_returns_images_from_one_request_and_records_the_id(
    client: sj.Client, simulator: SimulatorHandle
) -> None:
    res = sj.generate("sync", wait="sync", client=client)
    assert len(res.images) == 1 and res.status == "completed"
    assert submits(simulator) == ["/v1/tasks/sync"]
    assert simulator.stats.polls == 0  # the answer was the finished task
    record = Store().get(res.task_id)
    assert record is not None and record.status == "completed" and record.all_on_disk


@pytest.mark.simulator(sync_timeout=0.05, queue_seconds=0.4, jitter=0)
def test_sync_whose_server_wait_runs_out_is_polled_to_the_end(
    client: sj.Client, simulator: SimulatorHandle
) -> None:
    job = api.start(api.build_request("slow"), client=client, wait="sync")
    deadline = time.monotonic() + 5
    while job.state == api.JobState.SUBMITTING and time.monotonic() < deadline:
        time.sleep(0.01)  # the job leaves "submitting" once the id is in the history
    assert job.task_id is not None and job.state == api.JobState.QUEUED
    record = Store().get(job.task_id)  # recorded while the task was still queued
    assert record is not None and record.status in ("submitted", "queued", "processing")
    res = job.wait()
    assert len(res.images) == 1
    assert submits(simulator) == ["/v1/tasks/sync"] and simulator.stats.polls >= 1


@pytest.mark.simulator(faults="drop@sync#1")
def test_sync_with_a_dropped_connection_is_kept_as_unconfirmed_and_never_resent(
    client: sj.Client, simulator: SimulatorHandle
) -> None:
    with pytest.raises(sj.ConnectionFailedError, match="may exist") as info:
        sj.generate("dropped", wait="sync", client=client)
    assert info.value.maybe_submitted
    time.sleep(0.2)
    assert simulator.stats.submits == 1 and submits(simulator) == ["/v1/tasks/sync"]
    (record,) = Store().history()
    # the write-ahead intent stays: "may be billed — check the provider's console"
    assert record.status == "unconfirmed" and record.prompt == "dropped"


@pytest.mark.simulator(sync_timeout=0.05, queue_seconds=0.3, jitter=0)
def test_client_submit_and_wait_polls_when_the_server_wait_runs_out(
    client: sj.Client, simulator: SimulatorHandle
) -> None:
    seen: list[str] = []
    task = client.submit_and_wait(
        prompt="x", timeout=20, on_progress=lambda t: seen.append(str(t.status))
    )
    assert task.status == sj.TaskStatus.COMPLETED and task.urls
    assert seen[0] in ("queued", "processing") and seen[-1] == "completed"
    first = client.submit_and_wait(prompt="y", poll=False)
    assert not first.is_terminal and first.poll_url == f"/v1/tasks/{first.task_id}"


# -- model ids the catalog does not know -------------------------------------------------------


def test_an_unknown_id_with_strict_false_gets_images(
    client: sj.Client, simulator: SimulatorHandle
) -> None:
    with pytest.warns(sj.UnknownModelWarning, match="price is unknown"):
        res = sj.generate("x", model=NEW_ID, strict=False, resolution="3K", client=client)
    assert res.model == NEW_ID and res.images[0].size == (3072, 3072)
    state = simulator.task(res.task_id)
    assert state is not None and state.body["model"] == NEW_ID
    assert "price unknown" in res.summary()


def test_a_budget_refuses_an_unpriced_id_until_a_price_is_given(
    simulator: SimulatorHandle,
) -> None:
    session().configure(budget_usd=1.0, strict_models=False)
    fresh = sj.Client(api_key=KEY, base_url=simulator.url)  # not yet known as a simulator
    with (
        pytest.warns(sj.UnknownModelWarning),
        pytest.raises(sj.BudgetExceededError, match="no price"),
    ):
        sj.generate("x", model=NEW_ID, client=fresh)
    assert simulator.stats.submit_requests == 0
    with pytest.warns(sj.UnknownModelWarning, match="0.05 per image"):
        res = sj.generate("x", model=NEW_ID, price_per_image_usd=0.05, client=fresh)
    assert res.cost_usd == 0.05


# -- presets -------------------------------------------------------------------------------------


def test_presets_bind_defaults_over_sockets(client: sj.Client, simulator: SimulatorHandle) -> None:
    fox = sj.preset(model="4.5", aspect_ratio="16:9", resolution="4K", client=client)
    assert fox("a red fox").images[0].size == (5504, 3040)
    assert fox("a red fox", resolution="2K").images[0].size == (2560, 1440)  # the call wins
    group = fox.group("four seasons", max_images=2)
    assert len(group) == 2 and group.params.action == "group"
    edited = fox.edit(png((640, 360)), "at night")
    assert edited.params.action == "edit" and edited.images[0].size == (5504, 3040)
    many = fox.batch(["owl", {"prompt": "cat", "resolution": "2K"}], concurrency=2)
    assert [r.images[0].size for r in many] == [(5504, 3040), (2560, 1440)]
    swept = fox.sweep("a {animal}", animal=["fox", "owl"])
    assert len(swept) == 2 and {r.params.resolution for r in swept} == {"4K"}
    later = asyncio.run(fox.agenerate("async fox"))
    assert later.images[0].size == (5504, 3040)
    assert {simulator.task(t).body["resolution"] for t in simulator.task_ids()} == {"4K", "2K"}


def test_a_preset_with_sync_wait_uses_the_sync_endpoint(
    client: sj.Client, simulator: SimulatorHandle
) -> None:
    quick = sj.preset(wait="sync", client=client, extra={"stream": False})
    assert quick("x").images
    assert submits(simulator) == ["/v1/tasks/sync"]


# -- the magic -----------------------------------------------------------------------------------


@pytest.fixture
def ip(client: sj.Client, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setattr(session(), "client", lambda: client)
    shell = InteractiveShell.instance()
    shell.config.pop("SeedreamMagic", None)  # other tests' %config values outlive them
    magic.load_ipython_extension(shell)
    shell.run_line_magic("config", 'SeedreamMagic.display_mode = "text"')
    yield shell
    for name in ("out", "fox"):
        shell.user_ns.pop(name, None)
    magic.unload_ipython_extension(shell)
    shell.config.pop("SeedreamMagic", None)


def cell(ip: InteractiveShell, source: str) -> Any:
    with capture_output() as captured:
        result = ip.run_cell(source)
    assert result.error_in_exec is None, (result.error_in_exec, captured.stdout, captured.stderr)
    return captured


def test_magic_sends_extra_options_and_callbacks(
    ip: InteractiveShell, simulator: SimulatorHandle, callback_receiver: Any
) -> None:
    cell(
        ip,
        "%%seedream -m 5.0-lite --web-search --optimize-prompt standard --extra stream=false "
        f"--extra 'meta={{\"a\": 1}}' --callback-url {callback_receiver.url} out <<\nskyline\n",
    )
    res = ip.user_ns["out"]
    assert placements(simulator, res.task_id) == {
        "optimize_prompt_options": ({"mode": "standard"}, "top-level"),
        "tools": ([{"type": "web_search"}], "top-level"),
        "stream": (False, "top-level"),
    }
    state = simulator.task(res.task_id)  # a key the simulator does not know is still sent
    assert state is not None and state.body["meta"] == {"a": 1}
    (body,) = callback_receiver.wait_for(1)
    assert body["task_id"] == res.task_id


def test_magic_preset_and_sync_wait(ip: InteractiveShell, simulator: SimulatorHandle) -> None:
    ip.user_ns["fox"] = sj.preset(model="4.5", aspect_ratio="16:9", resolution="4K")
    cell(ip, "%%seedream --preset fox --wait sync -r 2K out <<\na red fox\n")
    res = ip.user_ns["out"]
    assert res.images[0].size == (2560, 1440) and res.params.aspect_ratio == "16:9"
    assert submits(simulator) == ["/v1/tasks/sync"]


def test_magic_no_strict_sends_a_new_id(ip: InteractiveShell, simulator: SimulatorHandle) -> None:
    out = cell(ip, f"%%seedream -m {NEW_ID} --no-strict out <<\na fox\n")
    assert "UnknownModelWarning" in out.stderr
    assert ip.user_ns["out"].model == NEW_ID


# -- the panel -----------------------------------------------------------------------------------


def test_panel_advanced_fields_reach_the_server(
    client: sj.Client, simulator: SimulatorHandle, callback_receiver: Any
) -> None:
    panel = Panel(prompt="a skyline", model="doubao-seedream-5.0-lite", client=client)
    adv = panel.form.advanced
    adv.optimize_prompt.value = "standard"
    adv.web_search.value = True
    adv.extra.value = '{"stream": false}'
    adv.callback_url.value = callback_receiver.url
    run = panel.generate()
    assert run is not None
    res = run.job.wait(30)
    assert placements(simulator, res.task_id) == {
        "optimize_prompt_options": ({"mode": "standard"}, "top-level"),
        "tools": ([{"type": "web_search"}], "top-level"),
        "stream": (False, "top-level"),
    }
    (body,) = callback_receiver.wait_for(1)
    assert body["task_id"] == res.task_id
