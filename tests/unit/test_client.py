"""AsyncClient / Client against an httpx.MockTransport fake of the QWave task API."""

from __future__ import annotations

import asyncio
import email.utils
import io
import json
import threading
import time
from typing import Any

import httpx
import pytest
from PIL import Image

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
from seedream_jupyter.task import Task, TaskStatus

_REAL_DELAY = retry.delay
pytestmark = pytest.mark.usefixtures("backoffs")

V45 = "doubao-seedream-4.5"


def err(
    status: int, body: Any = None, *, text: str | None = None, **headers: str
) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


# -- submit ------------------------------------------------------------------------------------


def test_submit_sends_bearer_user_agent_and_payload(
    server: Any, client: Client, api_key: str
) -> None:
    task = client.submit(prompt="a red fox", model="4.5", aspect_ratio="16:9", seed=3)
    assert task.status is TaskStatus.QUEUED
    assert task.task_id.startswith("task-wave")
    (sent,) = server.submits
    assert sent.headers["authorization"] == f"Bearer {api_key}"
    ua = sent.headers["user-agent"]
    assert "seedream-jupyter" in ua and __version__ in ua
    assert ua == USER_AGENT
    assert sent.headers["content-type"] == "application/json"
    assert str(sent.url) == "http://sim.test/v1/tasks"
    assert (
        json.loads(sent.content)
        == GenerationRequest(
            prompt="a red fox", model="4.5", aspect_ratio="16:9", seed=3
        ).to_payload()
    )


def test_submit_accepts_a_request_object_and_changes(server: Any, client: Client) -> None:
    req = GenerationRequest(prompt="x", model="4.0", resolution="1K")
    client.submit(req)
    client.submit(req, n=2)
    assert [p["n"] for p in server.payloads] == [1, 2]
    assert all(p["model"] == "doubao-seedream-4.0" for p in server.payloads)


def test_no_key_sends_no_authorization(server: Any) -> None:
    c = server.client(api_key=None)
    try:
        c.submit(prompt="x")
    finally:
        c.close()
    assert "authorization" not in server.submits[0].headers


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
    server: Any, client: Client, kw: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        client.submit(**kw)
    assert server.requests == []


def test_bad_change_to_a_request_object_sends_nothing(server: Any, client: Client) -> None:
    with pytest.raises(ValidationError):
        client.submit(GenerationRequest(prompt="x"), resolution="3K")
    assert server.requests == []


def test_old_submit_envelope(server: Any, client: Client) -> None:
    server.fault("POST", "/v1/tasks", err(200, {"code": "success", "data": "task-wave1748"}))
    assert client.submit(prompt="x").task_id == "task-wave1748"


# -- HTTP errors -------------------------------------------------------------------------------

STATUS_CLASSES = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (402, InsufficientBalanceError),
    (404, NotFoundError),
    (422, BadRequestError),
    (429, RateLimitError),
    (500, ServerError),
    (502, ServerError),
    (503, ServerError),
    (504, ServerError),
    (418, APIError),
]


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
def test_get_status_maps_to_exception(server: Any, status: int, cls: type, backoffs: list) -> None:
    server.always(
        "GET",
        "/v1/tasks/",
        err(status, {"error": {"message": f"server says {status}", "code": f"c{status}"}}),
    )
    c = server.client(max_retries=2)
    try:
        with pytest.raises(cls) as info:
            c.get("task-wave1")
    finally:
        c.close()
    exc = info.value
    assert type(exc) is cls
    assert isinstance(exc, APIError) and isinstance(exc, SeedreamError)
    assert exc.status_code == status and exc.code == f"c{status}"
    assert f"server says {status}" in str(exc)
    assert exc.task_id == "task-wave1"
    retried = status == 429 or status >= 500
    assert len(server.polls) == (3 if retried else 1)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, InsufficientBalanceError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
    ],
)
def test_submit_status_maps_to_exception_without_retry(
    server: Any, client: Client, status: int, cls: type
) -> None:
    server.always(
        "POST", "/v1/tasks", err(status, {"error": {"message": "nope from server", "code": "x"}})
    )
    with pytest.raises(cls) as info:
        client.submit(prompt="x")
    assert "nope from server" in str(info.value)
    assert len(server.submits) == 1


