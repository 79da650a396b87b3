"""Reading the server's answers: error envelopes, ``Retry-After``, JSON that may be hostile.

Status codes map to exceptions in ``errors.error_for_status`` (one place); what to do about
each is the exception's ``hint`` (one place too), so nothing here adds advice to messages.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import time
from typing import Any, Final

import httpx

from ..errors import APIError, error_for_status, redact

# Status codes worth another try: rate limits and server trouble.
RETRY_STATUS: Final = frozenset({429, 500, 502, 503, 504})
_MAX_ERROR_TEXT: Final = 300


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
