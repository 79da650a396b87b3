"""Helpers for unit tests on ``simulator.mock``, the one fake QWave API of the unit tests.

Fixtures live in ``conftest.py`` (``sim``, ``make_sim``, ``client``, ``backoffs``); this
module holds what tests import: clients wired to a mock simulator, a task put on it directly,
readings of what it received and answered (``sim.requests``), and ``stub_before``, a narrow
stub for the few answers the simulator cannot give (error-envelope variants, a transport
error of a given class at a given moment).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, Final

import httpx

from seedream_jupyter import catalog
from seedream_jupyter.client import AsyncClient, Client, PollPolicy
from seedream_jupyter.simulator import MockSimulator, RecordedRequest

API_KEY: Final = "sk-test-0123456789abcdef-secret"
FAST_POLL: Final = PollPolicy(first_delay=0.01, min_interval=0.01, max_interval=0.05)
# The ``sim`` fixture: fast and exact timing, small images, and a key it checks.
FAST: Final[dict[str, Any]] = {"speed": 1000, "jitter": 0, "image_side": 64, "api_key": API_KEY}
SMALL_SIDE: Final = FAST["image_side"]


def _client_options(sim: MockSimulator, kw: dict[str, Any]) -> dict[str, Any]:
    kw.setdefault("api_key", API_KEY)
    kw.setdefault("base_url", sim.url)
    kw.setdefault("transport", sim.transport)
    kw.setdefault("poll", FAST_POLL)
    kw.setdefault("max_retries", 3)
    kw.setdefault("timeout", 10.0)
    return kw


def sim_client(sim: MockSimulator, **kw: Any) -> Client:
    """A sync Client on the mock simulator (its key, fast polling, 3 retries)."""
    return Client(**_client_options(sim, kw))


def sim_async_client(sim: MockSimulator, **kw: Any) -> AsyncClient:
    return AsyncClient(**_client_options(sim, kw))


def put_task(sim: MockSimulator, **payload: Any) -> str:
    """Create a task on the simulator directly, not through the client under test (its
    submit is in ``sim.requests`` like any other)."""
    body = {"model": catalog.DEFAULT_MODEL, "prompt": "a test", **payload}
    key = sim.config.api_key
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with sim.client(headers=headers) as http:
        answer = http.post("/v1/tasks", json=body)
    answer.raise_for_status()
    data = answer.json()
    return str(data["task_id"] if "task_id" in data else data["data"])


# -- what the simulator received and answered ------------------------------------------------
def of_scope(sim: MockSimulator, scope: str) -> list[RecordedRequest]:
    """The requests of one scope (submit, sync, get, cancel, download), oldest first."""
    return [r for r in sim.requests if r.scope == scope]


def payloads(sim: MockSimulator) -> list[dict[str, Any]]:
    """The JSON bodies of the submits received, oldest first."""
    return [json.loads(r.body) for r in of_scope(sim, "submit")]


def answers(sim: MockSimulator, scope: str = "get") -> list[Any]:
    """The JSON the simulator answered to the requests of ``scope``, oldest first."""
    return [r.reply_json() for r in of_scope(sim, scope)]


def task_spans(sim: MockSimulator, *, on_server: bool = False) -> list[tuple[float, float]]:
    """For each task submitted: from its submit arriving to its last image answered
    (``on_server``: to the first poll the server answered "completed", i.e. while the
    server held it)."""
    ends: dict[str, float] = {}
    if on_server:
        for r in of_scope(sim, "get"):
            task_id, reply = r.path.rstrip("/").split("/")[-1], r.reply_json() or {}
            if reply.get("status") == "completed" and task_id not in ends:
                ends[task_id] = r.answered or r.time
    for r in of_scope(sim, "download"):
        task_id = r.path.split("/")[2]
        if not on_server:
            ends[task_id] = max(ends.get(task_id, 0.0), r.answered or r.time)
    spans = []
    for r in of_scope(sim, "submit"):
        task_id = (r.reply_json() or {}).get("task_id")
        if task_id in ends:
            spans.append((r.time, ends[task_id]))
    return spans


def request_spans(sim: MockSimulator, scope: str) -> list[tuple[float, float]]:
    """For each request of ``scope``: from its arrival to its answer (``slow`` included)."""
    return [(r.time, r.answered or r.time) for r in of_scope(sim, scope)]


def max_overlap(spans: Iterable[tuple[float, float]]) -> int:
    """The most spans open at one instant (one that ends as another starts: not both)."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = open_now = 0
    for _, step in events:  # at a tie the end (-1) sorts first
        open_now += step
        most = max(most, open_now)
    return most


# -- a narrow stub in front of the simulator ---------------------------------------------------
Answer = Callable[[httpx.Request], httpx.Response | None]


def stub_before(sim: MockSimulator, answer: Answer) -> httpx.MockTransport:
    """A transport where ``answer(request)`` answers first: a response, a raised transport
    error, or None to let the simulator answer. Only for what the simulator cannot produce;
    the requests it answers never reach ``sim.requests``."""

    async def handler(request: httpx.Request) -> httpx.Response:
        response = answer(request)
        if response is not None:
            return response
        return await sim.transport.handle_async_request(request)

    return httpx.MockTransport(handler)


def first(count: int, make: Callable[[httpx.Request], httpx.Response], scope: str) -> Answer:
    """An ``answer`` for ``stub_before``: the first ``count`` requests of ``scope`` (submit,
    get, download) get ``make(request)``; every other request goes to the simulator."""
    left = [count]

    def answer(request: httpx.Request) -> httpx.Response | None:
        if left[0] > 0 and scope_of(request) == scope:
            left[0] -= 1
            return make(request)
        return None

    return answer


def scope_of(request: httpx.Request) -> str:
    path = request.url.path
    if path.startswith("/files/"):
        return "download"
    if request.method == "POST" and path == "/v1/tasks":
        return "submit"
    if request.method == "POST" and path.endswith("/cancel"):
        return "cancel"
    return "get" if path.startswith("/v1/tasks/") else "other"


def raising(exc: type[httpx.TransportError], text: str = "injected") -> Callable[..., Any]:
    """A ``make`` for ``first`` that raises ``exc`` as a connection would."""

    def make(request: httpx.Request) -> httpx.Response:
        raise exc(text, request=request)

    return make
