"""AsyncClient / Client against ``simulator.mock`` (the ``sim`` fixture), and against a few
inline ``httpx.MockTransport`` stubs for the answers the simulator never gives (other error
envelopes and statuses, a transport error of a given class at a given moment)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import io
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from PIL import Image
from simtools import (
    API_KEY,
    FAST_POLL,
    SMALL_SIDE,
    answers,
    first,
    of_scope,
    payloads,
    put_task,
    raising,
    sim_async_client,
    sim_client,
    stub_before,
)

from seedream_jupyter import _loop, config
from seedream_jupyter._version import __version__
from seedream_jupyter.client import USER_AGENT, Client, retry
from seedream_jupyter.client.http import retry_after as _retry_after
from seedream_jupyter.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConnectionFailedError,
    ImageDownloadError,
    InsufficientBalanceError,
    NotFoundError,
    RateLimitError,
    SeedreamError,
    ServerError,
    TaskCancelledError,
    TaskFailedError,
    TaskTimeoutError,
    ValidationError,
)
from seedream_jupyter.request import GenerationRequest
from seedream_jupyter.simulator import MockSimulator
from seedream_jupyter.task import Task, TaskStatus

_REAL_DELAY = retry.delay
pytestmark = pytest.mark.usefixtures("backoffs")
MakeSim = Callable[..., MockSimulator]
STUB_URL = "http://stub.test"


def err(
    status: int, body: Any = None, *, text: str | None = None, **headers: str
) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def stub_client(handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> Client:
    """A Client on an inline stub, for an answer the simulator never gives."""
    kw.setdefault("max_retries", 3)
    return Client(
        api_key=API_KEY,
        base_url=STUB_URL,
        transport=httpx.MockTransport(handler),
        poll=FAST_POLL,
        **kw,
    )


def changes(states: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The states that differ from the one before: what a reporter of changes reports."""
    return [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]


def polled_states(sim: MockSimulator) -> list[tuple[str, int]]:
    return [(a["status"], a["progress"]) for a in answers(sim, "get")]


# -- submit ------------------------------------------------------------------------------------


def test_submit_sends_bearer_user_agent_and_payload(
    sim: MockSimulator, client: Client, api_key: str
) -> None:
    task = client.submit(prompt="a red fox", model="4.5", aspect_ratio="16:9", seed=3)
    assert task.status is TaskStatus.QUEUED
    assert task.task_id.startswith("task-wave") and sim.task_ids() == [task.task_id]
    (sent,) = sim.requests
    assert sent.headers["authorization"] == f"Bearer {api_key}"
    assert sim.stats.unauthorized == 0  # the simulator checked the key
    ua = sent.headers["user-agent"]
    assert "seedream-jupyter" in ua and __version__ in ua
    assert ua == USER_AGENT
    assert sent.headers["content-type"] == "application/json"
    assert (sent.method, sent.path, sent.scope) == ("POST", "/v1/tasks", "submit")
    assert client.base_url == sim.url
    assert (
        sent.json()
        == GenerationRequest(
            prompt="a red fox", model="4.5", aspect_ratio="16:9", seed=3
        ).to_payload()
    )


def test_submit_accepts_a_request_object_and_changes(sim: MockSimulator, client: Client) -> None:
    req = GenerationRequest(prompt="x", model="4.0", resolution="1K")
    client.submit(req)
    client.submit(req, n=2)
    assert [p["n"] for p in payloads(sim)] == [1, 2]
    assert all(p["model"] == "doubao-seedream-4.0" for p in payloads(sim))
    assert sim.stats.submits == 2


def test_no_key_sends_no_authorization(make_sim: MakeSim) -> None:
    sim = make_sim(api_key=None)
    c = sim_client(sim, api_key=None)
    try:
        c.submit(prompt="x")
    finally:
        c.close()
    assert "authorization" not in sim.requests[0].headers


BAD_INPUTS = [
    {"prompt": ""},
    {"prompt": "   "},
    {"prompt": "x", "model": "doubao-seedream-9"},
    {"prompt": "x", "model": "5.0-lite", "action": "edit", "image_urls": ["https://a.test/1.png"]},
    {
        "prompt": "x",
        "model": "5.0-lite",
        "action": "reference",
        "image_urls": ["https://a/1", "https://a/2"],
    },
    {"prompt": "x", "resolution": "1K"},
    {"prompt": "x", "model": "5.0", "resolution": "4K"},
    {"prompt": "x", "aspect_ratio": "5:4"},
    {"prompt": "x", "model": "5.0", "aspect_ratio": "9:21"},
    {"prompt": "x", "output_format": "png"},
    {"prompt": "x", "n": 0},
    {"prompt": "x", "n": 16},
    {"prompt": "x", "n": True},
    {"prompt": "x", "seed": -2},
    {"prompt": "x", "seed": 2_147_483_648},
    {"prompt": "x", "action": "group", "max_images": 16},
    {"prompt": "x", "action": "edit"},
    {"prompt": "x", "action": "image2image"},
    {
        "prompt": "x",
        "model": "4.0",
        "action": "reference",
        "image_urls": [f"https://a/{i}" for i in range(11)],
    },
    {
        "prompt": "x",
        "model": "4.0",
        "action": "reference",
        "image_urls": ["https://a/1", "https://a/2"],
        "n": 14,
    },
    {"prompt": "x", "image_urls": [f"https://a/{i}" for i in range(15)]},
    {"prompt": "x", "action": "image2image", "image_urls": ["ftp://a.test/1.png"]},
    {
        "prompt": "x",
        "action": "image2image",
        "image_urls": ["data:image/gif;base64,R0lGODlhAQABAAAAACw="],
    },
    {"prompt": "x", "watermark": "no"},
    {"prompt": "x", "callback_url": "ftp://hook"},
    {"prompt": "x", "action": "paint"},
]