def test_auth_and_balance_errors_say_what_to_do(server: Any, client: Client) -> None:
    server.fault("POST", "/v1/tasks", err(401, {"error": {"message": "Invalid API key"}}))
    with pytest.raises(AuthenticationError, match="WAVE_API_KEY"):
        client.submit(prompt="x")
    server.fault(
        "POST",
        "/v1/tasks",
        err(402, {"error": {"message": "Insufficient balance", "code": "insufficient_balance"}}),
    )
    with pytest.raises(InsufficientBalanceError, match=r"(?i)top up") as info:
        client.submit(prompt="x")
    assert info.value.code == "insufficient_balance"
    assert "Insufficient balance" in info.value.message


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
def test_error_envelope_variants(
    server: Any, client: Client, response: httpx.Response, message: str, code: str | None
) -> None:
    server.fault("POST", "/v1/tasks", response)
    with pytest.raises(BadRequestError) as info:
        client.submit(prompt="x")
    assert message in str(info.value)
    assert info.value.code == code


def test_unknown_task_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError, match="not found"):
        client.get("task-wave-does-not-exist")


# -- GET retries -------------------------------------------------------------------------------


def test_get_retries_429_honouring_retry_after(server: Any, client: Client, backoffs: list) -> None:
    task_id = server.create_task()
    server.fault(
        "GET", "/v1/tasks/", err(429, {"error": {"message": "slow down"}}, **{"Retry-After": "3"})
    )
    assert client.get(task_id).task_id == task_id
    assert len(server.polls) == 2
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


def test_garbage_retry_after_is_ignored(server: Any, client: Client) -> None:
    task_id = server.create_task()
    server.fault(
        "GET", "/v1/tasks/", err(429, {"error": {"message": "x"}}, **{"Retry-After": "soon"})
    )
    assert client.get(task_id).task_id == task_id


@pytest.mark.parametrize(
    "fault",
    [
        err(500, {"error": {"message": "oops"}}),
        err(502, text="bad gateway"),
        err(503, {"error": {"message": "busy"}}),
        err(504, text=""),
        err(429, {"error": {"message": "slow"}}),
        httpx.ReadError,
        httpx.RemoteProtocolError,
        httpx.ConnectError,
        httpx.ReadTimeout,
        err(200, text="{not json"),
        err(200, text=""),
    ],
    ids=[
        "500",
        "502",
        "503",
        "504",
        "429",
        "ReadError",
        "RemoteProtocolError",
        "ConnectError",
        "ReadTimeout",
        "malformed-json",
        "empty-body",
    ],
)
def test_get_retries_transient_failures_then_succeeds(
    server: Any, client: Client, fault: Any
) -> None:
    task_id = server.create_task()
    server.fault("GET", "/v1/tasks/", fault, fault)
    task = client.get(task_id)
    assert task.task_id == task_id and task.status is TaskStatus.QUEUED
    assert len(server.polls) == 3


def test_get_gives_up_after_max_retries_on_connection_errors(server: Any) -> None:
    server.always("GET", "/v1/tasks/", httpx.ReadError)
    c = server.client(max_retries=2)
    try:
        with pytest.raises(ConnectionFailedError) as info:
            c.get("task-wave1")
    finally:
        c.close()
    assert len(server.polls) == 3
    assert info.value.task_id == "task-wave1"


def test_get_gives_up_on_malformed_json(server: Any) -> None:
    server.always("GET", "/v1/tasks/", err(200, text="<html>"))
    c = server.client(max_retries=1)
    try:
        with pytest.raises(APIError, match="not valid JSON"):
            c.get("task-wave1")
    finally:
        c.close()
    assert len(server.polls) == 2


@pytest.mark.parametrize("body", ["null", "[1, 2]", "42"])
def test_get_with_non_task_json_raises_api_error(server: Any, client: Client, body: str) -> None:
    server.always("GET", "/v1/tasks/", err(200, text=body))
    with pytest.raises(APIError):
        client.get("task-wave1")


# -- submit is never retried once it may have reached the server -----------------------------


