"""Reading the server's answers: error envelopes, ``Retry-After``, JSON that may be hostile,
tasks whose text is redacted, submit answers that reuse an id.

Status codes map to exceptions in ``errors.error_for_status`` (one place); what to do about
each is the exception's ``hint`` (one place too), so nothing here adds advice to messages.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime
import email.utils
import json
import time
from typing import Any, Final

import httpx

from ..errors import APIError, ConnectionFailedError, SeedreamError, error_for_status, redact
from ..request import GenerationRequest
from ..task import Task

# Status codes worth another try: rate limits and server trouble.
RETRY_STATUS: Final = frozenset({429, 500, 502, 503, 504})
_MAX_ERROR_TEXT: Final = 300
_SEEN_IDS_KEPT: Final = 100_000
# the fact only; what to do is the error's hint (``SeedreamError.hint`` for maybe_submitted)
MAY_EXIST: Final = (
    ". The submit reached the server, so the task may exist and be billed; it was not retried"
)


def may_exist(exc: SeedreamError) -> SeedreamError:
    """``exc``, flagged: the submit may have created a (billed) task."""
    exc.maybe_submitted = True
    return exc


def sanitized(task: Task) -> Task:
    """The task with its server text redacted: a server that echoes the Authorization header
    must not put the key into the history, a status line or an error."""
    if task.error_message is None and task.error_code is None:
        return task
    code = None if task.error_code is None else redact(task.error_code)[:200]
    message = None if task.error_message is None else redact(task.error_message)[:2000]
    return dataclasses.replace(task, error_code=code, error_message=message)


class SeenIds:
    """Task ids a client's submits received (the newest ``_SEEN_IDS_KEPT``)."""

    def __init__(self) -> None:
        self._ids: dict[str, None] = {}  # insertion-ordered: the oldest go first

    def add(self, task_id: str) -> bool:
        """Remember ``task_id``; False when it was already there."""
        if task_id in self._ids:
            return False
        self._ids[task_id] = None
        while len(self._ids) > _SEEN_IDS_KEPT:
            self._ids.pop(next(iter(self._ids)))
        return True


def request_of(request: GenerationRequest | None, params: dict[str, Any]) -> GenerationRequest:
    """What a submit sends: ``request`` (``params`` as changes to it), or one built from them;
    validated before anything is sent."""
    if request is None:
        return GenerationRequest(**params)
    return request.with_changes(**params) if params else request


def submitted_task(data: Any, seen: SeenIds) -> Task:
    """The task a submit answer names; an answer without a usable id, or with an id an
    earlier submit received, may hide a billed task (``maybe_submitted``)."""
    try:
        task = sanitized(Task.from_json(data))
    except ValueError as exc:
        raise may_exist(
            APIError(f"the submit answer has no usable task id ({exc})" + MAY_EXIST)
        ) from None
    if not seen.add(task.task_id):  # two submits, one id: whose task is it?
        raise may_exist(
            APIError(
                f"the server answered this submit with task id {task.task_id}, which an "
                "earlier submit already received; the task this submit created may exist "
                "under another id" + MAY_EXIST
            )
        )
    return task


def lost_connection(
    exc: httpx.HTTPError, base_url: str, idempotent: bool, task_id: str | None
) -> SeedreamError:
    """The error for a connection lost mid-request: a read is retried; a submit may exist."""
    reason = redact(str(exc)) or type(exc).__name__
    if idempotent:
        return ConnectionFailedError(
            f"lost the connection to {base_url} ({reason})", task_id=task_id
        )
    return ConnectionFailedError(
        f"the connection failed after the submit was sent ({reason}). The task may exist "
        "and be billed, so it was not retried; its id never arrived.",
        task_id=task_id,
        maybe_submitted=True,
    )


class SendTrace:
    """What httpcore says it did for the requests of one call (its ``trace`` extension): did
    any request's headers start to leave this machine? Without trace events (a mock transport)
    nothing can be told, and the answer is "maybe"."""

    def __init__(self) -> None:
        self.events = 0
        self.headers_started = False

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        self.events += 1
        if name.endswith("send_request_headers.started"):
            self.headers_started = True

    @property
    def provably_unsent(self) -> bool:
        return self.events > 0 and not self.headers_started


SEND_TRACE: contextvars.ContextVar[SendTrace | None] = contextvars.ContextVar(
    "seedream_send_trace", default=None
)


def trace_extensions() -> dict[str, Any]:
    """The request extensions that report to the call's ``SendTrace``, if one is set."""
    trace = SEND_TRACE.get()
    return {"trace": trace} if trace is not None else {}


class MalformedJSON(ValueError):
    """The body is not JSON we can read (invalid, or nested deep enough to break a parser)."""


def retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (a number or an HTTP date), else None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        return max(0.0, parsed.timestamp() - time.time())


def parse_json(response: httpx.Response) -> Any:
    """The body as JSON; ``MalformedJSON`` for anything else (a 200 000-level nesting too)."""
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise MalformedJSON(type(exc).__name__) from None


def error_detail(response: httpx.Response) -> tuple[str, str | None]:
    """(message, code) from any known error envelope, else the start of the body."""
    try:
        body = parse_json(response)
    except MalformedJSON:
        text = response.text.strip()[:_MAX_ERROR_TEXT] or response.reason_phrase
        return redact(text), None
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = error.get("message") or error.get("msg") or body.get("message")
            code = error.get("code") or error.get("type")
            text = str(message or response.reason_phrase)[:_MAX_ERROR_TEXT]
            return redact(text), str(code)[:80] if code else None
        if isinstance(error, str):
            code = body.get("code")
            return redact(error[:_MAX_ERROR_TEXT]), str(code)[:80] if code else None
    return response.reason_phrase, None


def error_from(response: httpx.Response, *, task_id: str | None = None, note: str = "") -> APIError:
    """The exception for an error answer (its class from the status code)."""
    message, code = error_detail(response)
    cls = error_for_status(response.status_code)
    return cls(
        message + note,
        status_code=response.status_code,
        code=code,
        task_id=task_id,
        retry_after=retry_after(response),
    )
