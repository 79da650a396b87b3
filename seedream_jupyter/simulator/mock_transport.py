"""The simulator without sockets: the same router behind an ``httpx.MockTransport``.

``mock(**options)`` takes ``start``'s options (but ``host`` / ``port``) and returns a
``MockSimulator`` with ``.transport`` (for ``httpx.Client`` and ``httpx.AsyncClient`` alike),
``.url`` (``http://127.0.0.1:9``: never contacted; on loopback like every simulator, which is
where clients believe a server saying it is one) and the inspection API of ``SimulatorHandle``.
Timing, validation, wire shapes and faults are the socket server's; faults that need a socket
become the httpx exceptions a real connection would raise:

- ``slow``: ``time.sleep`` (sync client) or ``asyncio.sleep`` (async client) before answering.
- ``drop`` / ``truncate``: the status and headers arrive, then reading the body raises
  ``httpx.RemoteProtocolError`` after half of it (``Content-Length`` promises all of it).
- ``slowheaders``: ``httpx.ReadTimeout`` at once (the request IS processed first).
- ``endless``: a body of garbage that raises ``httpx.ReadTimeout`` after 16 MiB, so a client
  without a size limit fails instead of hanging the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any, Final

import httpx

from . import hostile
from .engine import Simulator
from .exchange import Incoming, Reply
from .options import SimConfig
from .router import Router
from .timing import DEFAULT_CAPACITY, DEFAULT_JITTER
from .view import SimulatorView

MOCK_URL: Final = "http://127.0.0.1:9"
ENDLESS_LIMIT_BYTES: Final = 16 * 1024 * 1024


class _Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that yields ``chunks`` and then raises ``failure``, sync or async."""

    def __init__(self, chunks: Iterator[bytes], failure: httpx.TransportError) -> None:
        self._chunks = chunks
        self._failure = failure

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks
        raise self._failure

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk
        raise self._failure


def _endless(prefix: bytes) -> Iterator[bytes]:
    yield prefix
    chunk = hostile.garbage_chunk()
    for _ in range(ENDLESS_LIMIT_BYTES // len(chunk)):
        yield chunk


def _incoming(request: httpx.Request) -> Incoming:
    headers = {name.lower(): value for name, value in request.headers.items()}
    return Incoming(request.method, request.url.raw_path.decode("ascii"), headers, request.content)


def _response(reply: Reply, request: httpx.Request) -> httpx.Response:
    if reply.head_pace is not None:
        raise httpx.ReadTimeout("the server never finished its headers", request=request)
    headers = {"Content-Type": reply.content_type, **reply.headers}
    if reply.close:
        headers["Connection"] = "close"
    if reply.endless:
        headers["Transfer-Encoding"] = "chunked"
        timeout = httpx.ReadTimeout("the body never ends", request=request)
        body = _Body(_endless(reply.body), timeout)
        return httpx.Response(reply.status, headers=headers, stream=body, request=request)
    if reply.cut:
        headers["Content-Length"] = str(len(reply.body))
        closed = httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body", request=request
        )
        body = _Body(iter([reply.body[: len(reply.body) // 2]]), closed)
        return httpx.Response(reply.status, headers=headers, stream=body, request=request)
    return httpx.Response(reply.status, headers=headers, content=reply.body, request=request)


class SimulatorTransport(httpx.MockTransport):
    """An ``httpx.MockTransport`` answered by the simulator's router; sync and async."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self._router = Router(sim)
        super().__init__(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        reply = self._router.respond(_incoming(request), self._sim.sleep)
        return _response(reply, request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return self._answer(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        call = self._router.begin(_incoming(request))
        if call.delay > 0:
            await asyncio.sleep(call.delay)
        # finish() may wait (sync submits) or draw an image: keep the event loop free.
        reply = await asyncio.to_thread(self._router.finish, call)
        return _response(reply, request)


class MockSimulator(SimulatorView):
    """A simulator served through ``.transport``; ``close()`` (or ``with``) when done."""

    def __init__(self, sim: Simulator, url: str = MOCK_URL) -> None:
        self._sim = sim
        self.url = url
        sim.base_url = url
        self.transport = SimulatorTransport(sim)

    def client(self, **options: Any) -> httpx.Client:
        """An ``httpx.Client`` on this simulator (``base_url`` and ``transport`` set)."""
        return httpx.Client(base_url=self.url, transport=self.transport, **options)

    def async_client(self, **options: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, transport=self.transport, **options)

    def close(self) -> None:
        """Stop callbacks and wake any waiting sync submit. Idempotent."""
        self._sim.stop()

    def __enter__(self) -> MockSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<MockSimulator {self.url} speed={self.speed:g}>"


def mock(
    *,
    url: str = MOCK_URL,
    speed: float = 1.0,
    faults: str | None = None,
    fault_seed: int = 0,
    api_key: str | None = None,
    url_ttl: float = 86400.0,
    queue_seconds: float | None = None,
    sync_timeout: float | None = None,
    jitter: float = DEFAULT_JITTER,
    timing_seed: int = 0,
    capacity: int | None = DEFAULT_CAPACITY,
    wire: str = "newest",
    verbose: bool = False,
    record_limit: int = 10_000,
    image_side: int | None = None,
    simulator_header: bool = True,
) -> MockSimulator:
    """A simulator behind an ``httpx.MockTransport``: no thread, no socket (see ``start``
    for the options; ``url`` is the fake base URL its links use)."""
    config = SimConfig(
        speed=speed,
        faults=faults,
        fault_seed=fault_seed,
        api_key=api_key,
        url_ttl=url_ttl,
        queue_seconds=queue_seconds,
        sync_timeout=sync_timeout,
        jitter=jitter,
        timing_seed=timing_seed,
        capacity=capacity,
        wire=wire,
        verbose=verbose,
        record_limit=record_limit,
        image_side=image_side,
        simulator_header=simulator_header,
    )
    return MockSimulator(Simulator(config), url.rstrip("/"))
