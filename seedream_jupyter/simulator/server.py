"""The socket transport: a ThreadingHTTPServer (HTTP/1.1 keep-alive) in front of the router.

It reads requests, hands them to the ``Router`` and carries out each ``Reply`` on the socket,
hostile deliveries included: a head sent one byte at a time (``slowheaders``), half a body then
a closed connection (``drop`` / ``truncate``), a chunked body that never ends (``endless``,
until the client goes away or the simulator stops).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from . import hostile
from .engine import Simulator
from .exchange import Incoming, Reply
from .router import Router

MAX_BODY_BYTES: Final = 512 * 1024 * 1024  # 14 reference images of 30 MB as base64, and some


class SimulatorHTTPServer(ThreadingHTTPServer):
    """Tracks open connections so that ``stop`` can close idle keep-alive sockets."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        self.sim = sim
        self.router = Router(sim)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, SimulatorHandler)

    def track(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(conn)

    @property
    def open_connections(self) -> int:
        with self._connections_lock:
            return len(self._connections)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return  # the client went away: not our problem
        if self.sim.config.verbose:
            super().handle_error(request, client_address)


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SimulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "QWaveSimulator/1.0"
    sys_version = ""
    timeout = 300  # idle keep-alive connections are closed after this many seconds
    # Head and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK would
    # add ~40 ms to every keep-alive answer.
    disable_nagle_algorithm = True
    server: SimulatorHTTPServer

    # -- plumbing ------------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sim.config.verbose:
            sys.stderr.write(f"simulator: {self.address_string()} {format % args}\n")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        router = self.server.router
        try:
            body = self._read_body()
        except _BodyError as exc:
            self._deliver(router.reject_body(exc.status, exc.message))
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        incoming = Incoming(method, self.path, headers, body)
        self._deliver(router.respond(incoming, self.server.sim.sleep))

    # -- reading -------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise _BodyError(400, "invalid Content-Length") from None
        if length < 0:
            raise _BodyError(400, "invalid Content-Length")
        if length > MAX_BODY_BYTES:
            raise _BodyError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BodyError(400, "invalid chunked body") from None
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BodyError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
            parts.append(self.rfile.read(size))
            self.rfile.readline(65537)

    # -- writing -------------------------------------------------------------------------
    def _deliver(self, reply: Reply) -> None:
        if reply.close:
            self.close_connection = True
        self.log_request(reply.status)
        head = self._head(reply)
        if reply.head_pace is not None:
            if not self._trickle(head, reply.head_pace):
                self.close_connection = True
                return
        else:
            self.wfile.write(head)
        if reply.endless:
            self._stream_forever(reply.body)
        elif reply.cut:
            self.wfile.write(reply.body[: len(reply.body) // 2])
            self.wfile.flush()
        else:
            self.wfile.write(reply.body)

    def _head(self, reply: Reply) -> bytes:
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = ""
        lines = [
            f"{self.protocol_version} {reply.status} {phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {reply.content_type}",
        ]
        if reply.endless:
            lines.append("Transfer-Encoding: chunked")
        else:
            lines.append(f"Content-Length: {len(reply.body)}")
        lines += [f"{name}: {value}" for name, value in reply.headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _trickle(self, head: bytes, pace: float) -> bool:
        """Send ``head`` one byte every ``pace`` seconds; False if the simulator stopped."""
        sim = self.server.sim
        for index in range(len(head)):
            if index:
                sim.sleep(pace)
            if sim.stopping:
                return False
            self.wfile.write(head[index : index + 1])
        return True

    def _stream_forever(self, prefix: bytes) -> None:
        """Chunks of garbage after ``prefix`` until the client disconnects (the write fails)
        or the simulator stops."""
        sim = self.server.sim
        chunk = hostile.garbage_chunk()
        framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        self.wfile.write(f"{len(prefix):x}\r\n".encode() + prefix + b"\r\n")
        while not sim.stopping:
            self.wfile.write(framed)
