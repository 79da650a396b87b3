"""The hostile-server faults, observed over real sockets with plain httpx."""

from __future__ import annotations

import io
import ipaddress
import socket
import struct
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from seedream_jupyter.simulator import SimulatorHandle

if TYPE_CHECKING:
    from conftest import StartSimulator

BODY = {"model": "doubao-seedream-4.0", "prompt": "a lighthouse at dusk", "resolution": "1K"}
KEY = "sk-hostile-0123456789-secret"


@pytest.fixture
def http(simulator: SimulatorHandle) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=simulator.url, timeout=30, headers=headers) as client:
        yield client


def submit(http: httpx.Client, **overrides: Any) -> str:
    response = http.post("/v1/tasks", json={**BODY, **overrides})
    assert response.status_code == 200, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def wait_done(http: httpx.Client, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        data: dict[str, Any] = http.get(f"/v1/tasks/{task_id}").json()
        if data["status"] in ("completed", "failed", "cancelled"):
            return data
        assert time.monotonic() < deadline
        time.sleep(0.01)


def links(task: dict[str, Any]) -> list[str]:
    return [url for entry in task["result"]["images"] for url in entry["url"]]


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.01)


# -- the head and the body ------------------------------------------------------------------
@pytest.mark.simulator(faults="slowheaders@get~0.05")
def test_slowheaders_sends_the_head_one_byte_at_a_time(simulator: SimulatorHandle) -> None:
    with httpx.Client(base_url=simulator.url) as http:
        task_id = submit(http)  # submits are not in scope
        with pytest.raises(httpx.ReadTimeout):  # a read timeout under the pace fires ...
            http.get(f"/v1/tasks/{task_id}", timeout=httpx.Timeout(5, read=0.02))
    host, port = urlsplit(simulator.url).hostname, urlsplit(simulator.url).port
    assert host is not None and port is not None
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(f"GET /v1/tasks/{task_id} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        started = time.monotonic()
        pieces: list[bytes] = []
        while sum(map(len, pieces)) < 5:
            pieces.append(conn.recv(64))
        elapsed = time.monotonic() - started
    assert b"".join(pieces).startswith(b"HTTP/")
    assert len(pieces) >= 3 and min(map(len, pieces)) == 1  # ... because reads get a byte or so
    assert elapsed >= 4 * 0.05 * 0.9
    eventually(lambda: simulator.open_connections == 0)  # the trickle stops with the client
    assert simulator.stats.faults["slowheaders"] == 2


@pytest.mark.simulator(faults="slowheaders@download~0.004")
def test_slowheaders_on_a_download_outlasts_any_read_timeout(
    http: httpx.Client, simulator: SimulatorHandle
) -> None:
    url = links(wait_done(http, submit(http)))[0]
    started = time.monotonic()
    response = http.get(url, timeout=httpx.Timeout(5, read=0.5))
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == (1024, 1024)
    assert elapsed >= 100 * 0.004  # well over a hundred header bytes, each after a pause


@pytest.mark.simulator(faults="endless")
def test_endless_streams_until_the_client_leaves(simulator: SimulatorHandle) -> None:
    with httpx.Client(base_url=simulator.url) as http:
        url = links(wait_done(http, submit(http)))[0]
    received, first = 0, b""
    with httpx.Client(timeout=10) as raw, raw.stream("GET", url) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"
        for chunk in response.iter_raw():
            first = first or chunk
            received += len(chunk)
            if received > 8 * 1024 * 1024:
                break
    assert received > 8 * 1024 * 1024 and first.startswith(b"\xff\xd8\xff")
    eventually(lambda: simulator.open_connections == 0)  # the server thread has stopped
    assert simulator.stats.faults["endless"] == 1 and simulator.stats.downloads_ok == 0


@pytest.mark.simulator(faults="bomb")
def test_bomb_is_a_tiny_png_claiming_huge_dimensions(http: httpx.Client) -> None:
    response = http.get(links(wait_done(http, submit(http)))[0])
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    data = response.content
    assert len(data) < 10_000 and data.startswith(b"\x89PNG\r\n\x1a\n")
    assert data[12:16] == b"IHDR" and struct.unpack(">II", data[16:24]) == (60_000, 60_000)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))


