"""Request routing and fault application, shared by the socket server and the mock transport.

Routes::

    POST /v1/tasks                  submit        -> the queued task
    POST /v1/tasks/sync[?timeout=S] submit + wait -> the finished task, or its poll_url
    GET  /v1/tasks/{id}             get           -> the task
    POST /v1/tasks/{id}/cancel      cancel        -> {task_id, status, refunded, refunded_quota}
    GET  /files/{id}/{i}.jpeg|png   download      -> image bytes (410 once expired)
    GET  /  or  /health             info          -> {"simulator": true, ...}

A request goes through two steps so that each transport can wait in its own way between them:
``begin`` records it, checks the key and draws its faults (``slow`` becomes ``Call.delay``);
``finish`` answers it: status faults instead of the engine, task faults handed to the engine,
then the reply's body and delivery faults (``nested``, ``malformed``, ``endless``, ``bomb``,
``badimage``, ``slowheaders``, ``drop``, ``truncate``) for the transport to carry out.
"""

from __future__ import annotations

import hmac
import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from .. import catalog
from . import hostile
from .engine import Simulator
from .exchange import Incoming, Reply
from .fault_kinds import BODY_FAULTS, STATUS_FAULTS, TASK_FAULTS
from .faults import FaultHit
from .references import parse_file_path
from .stats import RecordedRequest
from .wire import ApiFailure, dumps, error_body

SCOPE_COUNTERS: Final = {
    "submit": "submit_requests",
    "sync": "submit_requests",
    "get": "polls",
    "cancel": "cancels",
    "download": "downloads",
}
_FAULT_MESSAGES: Final = {
    429: ("rate_limit_exceeded", "rate limit exceeded: too many requests, retry later"),
    500: ("internal_error", "internal server error, please retry later"),
    502: ("bad_gateway", "bad gateway: the upstream model service did not answer"),
    503: ("service_unavailable", "service temporarily unavailable, please retry later"),
}


@dataclass
class Call:
    """A request between ``begin`` and ``finish``."""

    incoming: Incoming
    record: RecordedRequest
    scope: str | None
    args: tuple[str, ...]
    query: str
    hits: dict[str, FaultHit] = field(default_factory=dict)
    applied: dict[str, FaultHit] = field(default_factory=dict)
    early: Reply | None = None  # answered before any fault (404, 405, 401, info)
    delay: float = 0.0  # the ``slow`` fault: wait this long before ``finish``


