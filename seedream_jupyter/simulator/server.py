"""HTTP plumbing: a ThreadingHTTPServer (HTTP/1.1 keep-alive) in front of the ``Simulator``.

Routes::

    POST /v1/tasks                  submit        -> the queued task
    POST /v1/tasks/sync[?timeout=S] submit + wait -> the finished task, or its poll_url
    GET  /v1/tasks/{id}             get           -> the task
    POST /v1/tasks/{id}/cancel      cancel        -> {task_id, status, refunded, refunded_quota}
    GET  /files/{id}/{i}.jpeg|png   download      -> image bytes (410 once expired)
    GET  /  or  /health             info          -> {"simulator": true, ...}

Faults are applied here, around the engine: ``slow`` first, then the status faults
(429/5xx answer instead of the engine), then ``drop`` / ``malformed`` / ``truncate`` on the way
out. ``fail`` and ``expired`` are handed to the engine when a task is created.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import socket
import sys
import threading
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from .. import catalog
from . import faults as faults_module
from .engine import Simulator
from .faults import FaultHit
from .references import parse_file_path
from .stats import RecordedRequest
from .tasks import SimTask
from .wire import ApiFailure, dumps, error_body

MAX_BODY_BYTES: Final = 512 * 1024 * 1024  # 14 reference images of 30 MB as base64, and some
JSON_TYPE: Final = "application/json"
SIMULATOR_HEADER: Final = "X-Seedream-Simulator"


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


class SimulatorHTTPServer(ThreadingHTTPServer):
    """Tracks open connections so that ``stop`` can close idle keep-alive sockets."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        self.sim = sim
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, SimulatorHandler)

    def track(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(conn)

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
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK would
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

    def _send(self, response: Response, *, partial: bool = False) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        # Clients flag results as synthetic, and poll in step with the simulated clock.
        self.send_header(SIMULATOR_HEADER, f"1; speed={self.server.sim.config.speed:g}")
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if partial:
            # Half the promised body, then the connection goes away.
            self.wfile.write(response.body[: len(response.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(response.body)

    # -- dispatch ------------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        sim = self.server.sim
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        try:
            body = self._read_body()
        except _BodyError as exc:
            self.close_connection = True
            self._send(Response(exc.status, error_body(exc.status, "invalid_body", exc.message)))
            return
        scope, route_args = _route(method, path)
        record = RecordedRequest(
            method=method,
            path=split.path,
            query=split.query,
            scope=scope,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        sim.stats.record(record)
        try:
            response, hits = self._respond(method, path, split.query, scope, route_args, body)
        except Exception:  # a bug in the simulator: answer 500, never hang the client
            traceback.print_exc(file=sys.stderr)
            response, hits = _error(500, "internal_error", "simulator error"), {}
        record.faults = tuple(hits)
        if response.status == 200 and ("drop" in hits or "truncate" in hits):
            self._send(response, partial=True)
            return
        record.status = response.status
        self._send(response)

    def _respond(
        self,
        method: str,
        path: str,
        query: str,
        scope: str | None,
        args: tuple[str, ...],
        body: bytes,
    ) -> tuple[Response, dict[str, FaultHit]]:
        sim = self.server.sim
        if scope is None:
            if args == ("info",):
                return _json(200, _info(sim)), {}
            if args == ("method",):
                return _error(405, "method_not_allowed", f"{method} is not allowed on {path}"), {}
            return _error(404, "not_found", f"no route for {method} {path}"), {}
        sim.stats.add(
            {
                "submit": "submit_requests",
                "sync": "submit_requests",
                "get": "polls",
                "cancel": "cancels",
                "download": "downloads",
            }[scope]
        )
        if scope == "sync":
            sim.stats.add("sync_requests")
        if scope != "download" and not self._authorized():
            sim.stats.add("unauthorized")
            return _error(401, "invalid_api_key", "missing or invalid API key"), {}
        hits = sim.faults.draw(scope)
        applied: dict[str, FaultHit] = {}
        slow = hits.get("slow")
        if slow is not None:
            applied["slow"] = slow
            sim.sleep(slow.seconds or 0.0)
        for name in faults_module.STATUS_FAULTS:
            if name in hits:
                applied[name] = hits[name]
                _count(sim, applied)
                return _status_fault(hits[name]), applied
        try:
            response = self._route_call(scope, args, body, query, hits, applied)
        except ApiFailure as failure:
            if failure.status == 400:
                sim.stats.add("invalid")
            response = Response(failure.status, failure.body(), headers=failure.headers)
        if response.status == 200:
            for name in ("drop", "malformed", "truncate"):
                if name in hits:
                    applied[name] = hits[name]
                    break
            if "malformed" in applied:
                response.body = response.body[: len(response.body) // 2] + b"<<malformed>>"
            elif scope == "download" and "drop" not in applied and "truncate" not in applied:
                sim.stats.add("downloads_ok")
        _count(sim, applied)
        return response, applied

    def _route_call(
        self,
        scope: str,
        args: tuple[str, ...],
        body: bytes,
        query: str,
        hits: dict[str, FaultHit],
        applied: dict[str, FaultHit],
    ) -> Response:
        sim = self.server.sim
        if scope in ("submit", "sync"):
            payload = _parse_json(body)
            fail, expired = "fail" in hits, "expired" in hits
            task = sim.submit(payload, fail=fail, expired=expired)
            for name, on in (("fail", fail), ("expired", expired)):
                if on:
                    applied[name] = hits[name]
            if scope == "submit":
                return _json(200, _submitted(task))
            sim.wait(task, sim.sync_wait_seconds(_timeout_param(query)))
            state = sim.task_json(task)
            if state["status"] in ("completed", "failed", "cancelled"):
                return _json(200, state)
            return _json(
                200,
                {
                    "task_id": task.task_id,
                    "status": state["status"],
                    "progress": state["progress"],
                    "poll_url": f"/v1/tasks/{task.task_id}",
                },
            )
        if scope == "get":
            return _json(200, sim.task_json(sim.find(args[0])))
        if scope == "cancel":
            return _json(200, sim.cancel(args[0]))
        task_id, index, extension = args[0], int(args[1]), args[2]
        data, content_type = sim.image(task_id, index, extension)
        return Response(
            200, data, content_type, headers={"Cache-Control": "private, max-age=86400"}
        )

    def _authorized(self) -> bool:
        key = self.server.sim.config.api_key
        if not key:
            return True
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(token.strip().encode(), key.encode())


# -- helpers -----------------------------------------------------------------------------
def _route(method: str, path: str) -> tuple[str | None, tuple[str, ...]]:
    """(scope, arguments) for a request; scope None with ("info",) / ("method",) / ()."""
    parts = path.strip("/").split("/")
    if path in ("/", "/health"):
        return (None, ("info",)) if method == "GET" else (None, ("method",))
    if parts[:2] == ["v1", "tasks"]:
        rest = parts[2:]
        if rest in ([], ["sync"]):
            scope = "submit" if not rest else "sync"
            return (scope, ()) if method == "POST" else (None, ("method",))
        if len(rest) == 1:
            return ("get", (rest[0],)) if method == "GET" else (None, ("method",))
        if len(rest) == 2 and rest[1] == "cancel":
            return ("cancel", (rest[0],)) if method == "POST" else (None, ("method",))
        return None, ()
    if parts[0] == "files":
        parsed = parse_file_path(path)
        if parsed is None:
            return None, ()
        if method != "GET":
            return None, ("method",)
        task_id, index, extension = parsed
        return "download", (task_id, str(index), "png" if extension == "png" else "jpeg")
    return None, ()


def _count(sim: Simulator, applied: dict[str, FaultHit]) -> None:
    for name in applied:
        sim.stats.add_fault(name)


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(status, dumps(body))


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, error_body(status, code, message))


def _status_fault(hit: FaultHit) -> Response:
    status = faults_module.STATUS_FAULTS[hit.name]
    code, message = _FAULT_MESSAGES[status]
    response = _error(status, code, message)
    if hit.seconds is not None:
        response.headers["Retry-After"] = f"{hit.seconds:g}"
    return response


_FAULT_MESSAGES: Final = {
    429: ("rate_limit_exceeded", "rate limit exceeded: too many requests, retry later"),
    500: ("internal_error", "internal server error, please retry later"),
    502: ("bad_gateway", "bad gateway: the upstream model service did not answer"),
    503: ("service_unavailable", "service temporarily unavailable, please retry later"),
}


def _parse_json(body: bytes) -> object:
    if not body.strip():
        raise ApiFailure(400, "invalid_json", "the request body is empty; send a JSON object")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiFailure(400, "invalid_json", f"the body is not valid JSON: {exc}") from None


def _timeout_param(query: str) -> float | None:
    values = parse_qs(query).get("timeout")
    if not values:
        return None
    try:
        return float(values[0])
    except ValueError:
        raise ApiFailure(400, "invalid_parameter", "timeout must be a number of seconds") from None


def _submitted(task: SimTask) -> dict[str, Any]:
    """The answer to a submit: the task as just queued (the provider's newest form)."""
    return {
        "task_id": task.task_id,
        "model": task.request.model,
        "action": task.request.action,
        "status": "queued",
        "created_at": round(task.created_wall * 1000),
        "progress": 0,
    }


def _info(sim: Simulator) -> dict[str, Any]:
    return {
        "simulator": True,
        "service": "QWave task API simulator (seedream-jupyter)",
        "models": list(catalog.MODEL_IDS),
        "speed": sim.config.speed,
        "faults": sim.faults.describe(),
        "auth": bool(sim.config.api_key),
    }