@pytest.mark.parametrize("kw", BAD_INPUTS, ids=[str(i) for i in range(len(BAD_INPUTS))])
def test_bad_input_raises_validation_error_with_zero_requests(
    sim: MockSimulator, client: Client, kw: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        client.submit(**kw)
    assert sim.requests == []


def test_bad_change_to_a_request_object_sends_nothing(sim: MockSimulator, client: Client) -> None:
    with pytest.raises(ValidationError):
        client.submit(GenerationRequest(prompt="x"), resolution="3K")
    assert sim.requests == []


def test_old_submit_envelope(make_sim: MakeSim) -> None:
    sim = make_sim(wire="envelope")
    with sim_client(sim) as c:
        task = c.submit(prompt="x")
    assert answers(sim, "submit") == [{"code": "success", "data": task.task_id}]
    assert sim.task_ids() == [task.task_id]


# -- HTTP errors -------------------------------------------------------------------------------

SIMULATED_GET_ERRORS = [
    (401, AuthenticationError, {"api_key": "sk-another-key"}, "invalid_api_key", "invalid API key"),
    (404, NotFoundError, {}, "task_not_found", "task task-wave1 not found"),
    (429, RateLimitError, {"faults": "429@get"}, "rate_limit_exceeded", "rate limit exceeded"),
    (500, ServerError, {"faults": "500@get"}, "internal_error", "internal server error"),
    (502, ServerError, {"faults": "502@get"}, "bad_gateway", "bad gateway"),
    (503, ServerError, {"faults": "503@get"}, "service_unavailable", "temporarily unavailable"),
]


@pytest.mark.parametrize(("status", "cls", "options", "code", "message"), SIMULATED_GET_ERRORS)
def test_get_status_maps_to_exception(
    make_sim: MakeSim, status: int, cls: type, options: dict[str, Any], code: str, message: str
) -> None:
    sim = make_sim(**options)
    with sim_client(sim, max_retries=2) as c, pytest.raises(cls) as info:
        c.get("task-wave1")
    exc = info.value
    assert type(exc) is cls
    assert isinstance(exc, APIError) and isinstance(exc, SeedreamError)
    assert exc.status_code == status and exc.code == code
    assert message in str(exc)
    assert exc.task_id == "task-wave1"
    retried = status == 429 or status >= 500
    assert [r.status for r in of_scope(sim, "get")] == [status] * (3 if retried else 1)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (402, InsufficientBalanceError),
        (422, BadRequestError),
        (504, ServerError),
        (418, APIError),
    ],
)
def test_statuses_the_simulator_never_sends_map_to_exceptions(status: int, cls: type) -> None:
    polls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:  # stub: no such GET answer exists
        polls.append(request)
        body = {"error": {"message": f"server says {status}", "code": f"c{status}"}}
        return err(status, body)

    with stub_client(handler, max_retries=2) as c, pytest.raises(cls) as info:
        c.get("task-wave1")
    exc = info.value
    assert type(exc) is cls and isinstance(exc, APIError)
    assert exc.status_code == status and exc.code == f"c{status}"
    assert f"server says {status}" in str(exc) and exc.task_id == "task-wave1"
    assert len(polls) == (3 if status >= 500 else 1)


@pytest.mark.parametrize(
    ("status", "cls", "options", "message"),
    [
        (401, AuthenticationError, {"api_key": "sk-another-key"}, "invalid API key"),
        (500, ServerError, {"faults": "500@submit"}, "internal server error"),
        (502, ServerError, {"faults": "502@submit"}, "bad gateway"),
        (503, ServerError, {"faults": "503@submit"}, "temporarily unavailable"),
    ],
)
def test_submit_status_maps_to_exception_without_retry(
    make_sim: MakeSim, status: int, cls: type, options: dict[str, Any], message: str
) -> None:
    sim = make_sim(**options)
    with sim_client(sim) as c, pytest.raises(cls) as info:
        c.submit(prompt="x")
    assert message in str(info.value) and info.value.status_code == status
    assert sim.stats.submit_requests == 1 and sim.stats.submits == 0