@pytest.mark.simulator(faults="badimage")
def test_badimage_is_a_jpeg_header_then_noise(
    http: httpx.Client, simulator: SimulatorHandle
) -> None:
    response = http.get(links(wait_done(http, submit(http)))[0])
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert int(response.headers["content-length"]) == len(response.content) > 10_000
    assert response.content.startswith(b"\xff\xd8\xff\xe0")
    with pytest.raises(OSError):  # PIL's UnidentifiedImageError is an OSError
        Image.open(io.BytesIO(response.content)).load()
    assert simulator.stats.downloads_ok == 0


@pytest.mark.simulator(faults="nested@get+submit")
def test_nested_answers_json_too_deep_to_parse(
    http: httpx.Client, simulator: SimulatorHandle
) -> None:
    response = http.post("/v1/tasks", json=BODY)
    assert response.status_code == 200
    [task_id] = simulator.task_ids()  # the submit was processed
    response = http.get(f"/v1/tasks/{task_id}")
    assert response.status_code == 200 and len(response.content) == 400_000
    assert response.content.startswith(b"[[[[") and response.content.endswith(b"]]]]")
    with pytest.raises(RecursionError):
        response.json()
    assert simulator.stats.faults["nested"] == 2


# -- task faults -----------------------------------------------------------------------------
@pytest.mark.simulator(faults="zero")
def test_zero_completes_with_no_images(http: httpx.Client) -> None:
    data = wait_done(http, submit(http, n=2))
    assert data["status"] == "completed" and data["result"]["images"] == []


@pytest.mark.simulator(faults="surplus")
def test_surplus_completes_with_more_images_than_asked(
    http: httpx.Client, simulator: SimulatorHandle
) -> None:
    data = wait_done(http, submit(http, n=2))
    urls = links(data)
    assert len(urls) == 4
    assert http.get(urls[-1]).status_code == 200  # the extra ones are real files
    state = simulator.task(data["task_id"])
    assert state is not None and state.request.n == 2 and state.image_count == 4


@pytest.mark.simulator(faults="reuse")
def test_reuse_answers_two_submits_with_one_id(
    http: httpx.Client, simulator: SimulatorHandle
) -> None:
    first = submit(http, prompt="first")
    second = submit(http, prompt="second")
    assert second == first
    created = simulator.task_ids()
    assert len(created) == 2 and created[0] == first  # a second task exists all the same
    hidden = simulator.task(created[1])
    assert hidden is not None and hidden.request.prompt == "second"
    assert simulator.stats.submits == 2 and simulator.stats.faults["reuse"] == 1


@pytest.mark.simulator(faults="wrongid@get")
def test_wrongid_answers_a_poll_with_another_task(
    http: httpx.Client, simulator: SimulatorHandle
) -> None:
    lonely = submit(http)
    assert http.get(f"/v1/tasks/{lonely}").json()["task_id"] == lonely  # no other task yet
    other = submit(http)
    assert http.get(f"/v1/tasks/{lonely}").json()["task_id"] == other
    assert http.get(f"/v1/tasks/{other}").json()["task_id"] == lonely
    assert simulator.stats.faults["wrongid"] == 2


@pytest.mark.simulator(faults="echokey", api_key=KEY)
def test_echokey_leaks_the_authorization_header_in_the_error(http: httpx.Client) -> None:
    data = wait_done(http, submit(http))
    assert data["status"] == "failed" and data["error"]["code"] == "task_failed"
    assert f"Bearer {KEY}" in data["error"]["message"]


@pytest.mark.simulator(faults="private")
def test_private_points_result_links_at_internal_addresses(
    http: httpx.Client, simulator: SimulatorHandle
) -> None:
    urls = links(wait_done(http, submit(http, n=3)))
    hosts = [ipaddress.ip_address(urlsplit(url).hostname or "") for url in urls]
    assert len(hosts) == 3 and all(h.is_private and not h.is_loopback for h in hosts)
    assert hosts[0].is_link_local and "/latest/meta-data/" in urls[0]
    assert not any(url.startswith(simulator.url) for url in urls)


def test_task_faults_are_recorded_on_the_task(start_simulator: StartSimulator) -> None:
    sim = start_simulator(faults="zero,private")
    with httpx.Client(base_url=sim.url) as http:
        task_id = submit(http)
    state = sim.task(task_id)
    assert state is not None and state.faults == frozenset({"zero", "private"})
    assert sim.stats.faults["zero"] == sim.stats.faults["private"] == 1
