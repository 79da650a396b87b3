"""Fixtures shared by the integration tests: simulators and a callback receiver.

- ``simulator``: one started simulator per test, stopped afterwards. Options come from a
  ``@pytest.mark.simulator(speed=..., faults=..., ...)`` marker (any keyword of
  ``seedream_jupyter.simulator.start``); the default speed is ``DEFAULT_SPEED``.
- ``start_simulator``: a factory for tests that need several simulators or options decided at
  run time; everything it started is stopped afterwards.
- ``callback_receiver``: a tiny HTTP server recording the JSON bodies POSTed to it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from seedream_jupyter import simulator as simulator_module
from seedream_jupyter.simulator import SimulatorHandle

DEFAULT_SPEED = 50.0

StartSimulator = Callable[..., SimulatorHandle]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "simulator(**options): options for the `simulator` fixture's start()"
    )


@pytest.fixture
def start_simulator() -> Iterator[StartSimulator]:
    started: list[SimulatorHandle] = []

    def start(**options: Any) -> SimulatorHandle:
        options.setdefault("speed", DEFAULT_SPEED)
        handle = simulator_module.start(**options)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.stop()


@pytest.fixture
def simulator(request: pytest.FixtureRequest, start_simulator: StartSimulator) -> SimulatorHandle:
    marker = request.node.get_closest_marker("simulator")
    options = dict(marker.kwargs) if marker else {}
    return start_simulator(**options)


@dataclass
class CallbackReceiver:
    """Records POSTed JSON bodies; ``wait_for(n)`` blocks until n have arrived."""

    url: str = ""
    bodies: list[Any] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def add(self, body: Any) -> None:
        with self._cond:
            self.bodies.append(body)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Any]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.bodies) >= count, timeout)
            return list(self.bodies)


@pytest.fixture
def callback_receiver() -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            try:
                receiver.add(json.loads(body))
            except ValueError:
                receiver.add(body)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def backoffs_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without the jitter waits (a server's Retry-After still counts)."""
    from seedream_jupyter.client import retry

    monkeypatch.setattr(
        retry, "delay", lambda tries, retry_after: 0.0 if retry_after is None else retry_after
    )