@pytest.mark.parametrize(
    ("status", "cls", "code", "message", "hint"),
    [
        (400, BadRequestError, "invalid_parameter", "nope from server", None),
        (402, InsufficientBalanceError, "insufficient_balance", "Insufficient balance", "top up"),
    ],
)
def test_submit_statuses_the_simulator_never_sends(
    status: int, cls: type, code: str, message: str, hint: str | None
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:  # stub: its keys are never refused
        sent.append(request)
        return err(status, {"error": {"message": message, "code": code}})

    with stub_client(handler) as c, pytest.raises(cls) as info:
        c.submit(prompt="x")
    assert message in str(info.value) and message in info.value.message
    assert info.value.code == code and len(sent) == 1
    if hint is not None:
        assert hint in str(info.value).lower()


def test_a_refused_key_says_what_to_do(make_sim: MakeSim) -> None:
    sim = make_sim(api_key="sk-the-servers-key")
    with sim_client(sim) as c, pytest.raises(AuthenticationError, match="WAVE_API_KEY"):
        c.submit(prompt="x")
    assert sim.stats.unauthorized == 1


@pytest.mark.parametrize(
    ("response", "message", "code"),
    [
        (
            err(
                400,
                {
                    "error": {
                        "message": "bad ratio",
                        "code": "invalid_parameter",
                        "type": "invalid_request_error",
                    }
                },
            ),
            "bad ratio",
            "invalid_parameter",
        ),
        (
            err(400, {"error": {"message": "bad ratio", "type": "invalid_request_error"}}),
            "bad ratio",
            "invalid_request_error",
        ),
        (err(400, {"message": "plain message"}), "plain message", None),
        (err(400, {"message": "with code", "code": "E42"}), "with code", "E42"),
        (err(400, {"error": "a string error", "code": "E7"}), "a string error", "E7"),
        (err(400, {"error": {"msg": "short key"}}), "short key", None),
        (
            err(400, text="<html><body>Bad Gateway at the edge</body></html>"),
            "Bad Gateway at the edge",
            None,
        ),
        (err(400, text=""), "Bad Request", None),
        (err(400, [1, 2, 3]), "Bad Request", None),
    ],
)
def test_error_envelope_variants(response: httpx.Response, message: str, code: str | None) -> None:
    with stub_client(lambda request: response) as c, pytest.raises(BadRequestError) as info:
        c.submit(prompt="x")
    assert message in str(info.value)
    assert info.value.code == code


def test_unknown_task_is_not_found(sim: MockSimulator, client: Client) -> None:
    with pytest.raises(NotFoundError, match="not found"):
        client.get("task-wave-does-not-exist")
    assert [r.status for r in sim.requests] == [404]


# -- GET retries -------------------------------------------------------------------------------


def test_get_retries_429_honouring_retry_after(
    make_sim: MakeSim, backoffs: list[tuple[int, float | None]]
) -> None:
    sim = make_sim(faults="429@get~3#1")
    task_id = put_task(sim)
    with sim_client(sim) as c:
        assert c.get(task_id).task_id == task_id
    assert [r.status for r in of_scope(sim, "get")] == [429, 200]
    assert backoffs == [(0, 3.0)]


def test_backoff_uses_retry_after_else_full_jitter() -> None:
    assert _REAL_DELAY(0, 3.0) == 3.0
    assert _REAL_DELAY(4, 0.0) == 0.0
    for attempt in range(8):
        for _ in range(20):
            delay = _REAL_DELAY(attempt, None)
            assert 0 <= delay <= min(8.0, 0.25 * 2**attempt)


def _response(headers: dict[str, str]) -> httpx.Response:
    return httpx.Response(429, headers=headers)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2", 2.0), ("0.5", 0.5), ("0", 0.0), ("-5", 0.0), ("3600", 3600.0), (None, None)],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    headers = {"Retry-After": value} if value is not None else {}
    assert _retry_after(_response(headers)) == expected


def test_retry_after_http_date() -> None:
    when = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 5 <= _retry_after(_response({"Retry-After": when})) <= 11  # type: ignore[operator]
    past = email.utils.formatdate(time.time() - 100, usegmt=True)
    assert _retry_after(_response({"Retry-After": past})) == 0.0


def test_garbage_retry_after_is_ignored(
    sim: MockSimulator, backoffs: list[tuple[int, float | None]]
) -> None:
    task_id = put_task(sim)
    garbage = err(429, {"error": {"message": "x"}}, **{"Retry-After": "soon"})
    # stub: the simulator's Retry-After is always a number
    with sim_client(sim, transport=stub_before(sim, first(1, lambda r: garbage, "get"))) as c:
        assert c.get(task_id).task_id == task_id
    assert backoffs == [(0, None)] and sim.stats.polls == 1


@pytest.mark.parametrize(
    "fault",
    ["500", "502", "503", "429", "drop", "slowheaders", "malformed"],
    ids=["500", "502", "503", "429", "RemoteProtocolError", "ReadTimeout", "malformed-json"],
)
def test_get_retries_transient_failures_then_succeeds(make_sim: MakeSim, fault: str) -> None:
    sim = make_sim(faults=f"{fault}@get#2", queue_seconds=30)
    task_id = put_task(sim)
    with sim_client(sim) as c:
        task = c.get(task_id)
    assert task.task_id == task_id and task.status is TaskStatus.QUEUED
    assert sim.stats.polls == 3 and sim.stats.faults[fault] == 2


@pytest.mark.parametrize(
    "make",
    [
        lambda r: err(504, text=""),
        raising(httpx.ReadError),
        raising(httpx.ConnectError),
        lambda r: err(200, text=""),
    ],
    ids=["504", "ReadError", "ConnectError", "empty-body"],
)
def test_get_retries_what_the_simulator_never_sends_then_succeeds(
    make_sim: MakeSim, make: Callable[[httpx.Request], httpx.Response]
) -> None:
    sim = make_sim(queue_seconds=30)
    task_id = put_task(sim)
    stubbed: list[httpx.Request] = []

    def counted(request: httpx.Request) -> httpx.Response:
        stubbed.append(request)
        return make(request)

    with sim_client(sim, transport=stub_before(sim, first(2, counted, "get"))) as c:
        task = c.get(task_id)
    assert task.task_id == task_id and task.status is TaskStatus.QUEUED
    assert len(stubbed) == 2 and sim.stats.polls == 1


def test_get_gives_up_after_max_retries_on_connection_errors(make_sim: MakeSim) -> None:
    sim = make_sim(faults="drop@get")
    task_id = put_task(sim)
    with sim_client(sim, max_retries=2) as c, pytest.raises(ConnectionFailedError) as info:
        c.get(task_id)
    assert sim.stats.polls == 3 and sim.stats.faults["drop"] == 3
    assert info.value.task_id == task_id


def test_get_gives_up_on_malformed_json(make_sim: MakeSim) -> None:
    sim = make_sim(faults="malformed@get")
    task_id = put_task(sim)
    with sim_client(sim, max_retries=1) as c, pytest.raises(APIError, match="not valid JSON"):
        c.get(task_id)
    assert sim.stats.polls == 2


@pytest.mark.parametrize("body", ["null", "[1, 2]", "42"])
def test_get_with_non_task_json_raises_api_error(body: str) -> None:
    with stub_client(lambda r: err(200, text=body)) as c, pytest.raises(APIError):
        c.get("task-wave1")


# -- submit is never retried once it may have reached the server -----------------------------


@pytest.mark.parametrize(
    "fault", ["drop", "slowheaders"], ids=["RemoteProtocolError", "ReadTimeout"]
)
def test_submit_transport_error_after_sending_is_not_retried(make_sim: MakeSim, fault: str) -> None:
    sim = make_sim(faults=f"{fault}@submit")
    with sim_client(sim) as c, pytest.raises(ConnectionFailedError) as info:
        c.submit(prompt="x")
    assert sim.stats.submit_requests == 1
    assert len(sim.task_ids()) == 1  # the server acted: the task exists, as the error warns
    assert "may exist" in str(info.value)
    assert "not retried" in str(info.value)
    assert info.value.maybe_submitted


@pytest.mark.parametrize("exc", [httpx.ReadError, httpx.WriteError])
def test_submit_transport_errors_of_other_classes_are_not_retried(
    exc: type[httpx.TransportError],
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:  # stub: the mock never raises these
        sent.append(request)
        raise exc("injected failure", request=request)

    with stub_client(handler) as c, pytest.raises(ConnectionFailedError) as info:
        c.submit(prompt="x")
    assert len(sent) == 1
    assert "may exist" in str(info.value) and "not retried" in str(info.value)


def test_submit_malformed_json_is_not_retried(make_sim: MakeSim) -> None:
    sim = make_sim(faults="malformed@submit")
    with sim_client(sim) as c, pytest.raises(APIError) as info:
        c.submit(prompt="x")
    assert sim.stats.submit_requests == 1 and sim.stats.submits == 1
    assert "may exist" in str(info.value)


def test_submit_answer_without_task_id() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:  # stub: the simulator names its task
        sent.append(request)
        return err(200, {"status": "queued"})

    with stub_client(handler) as c, pytest.raises(APIError, match="may exist"):
        c.submit(prompt="x")
    assert len(sent) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_submit_5xx_is_not_retried(make_sim: MakeSim, status: int) -> None:
    sim = make_sim(faults=f"{status}@submit")
    with sim_client(sim) as c, pytest.raises(ServerError):
        c.submit(prompt="x")
    assert sim.stats.submit_requests == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_submit_5xx_error_says_the_task_may_exist(make_sim: MakeSim, status: int) -> None:
    sim = make_sim(faults=f"{status}@submit")
    with sim_client(sim) as c, pytest.raises(ServerError, match="may exist"):
        c.submit(prompt="x")


def test_submit_429_is_retried(make_sim: MakeSim, backoffs: list[tuple[int, float | None]]) -> None:
    sim = make_sim(faults="429@submit~1#1")
    with sim_client(sim) as c:
        task = c.submit(prompt="x")
    assert sim.stats.submit_requests == 2
    assert sim.task_ids() == [task.task_id]
    assert backoffs == [(0, 1.0)]


def test_submit_429_gives_up_after_max_retries(make_sim: MakeSim) -> None:
    sim = make_sim(faults="429@submit")
    with sim_client(sim) as c, pytest.raises(RateLimitError) as info:
        c.submit(prompt="x")
    assert sim.stats.submit_requests == 4  # 1 + max_retries(3)
    assert info.value.code == "rate_limit_exceeded" and sim.task_ids() == []


@pytest.mark.parametrize("exc", [httpx.ConnectError, httpx.ConnectTimeout])
def test_submit_connect_failure_is_retried(
    sim: MockSimulator, exc: type[httpx.TransportError]
) -> None:
    # stub: the mock has no connection to refuse
    with sim_client(sim, transport=stub_before(sim, first(1, raising(exc), "submit"))) as c:
        task = c.submit(prompt="x")
    assert sim.stats.submit_requests == 1 and sim.task_ids() == [task.task_id]


def test_submit_connect_failure_gives_up() -> None:
    tries: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:  # stub: no connection to refuse
        tries.append(request)
        raise httpx.ConnectError("injected failure", request=request)

    with stub_client(handler) as c, pytest.raises(ConnectionFailedError, match="cannot reach"):
        c.submit(prompt="x")
    assert len(tries) == 4


# -- cancel ------------------------------------------------------------------------------------


def test_cancel_queued_task(make_sim: MakeSim) -> None:
    sim = make_sim(queue_seconds=30)
    task_id = put_task(sim)
    with sim_client(sim) as c:
        cancelled = c.cancel(task_id)
        assert cancelled.status is TaskStatus.CANCELLED and cancelled.refunded is True
        assert c.get(task_id).status is TaskStatus.CANCELLED
    assert of_scope(sim, "cancel")[0].path == f"/v1/tasks/{task_id}/cancel"
    state = sim.task(task_id)
    assert state is not None and state.status == "cancelled" and sim.stats.cancelled == 1


def test_cancel_processing_task_is_refused(make_sim: MakeSim) -> None:
    sim = make_sim(queue_seconds=0, speed=0.01)  # processing for minutes
    task_id = put_task(sim)
    with sim_client(sim) as c:
        assert c.get(task_id).status is TaskStatus.PROCESSING
        with pytest.raises(BadRequestError, match="only queued"):
            c.cancel(task_id)
    assert sim.stats.cancels == 1 and sim.stats.cancelled == 0


# -- wait --------------------------------------------------------------------------------------


def test_wait_returns_completed_task_and_reports_each_change(make_sim: MakeSim) -> None:
    sim = make_sim(speed=20, queue_seconds=0.05)
    task_id = put_task(sim)
    seen: list[tuple[str, int]] = []
    with sim_client(sim) as c:
        done = c.wait(
            task_id, timeout=10, on_progress=lambda t: seen.append((str(t.status), t.progress))
        )
    assert done.status is TaskStatus.COMPLETED
    assert len(done.urls) == 1
    assert seen == changes(polled_states(sim))  # every change the server answered, in order
    assert seen[0] == ("queued", 0) and seen[-1] == ("completed", 100)
    processing = [p for s, p in seen if s == "processing"]
    assert processing and processing == sorted(processing)


def test_wait_reports_only_changes(make_sim: MakeSim) -> None:
    sim = make_sim(speed=20, queue_seconds=0.1)
    task_id = put_task(sim)
    seen: list[Task] = []
    with sim_client(sim) as c:
        c.wait(task_id, timeout=10, on_progress=seen.append)
    reported = [(str(t.status), t.progress) for t in seen]
    polled = polled_states(sim)
    assert polled.count(("queued", 0)) > 1 and reported.count(("queued", 0)) == 1
    assert reported == changes(polled) and len(reported) < len(polled)


def test_wait_survives_transient_poll_failures(make_sim: MakeSim) -> None:
    # poll 1: HTTP 503; poll 2: a dropped connection; poll 3: invalid JSON; then clean
    sim = make_sim(faults="503@get#1,drop@get#2,malformed@get#3")
    task_id = put_task(sim)
    with sim_client(sim) as c:
        assert c.wait(task_id, timeout=10).status is TaskStatus.COMPLETED
    assert [r.faults for r in of_scope(sim, "get")][:3] == [
        ("503",),
        ("malformed", "drop"),
        ("malformed",),
    ]


def test_wait_raises_task_failed_with_server_message(make_sim: MakeSim) -> None:
    sim = make_sim(faults="fail")
    task_id = put_task(sim)
    with sim_client(sim) as c, pytest.raises(TaskFailedError) as info:
        c.wait(task_id, timeout=10)
    exc = info.value
    state = sim.task(task_id)
    assert state is not None and state.status == "failed"
    message = state.json["error"]["message"]
    assert exc.task_id == task_id
    assert exc.code == "task_failed"
    assert exc.server_message == message
    assert message in str(exc) and "task_failed" in str(exc)


def test_wait_raises_task_cancelled(make_sim: MakeSim) -> None:
    sim = make_sim(queue_seconds=30)
    task_id = put_task(sim)
    with sim_client(sim) as c, concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(c.wait, task_id, timeout=10)
        deadline = time.monotonic() + 10
        while not any(r.answered for r in of_scope(sim, "get")):  # a look saw it queued
            assert time.monotonic() < deadline
            time.sleep(0.005)
        with sim.client(headers={"Authorization": f"Bearer {API_KEY}"}) as http:
            assert http.post(f"/v1/tasks/{task_id}/cancel").status_code == 200  # elsewhere
        with pytest.raises(TaskCancelledError) as info:
            waiting.result(10)
    assert info.value.task_id == task_id
    assert polled_states(sim)[0] == ("queued", 0) and polled_states(sim)[-1][0] == "cancelled"


def test_wait_timeout_carries_task_id_and_how_to_resume(make_sim: MakeSim) -> None:
    sim = make_sim(queue_seconds=0, speed=0.01)  # processing for minutes
    task_id = put_task(sim)
    started = time.monotonic()
    with sim_client(sim) as c, pytest.raises(TaskTimeoutError) as info:
        c.wait(task_id, timeout=0.2)
    assert time.monotonic() - started < 2  # the timeout itself is what is tested
    exc = info.value
    assert exc.task_id == task_id and exc.status == "processing"
    assert task_id in str(exc)
    assert "sj.resume" in str(exc)


def test_wait_polls_fast_when_the_task_is_already_done(sim: MockSimulator) -> None:
    task_id = put_task(sim)
    deadline = time.monotonic() + 10
    while (state := sim.task(task_id)) is None or state.status != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.002)
    with sim_client(sim) as c:
        c.wait(task_id, timeout=10)
    assert sim.stats.polls == 1


# -- download ----------------------------------------------------------------------------------


def _finished(sim: MockSimulator, c: Client, **payload: Any) -> Task:
    return c.wait(put_task(sim, **payload), timeout=10)


def _served(sim: MockSimulator, url: str) -> bytes:
    """The bytes the simulator serves at ``url`` (fetched around the client under test)."""
    with sim.client() as http:
        return http.get(url).content


def test_download_returns_image_bytes(sim: MockSimulator, client: Client) -> None:
    done = _finished(sim, client)
    data = client.download(done.urls[0], task_id=done.task_id)
    assert data.startswith(b"\xff\xd8\xff")
    assert Image.open(io.BytesIO(data)).size == (SMALL_SIDE, SMALL_SIDE)
    assert data == _served(sim, done.urls[0])


def test_download_retries_a_truncated_body(make_sim: MakeSim) -> None:
    sim = make_sim(faults="truncate#1")
    with sim_client(sim) as c:
        done = _finished(sim, c)
        data = c.download(done.urls[0], task_id=done.task_id)
    assert sim.stats.downloads == 2 and sim.stats.faults["truncate"] == 1
    assert data == _served(sim, done.urls[0])


def test_download_gives_up_on_truncated_bodies(make_sim: MakeSim) -> None:
    sim = make_sim(faults="truncate")
    with sim_client(sim, max_retries=2) as c:
        done = _finished(sim, c)
        with pytest.raises(ImageDownloadError) as info:
            c.download(done.urls[0], task_id=done.task_id)
    assert sim.stats.downloads == 3 and sim.stats.downloads_ok == 0
    assert info.value.task_id == done.task_id
    assert info.value.url == done.urls[0]
    assert "without sending complete message body" in str(info.value)


def test_download_checks_the_length_itself(image_bytes: Any) -> None:
    full = image_bytes(64, 64)
    tries: list[httpx.Request] = []

    def short(request: httpx.Request) -> httpx.Response:  # stub: a transport that lets a
        tries.append(request)  # body shorter than its Content-Length through
        headers = {"Content-Length": str(len(full)), "Content-Type": "image/jpeg"}
        return httpx.Response(200, headers=headers, content=full[: len(full) // 2])

    with stub_client(short, max_retries=2) as c, pytest.raises(ImageDownloadError) as info:
        c.download(f"{STUB_URL}/img/0.jpeg", task_id="task-wave9")
    assert len(tries) == 3 and "incomplete" in str(info.value)


def test_download_rejects_a_body_that_is_not_an_image() -> None:
    tries: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:  # stub: a login page, not an image
        tries.append(request)
        return httpx.Response(200, text="<html>login</html>")

    with stub_client(handler, max_retries=1) as c, pytest.raises(ImageDownloadError):
        c.download(f"{STUB_URL}/img/0.jpeg")
    assert len(tries) == 2


def test_download_of_an_expired_link(make_sim: MakeSim) -> None:
    sim = make_sim(faults="expired")
    with sim_client(sim) as c:
        done = _finished(sim, c)
        with pytest.raises(ImageDownloadError) as info:
            c.download(done.urls[0], task_id=done.task_id)
    assert [r.status for r in of_scope(sim, "download")] == [410]  # not retried
    assert "expire" in str(info.value) and "this image link has expired" in str(info.value)


def test_download_of_a_file_the_server_does_not_have(sim: MockSimulator, client: Client) -> None:
    url = f"{sim.url}/files/task-wave17752851600000000000/0.jpeg"
    with pytest.raises(ImageDownloadError) as info:
        client.download(url, task_id="task-wave1")
    assert [r.status for r in of_scope(sim, "download")] == [404]  # not retried
    assert "expire" in str(info.value) and "no such file" in str(info.value)


def test_download_refused_by_a_cdn_is_an_expired_link() -> None:
    tries: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:  # stub: a CDN's signed-URL refusal
        tries.append(request)
        return err(403, {"error": {"message": "link expired"}})

    with stub_client(handler) as c, pytest.raises(ImageDownloadError) as info:
        c.download("http://cdn.test/img/0.jpeg", task_id="task-wave9")
    assert len(tries) == 1  # not retried
    assert "expire" in str(info.value) and "link expired" in str(info.value)


def test_download_5xx_retried_then_error(make_sim: MakeSim) -> None:
    sim = make_sim(faults="503@download")
    with sim_client(sim, max_retries=1) as c:
        done = _finished(sim, c)
        with pytest.raises(ImageDownloadError, match="503"):
            c.download(done.urls[0])
    assert sim.stats.downloads == 2


def test_download_connection_failure_is_an_image_download_error(make_sim: MakeSim) -> None:
    sim = make_sim(faults="drop@download")
    with sim_client(sim, max_retries=1) as c:
        done = _finished(sim, c)
        with pytest.raises(ImageDownloadError):
            c.download(done.urls[0])
    assert sim.stats.downloads == 2 and sim.stats.faults["drop"] == 2


async def test_async_downloads_each_image_of_a_task(sim: MockSimulator) -> None:
    task_id = put_task(sim, model="doubao-seedream-4.5", n=3)
    async with sim_async_client(sim) as ac:
        done = await ac.wait(task_id, timeout=10)
        datas = list(
            await asyncio.gather(*(ac.download(url, task_id=task_id) for url in done.urls))
        )
    # the simulator draws each image of a task differently, so the order is observable
    assert [u.endswith(f"/{i}.jpeg") for i, u in enumerate(done.urls)] == [True] * 3
    assert datas == [_served(sim, url) for url in done.urls]
    assert len(set(datas)) == 3


# -- async client ------------------------------------------------------------------------------


async def test_async_client_submit_wait(make_sim: MakeSim) -> None:
    sim = make_sim(speed=20, queue_seconds=0.05)
    async with sim_async_client(sim) as ac:
        task = await ac.submit(prompt="x", model="4.0", resolution="1K")
        seen: list[int] = []
        done = await ac.wait(
            task.task_id, timeout=10, on_progress=lambda t: seen.append(t.progress)
        )
    assert done.status is TaskStatus.COMPLETED
    assert seen == [progress for _, progress in changes(polled_states(sim))]
    assert seen[-1] == 100 and seen == sorted(seen) and len(seen) > 2


async def test_async_client_reuses_one_http_client(sim: MockSimulator) -> None:
    ac = sim_async_client(sim)
    task = await ac.submit(prompt="x")
    first_http = ac._http
    await ac.get(task.task_id)
    assert ac._http is first_http
    await ac.aclose()
    assert ac._http is None


async def test_simulator_header_marks_results_simulated(sim: MockSimulator) -> None:
    async with sim_async_client(sim) as ac:
        assert ac.simulated is False
        await ac.submit(prompt="x")
        assert ac.simulated is True


async def test_a_server_without_the_header_is_taken_for_the_real_api(make_sim: MakeSim) -> None:
    sim = make_sim(simulator_header=False)
    async with sim_async_client(sim) as ac:
        await ac.submit(prompt="x")
        assert ac.simulated is False


# -- sync facade on the private loop thread ----------------------------------------------------


def test_sync_client_works_inside_a_running_loop(client: Client) -> None:
    async def main() -> Task:
        asyncio.get_running_loop()  # we are inside a running loop, as in Jupyter
        task = client.submit(prompt="a red fox")
        return client.wait(task.task_id, timeout=10)

    done = asyncio.run(main())
    assert done.status is TaskStatus.COMPLETED


async def test_sync_client_works_inside_pytest_asyncio_loop(client: Client) -> None:
    task = client.submit(prompt="x")
    assert client.get(task.task_id).task_id == task.task_id


def test_sync_calls_run_on_the_private_loop_thread(sim: MockSimulator) -> None:
    threads: list[str] = []

    def record(request: httpx.Request) -> None:  # a spy: the simulator answers
        threads.append(threading.current_thread().name)

    with sim_client(sim, transport=stub_before(sim, record)) as c:
        c.submit(prompt="x")
    assert threads == ["seedream-loop"] and sim.stats.submits == 1
    assert _loop.loop() is _loop.loop()


def test_sync_call_from_the_loop_thread_is_refused() -> None:
    async def inner() -> None:
        return None

    async def call_run() -> None:
        coro = inner()
        _loop.run(coro)

    with pytest.raises(RuntimeError, match="loop thread"):
        _loop.run(call_run())


def test_client_context_manager(sim: MockSimulator) -> None:
    with sim_client(sim) as c:
        c.submit(prompt="x")
    assert c.aio._http is None


# -- the key never leaks -----------------------------------------------------------------------


def test_repr_of_client_hides_the_key(client: Client, api_key: str) -> None:
    for text in (repr(client), repr(client.aio), str(client)):
        assert api_key not in text
        assert "api_key=set" in text
    assert repr(client).startswith("Client(")
    assert repr(client.aio).startswith("AsyncClient(")


def test_a_task_error_echoing_the_key_is_redacted(make_sim: MakeSim, api_key: str) -> None:
    sim = make_sim(faults="echokey")
    with sim_client(sim) as c:
        task = c.submit(prompt="x")
        with pytest.raises(TaskFailedError) as info:
            c.wait(task.task_id, timeout=10)
    state = sim.task(task.task_id)
    assert state is not None and api_key in state.json["error"]["message"]  # it did echo
    exc = info.value
    for text in (str(exc), repr(exc), exc.message, exc.server_message or "", *map(str, exc.args)):
        assert api_key not in text
    assert "[REDACTED]" in str(exc)


def test_an_error_body_echoing_the_key_is_redacted(api_key: str) -> None:
    def echo(request: httpx.Request) -> httpx.Response:  # stub: a 401 that quotes the header
        auth = request.headers["authorization"]
        return httpx.Response(
            401, json={"error": {"message": f"invalid credentials: {auth}", "code": auth}}
        )

    with stub_client(echo) as c, pytest.raises(AuthenticationError) as info:
        c.submit(prompt="x")
    exc = info.value
    for text in (str(exc), repr(exc), exc.message, *map(str, exc.args)):
        assert api_key not in text
    assert "[REDACTED]" in str(exc)


def test_key_in_a_transport_error_is_redacted(api_key: str) -> None:
    def reset(request: httpx.Request) -> httpx.Response:  # stub: an error quoting the header
        raise httpx.ReadError(f"reset while sending Bearer {api_key}", request=request)

    with stub_client(reset, max_retries=0) as c, pytest.raises(ConnectionFailedError) as info:
        c.get("task-wave1")
    assert api_key not in str(info.value) and api_key not in repr(info.value)
    assert "[REDACTED]" in str(info.value)


def test_a_key_read_with_its_line_break_is_trimmed_and_a_broken_one_refused(
    sim: MockSimulator, api_key: str
) -> None:
    with sim_client(sim, api_key=api_key + "\n") as c:  # e.g. open("key.txt").read()
        c.submit(prompt="x")
    assert sim.requests[0].headers["authorization"] == f"Bearer {api_key}"
    assert sim.stats.unauthorized == 0 and sim.stats.submits == 1
    for broken in (f"{api_key[:8]}\n{api_key[8:]}", f"{api_key[:8]} {api_key[8:]}"):
        with pytest.raises(ConfigurationError) as info:
            Client(api_key=broken, base_url=sim.url, transport=sim.transport)
        assert api_key[8:] not in str(info.value) and "line break" in str(info.value)
        assert len(sim.requests) == 1


def test_a_header_refused_before_sending_names_no_header_and_is_not_ambiguous(
    api_key: str,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:  # stub: httpx refusing a header
        raise httpx.LocalProtocolError(f"Illegal header value b'Bearer {api_key}\\n'")

    with stub_client(refuse) as c, pytest.raises(ConnectionFailedError) as info:
        c.submit(prompt="x")
    assert api_key not in str(info.value) and "Nothing was sent" in str(info.value)
    assert not info.value.maybe_submitted


def test_key_in_an_error_body_text_is_redacted(api_key: str) -> None:
    with (
        stub_client(lambda r: err(404, text=f"no task for key {api_key}")) as c,  # stub
        pytest.raises(NotFoundError) as info,
    ):
        c.get("task-wave1")
    assert api_key not in str(info.value)


def test_home_dir_from_env(isolated_env: Any) -> None:
    assert config.home_dir() == isolated_env


def test_the_key_goes_only_to_the_api_host_never_to_image_hosts() -> None:
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8)).save(jpeg, format="JPEG")
    seen: dict[str, str | None] = {}

    def handler(request: httpx.Request) -> httpx.Response:  # stub: two hosts on one transport
        seen[request.url.host] = request.headers.get("authorization")
        if request.url.path.endswith(".jpeg"):
            return httpx.Response(200, content=jpeg.getvalue())
        return httpx.Response(200, json={"task_id": "t_1", "status": "queued"})

    client = Client(
        api_key="sk-only-for-the-api",
        base_url="http://api.example",
        transport=httpx.MockTransport(handler),
    )
    client.get("t_1")
    client.download("http://cdn.example/0.jpeg")
    client.download("http://api.example/files/0.jpeg")
    assert seen["api.example"] == "Bearer sk-only-for-the-api"
    assert seen["cdn.example"] is None


@pytest.mark.parametrize(
    "url", ["https://api.example:8443/files/0.jpeg", "http://api.example/files/0.jpeg"]
)
def test_the_key_is_not_sent_to_another_port_or_over_plain_http(url: str) -> None:
    client = Client(api_key="sk-scoped-key", base_url="https://api.example")
    assert client.aio._auth_for(url) == {}
    assert client.aio._auth_for("https://api.example/v1/tasks/t_1") != {}
    assert client.aio._auth_for("/v1/tasks/t_1") != {}
