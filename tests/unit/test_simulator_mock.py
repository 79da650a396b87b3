"""``simulator.mock``: the simulator behind an ``httpx.MockTransport``, sync and async, with
the socket-only faults mapped to httpx exceptions."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image
from simtools import max_overlap, request_spans

from seedream_jupyter import catalog, simulator
from seedream_jupyter.simulator import MockSimulator

BODY = {"model": "doubao-seedream-4.0", "prompt": "a lighthouse at dusk", "resolution": "1K"}


@pytest.fixture
def sim() -> Iterator[MockSimulator]:
    with simulator.mock(speed=50) as mocked:
        yield mocked


def wait_done(http: httpx.Client, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        data: dict[str, Any] = http.get(f"/v1/tasks/{task_id}").json()
        if data["status"] in ("completed", "failed", "cancelled"):
            return data
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_a_task_runs_through_the_mock_transport(sim: MockSimulator) -> None:
    assert isinstance(sim.transport, httpx.MockTransport)
    with sim.client() as http:
        response = http.post("/v1/tasks", json=BODY)
        assert response.status_code == 200
        assert response.headers[catalog.SIMULATOR_HEADER] == "1; speed=50"
        task_id = response.json()["task_id"]
        data = wait_done(http, task_id)
        [url] = data["result"]["images"][0]["url"]
        assert url.startswith(f"{sim.url}/files/{task_id}/")
        image = Image.open(io.BytesIO(http.get(url).content))
    assert image.size == (1024, 1024)
    assert sim.url == "http://127.0.0.1:9"  # loopback: where a simulator is believed
    assert sim.task_ids() == [task_id] and sim.stats.submits == 1 and sim.stats.downloads_ok == 1
    state = sim.task(task_id)
    assert state is not None and state.status == "completed"
    assert [r.scope for r in sim.requests][:1] == ["submit"]


def test_plain_httpx_clients_work_on_the_transport(sim: MockSimulator) -> None:
    with httpx.Client(base_url=sim.url, transport=sim.transport) as http:
        invalid = http.post("/v1/tasks", json={**BODY, "resolution": "3K"})
    assert invalid.status_code == 400
    assert invalid.json()["error"]["message"].startswith("resolution: ")


async def test_the_async_client_works_and_sync_waits_do_not_block_the_loop() -> None:
    with simulator.mock(speed=20, queue_seconds=0.2) as sim:
        async with sim.async_client() as http:
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            ticker = asyncio.create_task(tick())
            data = (await http.post("/v1/tasks/sync", json=BODY)).json()
            ticker.cancel()
            assert data["status"] == "completed"
            assert ticks >= 10  # the loop ran while the simulator waited for the task
            image = await http.get(data["result"]["images"][0]["url"][0])
            assert image.status_code == 200


@pytest.mark.parametrize("wire", ["legacy", "envelope"])
def test_the_wire_variants_work_through_the_mock(wire: str) -> None:
    with simulator.mock(speed=50, wire=wire) as sim, sim.client() as http:
        answer = http.post("/v1/tasks", json=BODY).json()
    if wire == "envelope":
        assert answer["code"] == "success" and answer["data"] == sim.task_ids()[0]
    else:
        assert answer["task_id"].startswith("task_") and answer["created_at"] < 1e12


def test_auth_and_task_inspection_match_the_socket_server() -> None:
    with simulator.mock(api_key="sk-mock-1", queue_seconds=30) as sim, sim.client() as http:
        assert http.post("/v1/tasks", json=BODY).status_code == 401
        http.headers["Authorization"] = "Bearer sk-mock-1"
        task_id = http.post("/v1/tasks", json={**BODY, "extra": {"stream": False}}).json()[
            "task_id"
        ]
        state = sim.task(task_id)
        assert state is not None and state.upstream["stream"].placement == "extra"
        assert http.post(f"/v1/tasks/{task_id}/cancel").json()["status"] == "cancelled"
    assert sim.stats.unauthorized == 1 and sim.stats.cancelled == 1


# -- faults --------------------------------------------------------------------------------
def test_drop_is_a_remote_protocol_error_after_the_task_exists() -> None:
    with simulator.mock(faults="drop@submit") as sim, sim.client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.post("/v1/tasks", json=BODY)
        assert len(sim.task_ids()) == 1 and sim.stats.faults["drop"] == 1


def test_truncate_promises_more_than_it_sends() -> None:
    with simulator.mock(speed=50, faults="truncate") as sim, sim.client() as http:
        task = wait_done(http, http.post("/v1/tasks", json=BODY).json()["task_id"])
        url = task["result"]["images"][0]["url"][0]
        with http.stream("GET", url) as response:
            promised = int(response.headers["content-length"])
            received = bytearray()
            with pytest.raises(httpx.RemoteProtocolError):
                for chunk in response.iter_raw():
                    received += chunk
        assert 0 < len(received) < promised


async def test_drop_and_truncate_raise_in_async_clients_too() -> None:
    with simulator.mock(speed=50, faults="drop@get") as sim:
        async with sim.async_client() as http:
            task_id = (await http.post("/v1/tasks", json=BODY)).json()["task_id"]
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(f"/v1/tasks/{task_id}")


@pytest.mark.parametrize("spec", ["slowheaders@get", "endless"])
def test_socket_only_faults_become_read_timeouts(spec: str) -> None:
    with simulator.mock(speed=50, faults=spec) as sim, sim.client() as http:
        task_id = http.post("/v1/tasks", json=BODY).json()["task_id"]
        if spec == "endless":
            sim.set_faults(None)
            url = wait_done(http, task_id)["result"]["images"][0]["url"][0]
            sim.set_faults(spec)
            with pytest.raises(httpx.ReadTimeout):
                http.get(url)
        else:
            with pytest.raises(httpx.ReadTimeout):
                http.get(f"/v1/tasks/{task_id}")
    assert sim.stats.faults[spec.split("@")[0]] == 1


def test_slow_sleeps_sync_and_async() -> None:
    with simulator.mock(faults="slow@get~0.2") as sim, sim.client() as http:
        task_id = http.post("/v1/tasks", json=BODY).json()["task_id"]
        started = time.monotonic()
        assert http.get(f"/v1/tasks/{task_id}").status_code == 200
        assert time.monotonic() - started >= 0.2

    async def poll(async_sim: MockSimulator) -> float:
        async with async_sim.async_client() as client:
            async_id = (await client.post("/v1/tasks", json=BODY)).json()["task_id"]
            began = time.monotonic()
            await asyncio.gather(*(client.get(f"/v1/tasks/{async_id}") for _ in range(5)))
            return time.monotonic() - began

    with simulator.mock(faults="slow@get~0.2") as async_sim:
        assert asyncio.run(poll(async_sim)) >= 0.2
    assert max_overlap(request_spans(async_sim, "get")) == 5  # five slow polls side by side


@pytest.mark.parametrize(
    ("spec", "check"),
    [
        ("429@get~3", lambda r: r.status_code == 429 and r.headers["retry-after"] == "3"),
        ("nested@get", lambda r: r.status_code == 200 and r.content.startswith(b"[[[[")),
        ("malformed@get", lambda r: r.status_code == 200 and b"<<malformed>>" in r.content),
    ],
)
def test_answer_faults_are_the_same_as_over_sockets(spec: str, check: Any) -> None:
    with simulator.mock(faults=spec) as sim, sim.client() as http:
        task_id = http.post("/v1/tasks", json=BODY).json()["task_id"]
        assert check(http.get(f"/v1/tasks/{task_id}"))


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"jitter": -0.1}, "jitter"),
        ({"capacity": 0}, "capacity"),
        ({"speed": 0}, "speed"),
        ({"image_side": 0}, "image_side"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        simulator.mock(**options)


def test_the_config_carries_the_new_options() -> None:
    with simulator.mock(jitter=0, timing_seed=4, capacity=None, wire="legacy") as sim:
        config = sim.config
    assert (config.jitter, config.timing_seed, config.capacity, config.wire) == (
        0,
        4,
        None,
        "legacy",
    )