@pytest.mark.parametrize(
    "exc", [httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.WriteError]
)
def test_submit_transport_error_after_sending_is_not_retried(
    server: Any, client: Client, exc: type
) -> None:
    server.fault("POST", "/v1/tasks", exc)
    with pytest.raises(ConnectionFailedError) as info:
        client.submit(prompt="x")
    assert len(server.submits) == 1
    assert server.tasks == {}
    assert "may exist" in str(info.value)
    assert "not retried" in str(info.value)


def test_submit_malformed_json_is_not_retried(server: Any, client: Client) -> None:
    server.fault("POST", "/v1/tasks", err(200, text="{truncated"))
    with pytest.raises(APIError) as info:
        client.submit(prompt="x")
    assert len(server.submits) == 1
    assert "may exist" in str(info.value)


def test_submit_answer_without_task_id(server: Any, client: Client) -> None:
    server.fault("POST", "/v1/tasks", err(200, {"status": "queued"}))
    with pytest.raises(APIError, match="may exist"):
        client.submit(prompt="x")
    assert len(server.submits) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_submit_5xx_is_not_retried(server: Any, client: Client, status: int) -> None:
    server.fault("POST", "/v1/tasks", err(status, {"error": {"message": "internal"}}))
    with pytest.raises(ServerError):
        client.submit(prompt="x")
    assert len(server.submits) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_submit_5xx_error_says_the_task_may_exist(server: Any, client: Client, status: int) -> None:
    server.fault("POST", "/v1/tasks", err(status, {"error": {"message": "internal"}}))
    with pytest.raises(ServerError, match="may exist"):
        client.submit(prompt="x")


def test_submit_429_is_retried(server: Any, client: Client, backoffs: list) -> None:
    server.fault(
        "POST", "/v1/tasks", err(429, {"error": {"message": "slow"}}, **{"Retry-After": "1"})
    )
    task = client.submit(prompt="x")
    assert len(server.submits) == 2
    assert list(server.tasks) == [task.task_id]
    assert backoffs == [(0, 1.0)]


def test_submit_429_gives_up_after_max_retries(server: Any, client: Client) -> None:
    server.always(
        "POST", "/v1/tasks", err(429, {"error": {"message": "slow", "code": "rate_limited"}})
    )
    with pytest.raises(RateLimitError) as info:
        client.submit(prompt="x")
    assert len(server.submits) == 4  # 1 + max_retries(3)
    assert info.value.code == "rate_limited"


@pytest.mark.parametrize("exc", [httpx.ConnectError, httpx.ConnectTimeout])
def test_submit_connect_failure_is_retried(server: Any, client: Client, exc: type) -> None:
    server.fault("POST", "/v1/tasks", exc)
    client.submit(prompt="x")
    assert len(server.submits) == 2
    assert len(server.tasks) == 1


def test_submit_connect_failure_gives_up(server: Any, client: Client) -> None:
    server.always("POST", "/v1/tasks", httpx.ConnectError)
    with pytest.raises(ConnectionFailedError, match="cannot reach"):
        client.submit(prompt="x")
    assert len(server.submits) == 4


# -- cancel ------------------------------------------------------------------------------------


def test_cancel_queued_task(server: Any, client: Client) -> None:
    task_id = server.create_task()
    cancelled = client.cancel(task_id)
    assert cancelled.status is TaskStatus.CANCELLED and cancelled.refunded is True
    assert client.get(task_id).status is TaskStatus.CANCELLED
    assert server.cancels[0].url.path == f"/v1/tasks/{task_id}/cancel"


def test_cancel_processing_task_is_refused(server: Any, client: Client) -> None:
    task_id = server.create_task(script=[{"status": "processing", "progress": 20}])
    client.get(task_id)
    with pytest.raises(BadRequestError, match="only queued"):
        client.cancel(task_id)


# -- wait --------------------------------------------------------------------------------------


def test_wait_returns_completed_task_and_reports_each_change(server: Any, client: Client) -> None:
    task_id = server.create_task()
    seen: list[tuple[str, int]] = []
    done = client.wait(
        task_id, timeout=10, on_progress=lambda t: seen.append((str(t.status), t.progress))
    )
    assert done.status is TaskStatus.COMPLETED
    assert len(done.urls) == 1
    assert seen == [("queued", 0), ("processing", 30), ("processing", 70), ("completed", 100)]


