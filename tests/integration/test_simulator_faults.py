"""Every fault the simulator can inject, observed over real sockets with plain httpx."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from seedream_jupyter.simulator import FAULTS, FaultPlan, SimulatorHandle, parse_spec

if TYPE_CHECKING:
    from conftest import StartSimulator

BODY = {"model": "doubao-seedream-4.0", "prompt": "a lighthouse at dusk", "resolution": "1K"}


@pytest.fixture
def http(simulator: SimulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=simulator.url, timeout=30) as client:
        yield client


def submit(http: httpx.Client) -> str:
    response = http.post("/v1/tasks", json=BODY)
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


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


# -- the spec grammar ----------------------------------------------------------------------
def test_spec_grammar() -> None:
    items = parse_spec("429:0.3x3~1, 500@get:0.5, slow@download+get~0.2, fail, truncate:0.25")
    assert [i.describe() for i in items] == [
        "429@submit+sync+get+cancel:0.3x3~1",
        "500@get:0.5",
        "slow@download+get:1~0.2",
        "fail@submit+sync:1",
        "truncate@download:0.25",
    ]
    assert parse_spec("drop@all")[0].scopes == ("submit", "sync", "get", "cancel", "download")
    assert parse_spec("malformed@all")[0].scopes == ("submit", "sync", "get", "cancel")
    assert parse_spec(None) == () and parse_spec("") == ()
    assert parse_spec("500@submit#1x2:0.5")[0].describe() == "500@submit:0.5x2#1"


def test_limit_caps_how_often_a_fault_fires() -> None:
    plan = FaultPlan.from_spec("500@get#2,slow@get:1x3#1~0")
    draws = [sorted(plan.draw("get")) for _ in range(4)]
    assert draws == [["500", "slow"], ["500"], [], []]


@pytest.mark.parametrize(
    "spec",
    ["teapot:1", "500:1.5", "500~2", "fail@get", "429@nowhere", "429:abc", "slow x", "500:1:1"],
)
def test_bad_specs_are_refused_with_a_reason(spec: str) -> None:
    with pytest.raises(ValueError, match=r"fault"):
        parse_spec(spec)


def test_draws_are_deterministic_and_follow_the_probability() -> None:
    def pattern(seed: int) -> list[bool]:
        plan = FaultPlan.from_spec("500@get:0.3", seed)
        return ["500" in plan.draw("get") for _ in range(400)]

    assert pattern(7) == pattern(7)
    assert pattern(7) != pattern(8)
    assert 80 <= sum(pattern(7)) <= 160
    plan = FaultPlan.from_spec("500@get:1")
    assert plan.draw("submit") == {} and "500" in plan.draw("get")


# -- status faults -------------------------------------------------------------------------
@pytest.mark.simulator(faults="429@get~2")
def test_429_carries_retry_after(http: httpx.Client, simulator: SimulatorHandle) -> None:
    task_id = submit(http)  # submits are not in scope
    response = http.get(f"/v1/tasks/{task_id}")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert error_code(response) == "rate_limit_exceeded"
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert simulator.stats.faults["429"] == 1


@pytest.mark.simulator(faults="429@get:0.15x3", fault_seed=3)
def test_429_comes_in_bursts(http: httpx.Client) -> None:
    task_id = submit(http)
    statuses = [http.get(f"/v1/tasks/{task_id}").status_code for _ in range(60)]
    runs: list[int] = []
    length = 0
    for status in [*statuses, 200]:
        if status == 429:
            length += 1
        elif length:
            runs.append(length)
            length = 0
    assert runs, statuses
    complete_runs = runs[:-1] if statuses[-1] == 429 else runs
    assert all(run >= 3 for run in complete_runs), statuses


@pytest.mark.parametrize(
    ("spec", "status", "code"),
    [
        ("429@submit", 429, "rate_limit_exceeded"),
        ("500", 500, "internal_error"),
        ("502", 502, "bad_gateway"),
        ("503~1", 503, "service_unavailable"),
    ],
)
def test_status_faults_on_submit_create_no_task(
    start_simulator: StartSimulator, spec: str, status: int, code: str
) -> None:
    sim = start_simulator(faults=spec)
    response = httpx.post(f"{sim.url}/v1/tasks", json=BODY)
    assert response.status_code == status
    assert error_code(response) == code
    assert sim.stats.submit_requests == 1 and sim.stats.submits == 0
    assert sim.task_ids() == []
    if status == 503:
        assert response.headers["retry-after"] == "1"


@pytest.mark.simulator(faults="500@get")
def test_5xx_scoped_to_polls_leaves_submits_and_downloads_alone(
    http: httpx.Client, simulator: SimulatorHandle
) -> None:
    task_id = submit(http)
    assert http.get(f"/v1/tasks/{task_id}").status_code == 500
    simulator.set_faults(None)
    data = wait_done(http, task_id)
    simulator.set_faults("500@get")
    assert http.get(data["result"]["images"][0]["url"][0]).status_code == 200


# -- slow, drop, malformed -----------------------------------------------------------------
@pytest.mark.simulator(faults="slow@get~0.3")
def test_slow_delays_the_answer(http: httpx.Client, simulator: SimulatorHandle) -> None:
    started = time.monotonic()
    task_id = submit(http)
    assert time.monotonic() - started < 0.25
    started = time.monotonic()
    assert http.get(f"/v1/tasks/{task_id}").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert simulator.stats.faults["slow"] == 1


@pytest.mark.simulator(faults="drop@submit")
def test_drop_on_submit_loses_the_answer_but_the_task_exists(
    http: httpx.Client, simulator: SimulatorHandle
) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/v1/tasks", json=BODY)
    assert simulator.stats.submit_requests == 1 and simulator.stats.submits == 1
    [task_id] = simulator.task_ids()
    assert wait_done(http, task_id)["status"] == "completed"  # polls are not in scope


@pytest.mark.simulator(faults="drop@get")
def test_drop_on_poll_closes_mid_response(http: httpx.Client, simulator: SimulatorHandle) -> None:
    task_id = submit(http)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(f"/v1/tasks/{task_id}")
    simulator.set_faults(None)
    assert http.get(f"/v1/tasks/{task_id}").status_code == 200  # a fresh connection works
    assert simulator.stats.faults["drop"] == 1


@pytest.mark.simulator(faults="malformed@get")
def test_malformed_json_with_200(http: httpx.Client, simulator: SimulatorHandle) -> None:
    task_id = submit(http)
    response = http.get(f"/v1/tasks/{task_id}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        response.json()
    assert simulator.stats.faults["malformed"] == 1


# -- task faults ---------------------------------------------------------------------------
@pytest.mark.simulator(faults="fail")
def test_fail_ends_the_task_failed_with_a_message(
    http: httpx.Client, simulator: SimulatorHandle
) -> None:
    data = wait_done(http, submit(http))
    assert data["status"] == "failed" and data["progress"] == 0
    assert data["error"]["code"] == "task_failed" and "failed" in data["error"]["message"]
    assert "result" not in data and data["completed_at"] >= data["created_at"]
    state = simulator.task(data["task_id"])
    assert state is not None and state.fail


@pytest.mark.simulator(faults="truncate")
def test_truncate_cuts_the_download_short(http: httpx.Client, simulator: SimulatorHandle) -> None:
    data = wait_done(http, submit(http))
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(data["result"]["images"][0]["url"][0])
    assert simulator.stats.downloads == 1 and simulator.stats.downloads_ok == 0
    with (
        httpx.Client() as raw,
        raw.stream("GET", data["result"]["images"][0]["url"][0]) as response,
    ):
        promised = int(response.headers["content-length"])
        received = bytearray()
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in response.iter_raw():
                received += chunk
        assert 0 < len(received) < promised


@pytest.mark.simulator(faults="expired")
def test_expired_links_answer_410(http: httpx.Client, simulator: SimulatorHandle) -> None:
    data = wait_done(http, submit(http))
    entry = data["result"]["images"][0]
    assert entry["expires_at"] <= data["completed_at"] / 1000 + 1
    response = http.get(entry["url"][0])
    assert response.status_code == 410 and error_code(response) == "url_expired"
    assert simulator.stats.faults["expired"] == 1


def test_the_same_seed_gives_the_same_faults(start_simulator: StartSimulator) -> None:
    def statuses(seed: int) -> list[int]:
        sim = start_simulator(faults="429@get:0.3,500@get:0.2,malformed:0.2", fault_seed=seed)
        with httpx.Client(base_url=sim.url) as http:
            response = http.post("/v1/tasks", json=BODY)
            while response.status_code != 200 or not response.content.endswith(b"}"):
                response = http.post("/v1/tasks", json=BODY)
            task_id = response.json()["task_id"]
            out = []
            for _ in range(30):
                response = http.get(f"/v1/tasks/{task_id}")
                ok = response.status_code == 200 and response.content.endswith(b"}")
                out.append(response.status_code if not ok else 0)
        return out

    first = statuses(11)
    assert first == statuses(11)
    assert {0, 200, 429, 500} == set(first)  # ok, malformed, rate limited, server error
    assert first != statuses(12)


def test_every_fault_is_documented() -> None:
    import seedream_jupyter.simulator as simulator

    doc = simulator.__doc__ or ""
    for name in FAULTS:
        assert f"``{name}``" in doc, name