class Router:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def respond(self, incoming: Incoming, sleep: Callable[[float], None]) -> Reply:
        call = self.begin(incoming)
        if call.delay > 0:
            sleep(call.delay)
        return self.finish(call)

    def reject_body(self, status: int, message: str) -> Reply:
        """The answer to a body the transport could not read (bad length, too large)."""
        return self._stamped(Reply(status, error_body(status, "invalid_body", message), close=True))

    # -- step one ------------------------------------------------------------------------
    def begin(self, incoming: Incoming) -> Call:
        sim = self.sim
        split = urlsplit(incoming.target)
        path = split.path.rstrip("/") or "/"
        scope, args = route(incoming.method, path)
        record = RecordedRequest(
            method=incoming.method,
            path=split.path,
            query=split.query,
            scope=scope,
            headers=dict(incoming.headers),
            body=incoming.body,
        )
        sim.stats.record(record)
        call = Call(incoming, record, scope, args, split.query)
        if scope is None:
            if args == ("info",):
                call.early = _json(200, self._info())
            elif args == ("method",):
                message = f"{incoming.method} is not allowed on {path}"
                call.early = _error(405, "method_not_allowed", message)
            else:
                call.early = _error(404, "not_found", f"no route for {incoming.method} {path}")
            return call
        sim.stats.add(SCOPE_COUNTERS[scope])
        if scope == "sync":
            sim.stats.add("sync_requests")
        if scope != "download" and not self._authorized(incoming.headers):
            sim.stats.add("unauthorized")
            call.early = _error(401, "invalid_api_key", "missing or invalid API key")
            return call
        call.hits = sim.faults.draw(scope)
        slow = call.hits.get("slow")
        if slow is not None:
            call.applied["slow"] = slow
            call.delay = slow.seconds or 0.0
        return call

    # -- step two ------------------------------------------------------------------------
    def finish(self, call: Call) -> Reply:
        try:
            reply = call.early or self._answer(call)
        except Exception:  # a bug in the simulator: answer 500, never hang the client
            traceback.print_exc(file=sys.stderr)
            reply = _error(500, "internal_error", "simulator error")
        for name in call.applied:
            self.sim.stats.add_fault(name)
        call.record.faults = tuple(call.applied)
        call.record.status = None if reply.cut else reply.status
        call.record.keep_reply(reply.body)
        return self._stamped(reply)

    def _answer(self, call: Call) -> Reply:
        sim, hits, applied = self.sim, call.hits, call.applied
        for name in STATUS_FAULTS:
            if name in hits:
                applied[name] = hits[name]
                return _status_fault(hits[name])
        try:
            reply = self._call_engine(call)
        except ApiFailure as failure:
            if failure.status == 400:
                sim.stats.add("invalid")
            reply = Reply(failure.status, failure.body(), headers=dict(failure.headers))
        if reply.status == 200:
            self._deface(call, reply)
        if "slowheaders" in hits:
            applied["slowheaders"] = hits["slowheaders"]
            reply.head_pace = hits["slowheaders"].seconds or 0.0
        return reply

    def _deface(self, call: Call, reply: Reply) -> None:
        """Apply the faults that spoil a successful answer."""
        hits, applied = call.hits, call.applied
        body_faults = ("nested", "malformed") if call.scope != "download" else BODY_FAULTS
        for name in body_faults:
            if name in hits:
                applied[name] = hits[name]
                _spoil(reply, name, call.args)
                break
        if not reply.endless:
            for name in ("drop", "truncate"):
                if name in hits:
                    applied[name] = hits[name]
                    reply.cut = reply.close = True
                    break
        if call.scope == "download" and not applied.keys() & {*BODY_FAULTS, "drop", "truncate"}:
            self.sim.stats.add("downloads_ok")

    def _call_engine(self, call: Call) -> Reply:
        sim, scope, args = self.sim, call.scope, call.args
        if scope in ("submit", "sync"):
            return self._submit(call)
        if scope == "get":
            task = sim.find(args[0])
            if "wrongid" in call.hits:
                other = sim.other(task.task_id)
                if other is not None:
                    call.applied["wrongid"] = call.hits["wrongid"]
                    task = other
            return _json(200, sim.task_json(task))
        if scope == "cancel":
            return _json(200, sim.cancel(args[0]))
        task_id, index, extension = args[0], int(args[1]), args[2]
        if call.hits.keys() & set(BODY_FAULTS):
            sim.servable(task_id, index, extension)  # a spoiled image needs no drawing
            return Reply(200, b"", f"image/{extension}")
        data, content_type = sim.image(task_id, index, extension)
        return Reply(200, data, content_type, headers={"Cache-Control": "private, max-age=86400"})

    def _submit(self, call: Call) -> Reply:
        sim, hits = self.sim, call.hits
        task_faults = frozenset(name for name in TASK_FAULTS if name in hits)
        authorization = call.incoming.headers.get("authorization", "")
        task = sim.submit(_parse_json(call.incoming.body), task_faults, authorization)
        for name in task_faults:
            call.applied[name] = hits[name]
        if call.scope == "submit":
            shown = None
            if "reuse" in hits and (previous := sim.previous(task)) is not None:
                call.applied["reuse"] = hits["reuse"]
                shown = previous.task_id
            return _json(200, sim.submitted_json(task, shown))
        sim.wait(task, sim.sync_wait_seconds(_timeout_param(call.query)))
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

    def _authorized(self, headers: dict[str, str]) -> bool:
        key = self.sim.config.api_key
        if not key:
            return True
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(token.strip().encode(), key.encode())

    def _stamped(self, reply: Reply) -> Reply:
        # Clients flag results as synthetic, and poll in step with the simulated clock.
        if self.sim.config.simulator_header:
            reply.headers[catalog.SIMULATOR_HEADER] = f"1; speed={self.sim.config.speed:g}"
        return reply

    def _info(self) -> dict[str, Any]:
        sim = self.sim
        return {
            "simulator": True,
            "service": "QWave task API simulator (seedream-jupyter)",
            "models": list(catalog.MODEL_IDS),
            "speed": sim.config.speed,
            "faults": sim.faults.describe(),
            "auth": bool(sim.config.api_key),
            "wire": sim.style.describe(),
            "capacity": sim.config.capacity,
        }


# -- helpers -----------------------------------------------------------------------------
def route(method: str, path: str) -> tuple[str | None, tuple[str, ...]]:
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


def _spoil(reply: Reply, name: str, args: tuple[str, ...]) -> None:
    if name == "nested":
        reply.body = hostile.nested_json()
    elif name == "malformed":
        reply.body = reply.body[: len(reply.body) // 2] + b"<<malformed>>"
    elif name == "endless":
        reply.body, reply.content_type = hostile.JPEG_HEADER, "image/jpeg"
        reply.endless = reply.close = True
    elif name == "bomb":
        reply.body, reply.content_type = hostile.bomb_png(), "image/png"
    elif name == "badimage":
        reply.body, reply.content_type = hostile.bad_jpeg("/".join(args)), "image/jpeg"
    reply.headers.pop("Cache-Control", None)


def _json(status: int, body: dict[str, Any]) -> Reply:
    return Reply(status, dumps(body))


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, error_body(status, code, message))


def _status_fault(hit: FaultHit) -> Reply:
    status = STATUS_FAULTS[hit.name]
    code, message = _FAULT_MESSAGES[status]
    reply = _error(status, code, message)
    if hit.seconds is not None:
        reply.headers["Retry-After"] = f"{hit.seconds:g}"
    return reply


def _parse_json(body: bytes) -> object:
    if not body.strip():
        raise ApiFailure(400, "invalid_json", "the request body is empty; send a JSON object")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiFailure(
            400, "invalid_json", f"the request body is not valid JSON: {exc}"
        ) from None


def _timeout_param(query: str) -> float | None:
    values = parse_qs(query).get("timeout")
    if not values:
        return None
    try:
        return float(values[0])
    except ValueError:
        raise ApiFailure(400, "invalid_parameter", "timeout: must be a number of seconds") from None