def test_wait_reports_only_changes(server: Any, client: Client) -> None:
    script = (
        [{"status": "queued", "progress": 0}] * 3
        + [{"status": "processing", "progress": 50}] * 3
        + [{"status": "completed"}]
    )
    task_id = server.create_task(script=script)
    seen: list[Task] = []
    client.wait(task_id, timeout=10, on_progress=seen.append)
    assert [(str(t.status), t.progress) for t in seen] == [
        ("queued", 0),
        ("processing", 50),
        ("completed", 100),
    ]
    assert len(server.polls) == 7


def test_wait_survives_transient_poll_failures(server: Any, client: Client) -> None:
    task_id = server.create_task()
    server.fault("GET", "/v1/tasks/", err(503, text="busy"), httpx.ReadError, err(200, text="{x"))
    assert client.wait(task_id, timeout=10).status is TaskStatus.COMPLETED


def test_wait_raises_task_failed_with_server_message(server: Any, client: Client) -> None:
    task_id = server.create_task(
        script=[
            {"status": "processing", "progress": 10},
            {
                "status": "failed",
                "progress": 0,
                "error": {
                    "message": "prompt rejected by the safety filter",
                    "code": "content_policy",
                },
            },
        ]
    )
    with pytest.raises(TaskFailedError) as info:
        client.wait(task_id, timeout=10)
    exc = info.value
    assert exc.task_id == task_id
    assert exc.code == "content_policy"
    assert exc.server_message == "prompt rejected by the safety filter"
    assert "prompt rejected by the safety filter" in str(exc) and "content_policy" in str(exc)


def test_wait_raises_task_cancelled(server: Any, client: Client) -> None:
    task_id = server.create_task(script=[{"status": "queued"}, {"status": "cancelled"}])
    with pytest.raises(TaskCancelledError) as info:
        client.wait(task_id, timeout=10)
    assert info.value.task_id == task_id


def test_wait_timeout_carries_task_id_and_how_to_resume(server: Any, client: Client) -> None:
    task_id = server.create_task(script=[{"status": "processing", "progress": 5}])
    started = time.monotonic()
    with pytest.raises(TaskTimeoutError) as info:
        client.wait(task_id, timeout=0.2)
    assert time.monotonic() - started < 2
    exc = info.value
    assert exc.task_id == task_id and exc.status == "processing"
    assert task_id in str(exc)
    assert "sj.resume" in str(exc)


def test_wait_polls_fast_when_the_task_is_already_done(server: Any, client: Client) -> None:
    task_id = server.create_task(script=[{"status": "completed"}])
    client.wait(task_id, timeout=10)
    assert len(server.polls) == 1


# -- download ----------------------------------------------------------------------------------


def test_download_returns_image_bytes(server: Any, client: Client) -> None:
    task_id = server.create_task()
    done = client.wait(task_id, timeout=10)
    data = client.download(done.urls[0], task_id=task_id)
    assert data.startswith(b"\xff\xd8\xff")


