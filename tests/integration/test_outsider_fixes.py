"""Defects an outside tester found (money first), each pinned by a test over real sockets.

Counts come from the simulator's counters and the history, not from clocks.
"""

from __future__ import annotations

import base64
import os
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from PIL import Image

import seedream_jupyter as sj
from seedream_jupyter import catalog, images
from seedream_jupyter.session import Session
from seedream_jupyter.store import Store

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import StartSimulator

KEY = "sk-outsider-fixes-0123456789"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("WAVE_API_KEY", "WAVE_API_KEY_FILE", "SEEDREAM_BASE_URL", "SEEDREAM_SIMULATOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEEDREAM_HOME", str(tmp_path / "home"))
    warnings.simplefilter("ignore", sj.SimulatorWarning)
    return tmp_path / "home"


class _Relay(BaseHTTPRequestHandler):
    """A "real" API in front of a simulator: its own answers carry no simulator header, but
    image downloads are redirected to the simulator (which does send one)."""

    target = ""

    def _relay(self) -> None:
        if self.path.startswith("/files/"):  # images: a CDN redirect to the simulator
            self.send_response(302)
            self.send_header("Location", f"{self.target}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        answer = httpx.request(self.command, f"{self.target}{self.path}", content=body)
        data = answer.content.replace(self.target.encode(), self.origin.encode())
        self.send_response(answer.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _relay

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def relay(start_simulator: StartSimulator) -> Iterator[str]:
    sim = start_simulator()
    handler = type("Relay", (_Relay,), {"target": sim.url})
    server = ThreadingHTTPServer(("127.0.0.2", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.2:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_an_image_hosts_simulator_header_neither_frees_the_spend_nor_lifts_the_budget(
    relay: str, monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    monkeypatch.setenv("SEEDREAM_BUDGET_USD", str(catalog.MODELS[catalog.DEFAULT_MODEL].cost(2)))
    monkeypatch.setenv("SEEDREAM_ALLOW_PRIVATE_URLS", "1")
    client = sj.Client(api_key=KEY, base_url=relay)
    first = sj.generate("one", client=client, cache=False)  # its image came through a redirect
    assert first.images[0].size == (2048, 2048) and not first.simulated
    sj.generate("two", client=client, cache=False)
    with pytest.raises(sj.BudgetExceededError):
        sj.generate("three", client=client, cache=False)
    assert all(not r.simulated for r in Store(isolated).history())


def test_a_lone_string_is_not_a_batch(start_simulator: StartSimulator) -> None:
    sim = start_simulator()
    with pytest.raises(sj.ValidationError, match="requests"):
        sj.batch("sunset", client=sj.Client(api_key=KEY, base_url=sim.url))
    assert sim.stats.submit_requests == 0


def test_identical_fixed_seed_requests_at_once_are_paid_once(
    start_simulator: StartSimulator,
) -> None:
    sim = start_simulator()
    client = sj.Client(api_key=KEY, base_url=sim.url)
    results = sj.batch([{"prompt": "dup", "seed": 7}] * 3, concurrency=3, client=client)
    assert len(results) == 3 and sim.stats.submits == 1
    assert sorted(r.from_cache for r in results) == [False, True, True]


def test_a_poll_failure_after_the_submit_names_the_task_and_never_says_try_again(
    start_simulator: StartSimulator, backoffs_off: None
) -> None:
    sim = start_simulator(faults="500@get")
    with pytest.raises(sj.ServerError) as info:
        sj.generate("x", client=sj.Client(api_key=KEY, base_url=sim.url, max_retries=1))
    (task_id,) = sim.task_ids()
    assert info.value.submitted_task_id == task_id and task_id in info.value.hint
    assert "try again" not in str(info.value)


def test_a_timeout_that_runs_out_before_sending_leaves_no_maybe_billed_row(
    start_simulator: StartSimulator, isolated: Path
) -> None:
    sim = start_simulator()
    with pytest.raises(sj.TaskTimeoutError, match="nothing was sent"):
        sj.generate("x", timeout=1e-9, client=sj.Client(api_key=KEY, base_url=sim.url))
    assert sim.stats.submit_requests == 0 and Store(isolated).history() == []


@pytest.mark.parametrize("name", ["SEEDREAM_SIMULATOR", "SEEDREAM_HISTORY"])
def test_an_on_off_typo_is_refused_not_read_as_off(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, "y")
    with pytest.raises(sj.ConfigurationError, match=name):
        Session().get(name.removeprefix("SEEDREAM_").lower())


def test_the_key_is_refused_in_every_request_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAVE_API_KEY", KEY)
    monkeypatch.setenv("SEEDREAM_SIMULATOR", "1")  # the key is registered all the same
    for field, kw in (
        ("extra", {"extra": {"user": KEY}}),
        ("callback_url", {"callback_url": f"https://example.com/cb?k={KEY}"}),
        ("images[0]", {"images": f"https://example.com/{KEY}.png"}),
    ):
        with pytest.raises(sj.ValidationError, match="contains the API key") as info:
            sj.build_request("x", **kw)
        assert info.value.field == field and KEY not in str(info.value)


@pytest.mark.parametrize("key", ["image", "size"])
def test_extra_may_not_set_the_upstream_names_of_checked_fields(key: str) -> None:
    with pytest.raises(sj.ValidationError, match="validated parameter"):
        sj.build_request("x", extra={key: "anything"})


def test_failed_and_cancelled_tasks_cost_nothing_in_the_history(
    start_simulator: StartSimulator, isolated: Path
) -> None:
    sim = start_simulator(faults="fail")
    with pytest.raises(sj.TaskFailedError):
        sj.generate("x", client=sj.Client(api_key=KEY, base_url=sim.url))
    (record,) = Store(isolated).history()
    assert record.status == "failed" and record.cost_usd == 0.0


def test_a_completed_task_whose_images_are_not_on_disk_says_to_resume(
    start_simulator: StartSimulator, isolated: Path
) -> None:
    sim = start_simulator()
    result = sj.generate("x", client=sj.Client(api_key=KEY, base_url=sim.url))
    result.paths[0].unlink()
    (record,) = Store(isolated).history()
    assert record.status_text == "completed, 0 of 1 saved: run sj.resume()"


def test_an_unchanged_image_from_a_file_is_sent_as_its_file(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (1200, 800), (30, 120, 200)).save(path, quality=90)
    sent = images.to_image_url(Image.open(path))
    assert sent.startswith("data:image/jpeg;base64,")  # the file's own bytes, not a PNG
    edited = Image.open(path)
    edited.load()
    edited.putpixel((0, 0), (255, 0, 0))
    assert images.to_image_url(edited).startswith("data:image/png;base64,")  # its new pixels


def test_a_score_may_not_overwrite_a_record_column(start_simulator: StartSimulator) -> None:
    sim = start_simulator()
    s = sj.sweep("a {x}", x=["fox", "owl"], client=sj.Client(api_key=KEY, base_url=sim.url))
    for name in ("task_id", "x", "prompt"):
        with pytest.raises(sj.ValidationError, match="already has this name"):
            s.score(lambda image: 1.0, name=name)
    s.score(lambda image: 1.0, name="ones")
    s.score(lambda image: 2.0, name="ones")  # a score may be computed again
    assert [r["ones"] for r in s.to_records()] == [2.0, 2.0]


def test_a_pasted_file_is_not_a_prompt() -> None:
    with pytest.raises(sj.ValidationError, match="10,000 characters"):
        sj.build_request("x" * (catalog.MAX_PROMPT_CHARS + 1))


def test_a_double_click_on_generate_pays_once(start_simulator: StartSimulator) -> None:
    sim = start_simulator(queue_seconds=2.0)
    panel = sj.Panel("a paper boat", client=sj.Client(api_key=KEY, base_url=sim.url))
    first = panel.generate()
    second = panel.generate()
    assert first is not None and second is None
    assert "double click" in panel.message.value
    first.job.wait(30)
    assert sim.stats.submit_requests == 1


def test_a_read_only_history_is_still_read(
    start_simulator: StartSimulator, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = start_simulator()
    made = sj.generate("kept", client=sj.Client(api_key=KEY, base_url=sim.url))
    Session.current().forget_clients(simulated_only=False)
    # root may write anywhere: say "no write access" the way a read-only disk does
    real_access = os.access
    monkeypatch.setattr(
        "seedream_jupyter.store.base.os.access",
        lambda path, mode: False if mode == os.W_OK else real_access(path, mode),
    )
    store = Store(isolated)
    assert store.read_only and [r.task_id for r in store.history()] == [made.task_id]
    assert sj.load(made.task_id, store=store).images[0].size == (2048, 2048)


def test_an_unchanged_image_keeps_its_bytes_through_a_result(
    start_simulator: StartSimulator, isolated: Path
) -> None:
    sim = start_simulator()
    client = sj.Client(api_key=KEY, base_url=sim.url)
    first = sj.generate("a fox", client=client)
    edited = sj.edit(first[0], "at night", model="4.0", client=client)
    record = Store(isolated).get(edited.task_id)
    assert record is not None and edited.parent_task_id == first.task_id
    (sent,) = record.request.image_urls  # what went out, restored from the history
    assert sent.startswith("data:image/jpeg;base64,")  # the file itself, not a re-encoded PNG
    raw = base64.b64decode(sent.partition(",")[2])
    assert raw == first.paths[0].read_bytes()
