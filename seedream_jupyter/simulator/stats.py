"""What the simulator saw: counters and a record of every request, for tests to assert on."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Final

MAX_RECORDED_BODY: Final = 256 * 1024  # larger bodies (big uploads) are counted, not kept


@dataclass
class RecordedRequest:
    """One request as received (headers verbatim: it never leaves the process).

    A body over ``MAX_RECORDED_BODY`` bytes is not kept (``body`` is empty, ``body_size`` says
    how big it was), so a long session's uploads do not pile up in the record. ``reply`` is the
    body answered to an API request (JSON, as produced: a dropped answer's whole body; images
    and bodies over ``MAX_RECORDED_BODY`` are not kept); ``answered`` is when the answer was
    ready (wall clock, after any ``slow`` delay), so tests can see which requests overlapped.
    """

    method: str
    path: str
    query: str
    scope: str | None  # submit / sync / get / cancel / download, or None for other paths
    headers: dict[str, str] = field(repr=False)  # holds the bearer key verbatim
    body: bytes
    body_size: int = -1  # set from ``body`` when not given
    time: float = field(default_factory=time.time)
    status: int | None = None  # the HTTP status answered (None while in flight or dropped)
    faults: tuple[str, ...] = ()  # faults injected into this request
    reply: bytes = field(default=b"", repr=False)
    answered: float | None = None  # None while in flight

    def __post_init__(self) -> None:
        if self.body_size < 0:
            self.body_size = len(self.body)
        if len(self.body) > MAX_RECORDED_BODY:
            self.body = b""

    def json(self) -> Any:
        """The body parsed as JSON (None when empty or invalid)."""
        return _parsed(self.body)

    def reply_json(self) -> Any:
        """The answer parsed as JSON (None when not kept, empty or invalid)."""
        return _parsed(self.reply)

    def keep_reply(self, body: bytes) -> None:
        self.answered = time.time()
        if self.scope not in (None, "download") and len(body) <= MAX_RECORDED_BODY:
            self.reply = body


def _parsed(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except (ValueError, RecursionError):
        return None


class Stats:
    """Thread-safe counters. Read them as attributes: ``sim.stats.submits``.

    - ``submit_requests``: POSTs to /v1/tasks and /v1/tasks/sync received, whatever happened
    - ``submits``: tasks created (by either endpoint)
    - ``sync_requests``: POSTs to /v1/tasks/sync received
    - ``polls``: GET /v1/tasks/{id} received
    - ``cancels``: cancel requests received; ``cancelled``: tasks actually cancelled
    - ``downloads``: image download requests received; ``downloads_ok``: full bodies sent
    - ``callbacks_sent`` / ``callbacks_failed``: callback POSTs delivered / failed
    - ``unauthorized``: requests answered 401; ``invalid``: requests answered 400
    - ``faults``: injected faults by name (a ``Counter``)
    """

    _NAMES = (
        "submit_requests",
        "submits",
        "sync_requests",
        "polls",
        "cancels",
        "cancelled",
        "downloads",
        "downloads_ok",
        "callbacks_sent",
        "callbacks_failed",
        "unauthorized",
        "invalid",
    )

    def __init__(self, record_limit: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._requests: deque[RecordedRequest] = deque(maxlen=record_limit)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def add_fault(self, name: str) -> None:
        with self._lock:
            self._faults[name] += 1

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def __getattr__(self, name: str) -> int:
        if name in Stats._NAMES:
            with self._lock:
                return self._counts[name]
        raise AttributeError(name)

    @property
    def faults(self) -> Counter[str]:
        with self._lock:
            return Counter(self._faults)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            data: dict[str, Any] = {name: self._counts[name] for name in Stats._NAMES}
            data["faults"] = dict(self._faults)
            return data

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._faults.clear()
            self._requests.clear()

    def __repr__(self) -> str:
        return f"Stats({self.snapshot()})"