def _truncated(data: bytes) -> httpx.Response:
    return httpx.Response(
        200,
        headers={"Content-Length": str(len(data)), "Content-Type": "image/jpeg"},
        content=data[: len(data) // 2],
    )


def test_download_retries_a_truncated_body(server: Any, client: Client, image_bytes: Any) -> None:
    full = image_bytes(64, 64)
    server.fault("GET", "/img/", _truncated(full))
    server.always("GET", "/img/", httpx.Response(200, content=full))
    assert client.download("http://sim.test/img/0.jpeg") == full
    assert len(server.calls("GET", "/img/")) == 2


def test_download_gives_up_on_truncated_bodies(server: Any, image_bytes: Any) -> None:
    server.always("GET", "/img/", _truncated(image_bytes(64, 64)))
    c = server.client(max_retries=2)
    try:
        with pytest.raises(ImageDownloadError) as info:
            c.download("http://sim.test/img/0.jpeg", task_id="task-wave9")
    finally:
        c.close()
    assert len(server.calls("GET", "/img/")) == 3
    assert info.value.task_id == "task-wave9"
    assert info.value.url == "http://sim.test/img/0.jpeg"
    assert "incomplete" in str(info.value)


def test_download_rejects_a_body_that_is_not_an_image(server: Any) -> None:
    server.always("GET", "/img/", httpx.Response(200, text="<html>login</html>"))
    c = server.client(max_retries=1)
    try:
        with pytest.raises(ImageDownloadError):
            c.download("http://sim.test/img/0.jpeg")
    finally:
        c.close()


@pytest.mark.parametrize("status", [410, 403, 404])
def test_download_of_an_expired_link(server: Any, client: Client, status: int) -> None:
    server.always("GET", "/img/", err(status, {"error": {"message": "link expired"}}))
    with pytest.raises(ImageDownloadError) as info:
        client.download("http://sim.test/img/0.jpeg", task_id="task-wave9")
    assert len(server.calls("GET", "/img/")) == 1  # not retried
    assert "expire" in str(info.value) and "link expired" in str(info.value)


def test_download_5xx_retried_then_error(server: Any) -> None:
    server.always("GET", "/img/", err(503, text="busy"))
    c = server.client(max_retries=1)
    try:
        with pytest.raises(ImageDownloadError, match="503"):
            c.download("http://sim.test/img/0.jpeg")
    finally:
        c.close()
    assert len(server.calls("GET", "/img/")) == 2


def test_download_connection_failure_is_an_image_download_error(server: Any) -> None:
    server.always("GET", "/img/", httpx.ReadError)
    c = server.client(max_retries=1)
    try:
        with pytest.raises(ImageDownloadError):
            c.download("http://sim.test/img/0.jpeg")
    finally:
        c.close()


async def test_download_all_in_order(server: Any, image_bytes: Any) -> None:
    server.image_size = (32, 32)
    task_id = server.create_task({"model": "4.5", "prompt": "x", "n": 3})
    async with server.async_client() as ac:
        done = await ac.wait(task_id, timeout=10)
        datas = await ac.download_all(done)
    # the fake server draws image i in its own colour, so the order is observable
    assert datas == [image_bytes(32, 32, "jpeg", i) for i in range(3)]
    assert len(set(datas)) == 3


# -- async client ------------------------------------------------------------------------------


async def test_async_client_submit_wait(server: Any) -> None:
    async with server.async_client() as ac:
        task = await ac.submit(prompt="x", model="4.0", resolution="1K")
        seen: list[int] = []
        done = await ac.wait(
            task.task_id, timeout=10, on_progress=lambda t: seen.append(t.progress)
        )
    assert done.status is TaskStatus.COMPLETED
    assert seen == [0, 30, 70, 100]


async def test_async_client_reuses_one_http_client(server: Any) -> None:
    ac = server.async_client()
    task = await ac.submit(prompt="x")
    first = ac._http
    await ac.get(task.task_id)
    assert ac._http is first
    await ac.aclose()
    assert ac._http is None


async def test_simulator_header_marks_results_simulated(server: Any) -> None:
    server.fault(
        "POST",
        "/v1/tasks",
        httpx.Response(
            200, json={"task_id": "t_1", "status": "queued"}, headers={"x-seedream-simulator": "1"}
        ),
    )
    async with server.async_client() as ac:
        assert ac.simulated is False
        await ac.submit(prompt="x")
        assert ac.simulated is True


# -- sync facade on the private loop thread ----------------------------------------------------


def test_sync_client_works_inside_a_running_loop(server: Any, client: Client) -> None:
    async def main() -> Task:
        asyncio.get_running_loop()  # we are inside a running loop, as in Jupyter
        task = client.submit(prompt="a red fox")
        return client.wait(task.task_id, timeout=10)

    done = asyncio.run(main())
    assert done.status is TaskStatus.COMPLETED


async def test_sync_client_works_inside_pytest_asyncio_loop(server: Any, client: Client) -> None:
    task = client.submit(prompt="x")
    assert client.get(task.task_id).task_id == task.task_id


def test_sync_calls_run_on_the_private_loop_thread(server: Any, client: Client) -> None:
    threads: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        threads.append(threading.current_thread().name)
        return httpx.Response(200, json={"task_id": "t_1", "status": "queued"})

    server.fault("POST", "/v1/tasks", record)
    client.submit(prompt="x")
    assert threads == ["seedream-loop"]
    assert _loop.loop() is _loop.loop()


def test_sync_call_from_the_loop_thread_is_refused() -> None:
    async def inner() -> None:
        return None

    async def call_run() -> None:
        coro = inner()
        _loop.run(coro)

    with pytest.raises(RuntimeError, match="loop thread"):
        _loop.run(call_run())


def test_client_context_manager(server: Any) -> None:
    with server.client() as c:
        c.submit(prompt="x")
    assert c.aio._http is None


# -- the key never leaks -----------------------------------------------------------------------


def test_repr_of_client_hides_the_key(client: Client, api_key: str) -> None:
    for text in (repr(client), repr(client.aio), str(client)):
        assert api_key not in text
        assert "api_key=set" in text
    assert repr(client).startswith("Client(")
    assert repr(client.aio).startswith("AsyncClient(")


def test_server_echoing_the_key_is_redacted(server: Any, client: Client, api_key: str) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        auth = request.headers["authorization"]
        return httpx.Response(
            401, json={"error": {"message": f"invalid credentials: {auth}", "code": auth}}
        )

    server.always("POST", "/v1/tasks", echo)
    with pytest.raises(AuthenticationError) as info:
        client.submit(prompt="x")
    exc = info.value
    for text in (str(exc), repr(exc), exc.message, *map(str, exc.args)):
        assert api_key not in text
    assert "[REDACTED]" in str(exc)


def test_key_in_a_transport_error_is_redacted(server: Any, api_key: str) -> None:
    server.always("GET", "/v1/tasks/", httpx.ReadError(f"reset while sending Bearer {api_key}"))
    c = server.client(max_retries=0)
    try:
        with pytest.raises(ConnectionFailedError) as info:
            c.get("task-wave1")
    finally:
        c.close()
    assert api_key not in str(info.value) and api_key not in repr(info.value)
    assert "[REDACTED]" in str(info.value)


def test_a_key_read_with_its_line_break_is_trimmed_and_a_broken_one_refused(
    server: Any, api_key: str
) -> None:
    c = server.client(api_key=api_key + "\n")  # e.g. open("key.txt").read()
    try:
        c.submit(prompt="x")
    finally:
        c.close()
    assert server.submits[0].headers["authorization"] == f"Bearer {api_key}"
    for broken in (f"{api_key[:8]}\n{api_key[8:]}", f"{api_key[:8]} {api_key[8:]}"):
        with pytest.raises(ConfigurationError) as info:
            Client(api_key=broken, base_url="http://sim.test")
        assert api_key[8:] not in str(info.value) and "line break" in str(info.value)
        assert server.submits[1:] == []


def test_a_header_refused_before_sending_names_no_header_and_is_not_ambiguous(
    server: Any, client: Client, api_key: str
) -> None:
    refusal = httpx.LocalProtocolError(f"Illegal header value b'Bearer {api_key}\\n'")
    server.fault("POST", "/v1/tasks", refusal)
    with pytest.raises(ConnectionFailedError) as info:
        client.submit(prompt="x")
    assert api_key not in str(info.value) and "Nothing was sent" in str(info.value)
    assert not info.value.maybe_submitted


def test_key_in_an_error_body_text_is_redacted(server: Any, client: Client, api_key: str) -> None:
    server.always("GET", "/v1/tasks/", err(404, text=f"no task for key {api_key}"))
    with pytest.raises(NotFoundError) as info:
        client.get("task-wave1")
    assert api_key not in str(info.value)


def test_home_dir_from_env(isolated_env: Any) -> None:
    assert config.home_dir() == isolated_env


def test_the_key_goes_only_to_the_api_host_never_to_image_hosts() -> None:
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8)).save(jpeg, format="JPEG")
    seen: dict[str, str | None] = {}

    def handler(request: httpx.Request) -> httpx.Response:
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
