"""Fixtures for the unit tests: an isolated environment and a fake QWave server.

The fake server is an ``httpx.MockTransport`` handler that speaks the wire format of
``shared/wire-examples.md``: a submit answers ``queued``; each GET walks the task
through ``server.script`` (queued → processing 30 → processing 70 → completed by
default); completed tasks carry result image URLs that serve real JPEG/PNG bytes
drawn with Pillow at the catalog's pixel size. Every request is recorded, and faults
(error responses, transport exceptions) can be queued per method + path prefix.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from seedream_jupyter import catalog
from seedream_jupyter.client import AsyncClient, Client, PollPolicy, retry
from seedream_jupyter.errors import ValidationError
from seedream_jupyter.request import GenerationRequest

API_KEY = "sk-test-0123456789abcdef-secret"
BASE_URL = "http://sim.test"
FAST_POLL = PollPolicy(first_delay=0.01, min_interval=0.01, max_interval=0.05)

_ENV_VARS = (
    "WAVE_API_KEY",
    "WAVE_API_KEY_FILE",
    "SEEDREAM_BASE_URL",
    "SEEDREAM_SIMULATOR",
    "SEEDREAM_BUDGET_USD",
)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Any:
    """No key, no base URL, no simulator flag, no budget; SEEDREAM_HOME in a tmp dir."""
    for name in _ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "seedream-home"
    monkeypatch.setenv("SEEDREAM_HOME", str(home))
    return home


# -- real image bytes ----------------------------------------------------------------------

_IMAGE_CACHE: dict[tuple[int, int, str, int], bytes] = {}
_PALETTE = ((200, 60, 40), (40, 120, 200), (60, 170, 80), (230, 180, 40), (140, 70, 160))


def make_image_bytes(width: int, height: int, fmt: str = "jpeg", index: int = 0) -> bytes:
    """A real image file (JPEG/PNG/WEBP/GIF) of the given size; cached, cheap to reuse."""
    key = (width, height, fmt, index)
    if key not in _IMAGE_CACHE:
        from PIL import Image, ImageDraw

        colour = _PALETTE[index % len(_PALETTE)]
        img = Image.new("RGB", (width, height), colour)
        draw = ImageDraw.Draw(img)
        draw.rectangle((width // 4, height // 4, width * 3 // 4, height * 3 // 4), fill="white")
        buffer = io.BytesIO()
        save_format = {"jpg": "JPEG", "jpeg": "JPEG"}.get(fmt, fmt.upper())
        img.save(buffer, format=save_format)
        _IMAGE_CACHE[key] = buffer.getvalue()
    return _IMAGE_CACHE[key]


@pytest.fixture
def image_bytes() -> Callable[..., bytes]:
    """``image_bytes(w, h, fmt="jpeg", index=0)`` → real encoded image bytes."""
    return make_image_bytes


# -- the fake server -----------------------------------------------------------------------

Action = Any  # httpx.Response | BaseException | type[BaseException] | Callable[[Request], Response]

QUEUED = {"status": "queued", "progress": 0}
PROCESSING_30 = {"status": "processing", "progress": 30}
PROCESSING_70 = {"status": "processing", "progress": 70}
COMPLETED = {"status": "completed", "progress": 100}


def error_body(message: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message}
    if code is not None:
        error["code"] = code
    error.update(extra)
    return {"error": error}


class FakeServer:
    """An in-memory QWave task API for ``httpx.MockTransport``."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.tasks: dict[str, dict[str, Any]] = {}
        # The states GET walks through, one per poll; the last one repeats.
        self.script: list[dict[str, Any]] = [QUEUED, PROCESSING_30, PROCESSING_70, COMPLETED]
        self.url_shape = "list"  # "list": {"url": [u]} | "str": {"url": u}
        self.group_shape = "entries"  # "entries": one entry per image | "one-entry": url list
        self.image_size: tuple[int, int] | None = None  # override the catalog's pixel size
        self.fail_prompts: dict[str, tuple[str, str]] = {}  # prompt -> (code, message)
        self.submit_delay = 0.0
        self.in_flight_submits = 0
        self.max_in_flight_submits = 0
        self.active_tasks = 0
        self.max_active_tasks = 0
        self._faults: list[list[Any]] = []  # [method, prefix, action, remaining or None]
        self._ids = itertools.count(1)
        self.transport = httpx.MockTransport(self.handler)

    # -- configuration -------------------------------------------------------------------
    def fault(self, method: str, prefix: str, *actions: Action) -> None:
        """Answer the next matching requests with these actions, one each, in order."""
        for action in actions:
            self._faults.append([method.upper(), prefix, action, 1])

    def always(self, method: str, prefix: str, action: Action) -> None:
        """Answer every matching request with this action."""
        self._faults.append([method.upper(), prefix, action, None])

    def client(self, **kw: Any) -> Client:
        kw.setdefault("api_key", API_KEY)
        kw.setdefault("base_url", BASE_URL)
        kw.setdefault("poll", FAST_POLL)
        kw.setdefault("max_retries", 3)
        kw.setdefault("timeout", 10.0)
        return Client(transport=self.transport, **kw)

    def async_client(self, **kw: Any) -> AsyncClient:
        kw.setdefault("api_key", API_KEY)
        kw.setdefault("base_url", BASE_URL)
        kw.setdefault("poll", FAST_POLL)
        kw.setdefault("max_retries", 3)
        kw.setdefault("timeout", 10.0)
        return AsyncClient(transport=self.transport, **kw)

    # -- inspection ----------------------------------------------------------------------
    def calls(self, method: str | None = None, prefix: str = "") -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper()) and r.url.path.startswith(prefix)
        ]

    @property
    def submits(self) -> list[httpx.Request]:
        return [r for r in self.calls("POST") if r.url.path == "/v1/tasks"]

    @property
    def cancels(self) -> list[httpx.Request]:
        return [r for r in self.calls("POST") if r.url.path.endswith("/cancel")]

    @property
    def polls(self) -> list[httpx.Request]:
        return self.calls("GET", "/v1/tasks/")

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.submits]

    def create_task(self, payload: dict[str, Any] | None = None, **state: Any) -> str:
        """Put a task on the server directly (for GET/wait/cancel tests)."""
        payload = payload or {"model": catalog.DEFAULT_MODEL, "prompt": "a test"}
        request = GenerationRequest.from_payload(payload)
        return self._new_task(request, payload, **state)

    # -- the handler ---------------------------------------------------------------------
    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for fault in self._faults:
            method, prefix, action, remaining = fault
            if method == request.method and request.url.path.startswith(prefix):
                if remaining is not None:
                    self._faults.remove(fault)
                return self._act(action, request)
        path = request.url.path
        if request.method == "POST" and path == "/v1/tasks":
            return await self._submit(request)
        if path.startswith("/v1/tasks/"):
            rest = path[len("/v1/tasks/") :]
            if request.method == "POST" and rest.endswith("/cancel"):
                return self._cancel(rest[: -len("/cancel")])
            if request.method == "GET":
                return self._get(rest)
        if request.method == "GET" and path.startswith("/files/"):
            return self._file(path)
        return httpx.Response(404, json=error_body(f"no route {path}", "not_found"))

    @staticmethod
    def _act(action: Action, request: httpx.Request) -> httpx.Response:
        if isinstance(action, httpx.Response):  # a fresh copy each time
            return httpx.Response(
                action.status_code, headers=action.headers, content=action.content
            )
        if isinstance(action, type) and issubclass(action, BaseException):
            if issubclass(action, httpx.RequestError):
                raise action("injected failure", request=request)
            raise action("injected failure")
        if isinstance(action, BaseException):
            raise action
        result = action(request)
        assert isinstance(result, httpx.Response)
        return result

    def _new_task(self, request: GenerationRequest, payload: dict[str, Any], **state: Any) -> str:
        number = next(self._ids)
        task_id = f"task-wave{int(time.time())}{number:010d}"
        width, height = self.image_size or request.pixel_size
        self.tasks[task_id] = {
            "task_id": task_id,
            "request": request,
            "payload": payload,
            "step": 0,
            "status": "queued",
            "created_at": int(time.time() * 1000),
            "count": request.output_count,
            "size": (width, height),
            "fmt": request.output_format,
            "downloaded": set(),
            "active": True,
            "fail": self.fail_prompts.get(request.prompt),
            "script": state.pop("script", None),
        }
        self.active_tasks += 1
        self.max_active_tasks = max(self.max_active_tasks, self.active_tasks)
        return task_id

    def _finish(self, task: dict[str, Any]) -> None:
        if task["active"]:
            task["active"] = False
            self.active_tasks -= 1

    async def _submit(self, request: httpx.Request) -> httpx.Response:
        self.in_flight_submits += 1
        self.max_in_flight_submits = max(self.max_in_flight_submits, self.in_flight_submits)
        try:
            if self.submit_delay:
                await asyncio.sleep(self.submit_delay)
            payload = json.loads(request.content)
            try:
                parsed = GenerationRequest.from_payload(payload)
            except ValidationError as exc:
                return httpx.Response(
                    400, json=error_body(str(exc), "invalid_parameter", type="invalid_request")
                )
            task_id = self._new_task(parsed, payload)
            task = self.tasks[task_id]
            return httpx.Response(
                200,
                json={
                    "task_id": task_id,
                    "model": parsed.model,
                    "action": parsed.action,
                    "status": "queued",
                    "created_at": task["created_at"],
                    "progress": 0,
                },
            )
        finally:
            self.in_flight_submits -= 1

    def _body(self, task: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "task_id": task["task_id"],
            "status": task["status"],
            "progress": task.get("progress", 0),
            "action": task["request"].action,
            "model": task["request"].model,
            "created_at": task["created_at"],
            "urls": {
                "get": f"{BASE_URL}/v1/tasks/{task['task_id']}",
                "cancel": f"{BASE_URL}/v1/tasks/{task['task_id']}/cancel",
            },
        }
        if task["status"] in ("completed", "failed", "cancelled"):
            body["completed_at"] = task["created_at"] + 15_000
        if task["status"] == "completed":
            ext = "png" if task["fmt"] == "png" else "jpeg"
            urls = [f"{BASE_URL}/files/{task['task_id']}/{i}.{ext}" for i in range(task["count"])]
            expires = int(time.time()) + catalog.RESULT_URL_TTL_SECONDS
            if self.group_shape == "one-entry":
                entries = [{"url": urls, "expires_at": expires}]
            elif self.url_shape == "str":
                entries = [{"url": u, "expires_at": expires} for u in urls]
            else:
                entries = [{"url": [u], "expires_at": expires} for u in urls]
            body["result"] = {"images": entries}
        if task["status"] == "failed":
            body["error"] = task["error"]
        return body

    def _get(self, task_id: str) -> httpx.Response:
        task = self.tasks.get(task_id)
        if task is None:
            return httpx.Response(404, json=error_body(f"task {task_id} not found", "not_found"))
        if task["status"] not in ("completed", "failed", "cancelled"):
            script = task["script"] or self.script
            state = dict(script[min(task["step"], len(script) - 1)])
            task["step"] += 1
            if state["status"] == "completed" and task["fail"]:
                code, message = task["fail"]
                state = {
                    "status": "failed",
                    "progress": 0,
                    "error": {"message": message, "code": code},
                }
            task.update(state)
            if task["status"] in ("failed", "cancelled"):
                self._finish(task)
        return httpx.Response(200, json=self._body(task))

    def _cancel(self, task_id: str) -> httpx.Response:
        task = self.tasks.get(task_id)
        if task is None:
            return httpx.Response(404, json=error_body(f"task {task_id} not found", "not_found"))
        if task["status"] != "queued":
            return httpx.Response(
                400,
                json=error_body(
                    f"task is {task['status']}; only queued tasks can be cancelled",
                    "invalid_task_state",
                ),
            )
        task.update(status="cancelled", progress=0)
        self._finish(task)
        return httpx.Response(
            200,
            json={
                "task_id": task_id,
                "status": "cancelled",
                "refunded": True,
                "refunded_quota": 50000,
            },
        )

    def _file(self, path: str) -> httpx.Response:
        try:
            _, _, task_id, name = path.split("/")
            index = int(name.split(".")[0])
            task = self.tasks[task_id]
        except (ValueError, KeyError):
            return httpx.Response(404, text="no such file")
        width, height = task["size"]
        fmt = "png" if task["fmt"] == "png" else "jpeg"
        data = make_image_bytes(width, height, fmt, index)
        task["downloaded"].add(index)
        if len(task["downloaded"]) >= task["count"]:
            self._finish(task)
        return httpx.Response(200, headers={"Content-Type": f"image/{fmt}"}, content=data)


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def client(server: FakeServer) -> Any:
    """A sync Client wired to the fake server (Bearer key, fast polling, 3 retries)."""
    c = server.client()
    yield c
    c.close()


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float | None]]:
    """Retries without waiting: the retry engine's ``delay`` returns 0 and records its
    arguments (tries so far, the server's Retry-After)."""
    calls: list[tuple[int, float | None]] = []

    def no_wait(tries: int, retry_after: float | None) -> float:
        calls.append((tries, retry_after))
        return 0.0

    monkeypatch.setattr(retry, "delay", no_wait)
    return calls


@pytest.fixture
def api_key() -> str:
    """The key the fake-server clients send (registered as a secret by config.resolve)."""
    return API_KEY
