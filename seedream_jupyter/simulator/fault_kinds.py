"""Every fault the simulator can inject: where it may apply, by default, and what it does."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Final

SCOPES: Final = ("submit", "sync", "get", "cancel", "download")
API_SCOPES: Final = ("submit", "sync", "get", "cancel")
CREATE_SCOPES: Final = ("submit", "sync")  # faults decided when a task is created


@dataclass(frozen=True)
class FaultKind:
    """One fault: where it may apply, where it applies by default, and what it does."""

    name: str
    allowed: tuple[str, ...]
    default: tuple[str, ...]
    help: str
    default_seconds: float | None = None
    takes_seconds: bool = False


def _task(name: str, help: str) -> FaultKind:
    return FaultKind(name, CREATE_SCOPES, CREATE_SCOPES, f"decided when a task is created: {help}")


def _download(name: str, help: str) -> FaultKind:
    return FaultKind(name, ("download",), ("download",), help)


_KINDS: Final = (
    FaultKind(
        "429",
        SCOPES,
        API_SCOPES,
        "HTTP 429 rate_limit_exceeded with a Retry-After header (~SECONDS, default 1). "
        "The request is not processed (a faulted submit creates no task).",
        default_seconds=1.0,
        takes_seconds=True,
    ),
    FaultKind("500", SCOPES, API_SCOPES, "HTTP 500 internal_error; the request is not processed."),
    FaultKind("502", SCOPES, API_SCOPES, "HTTP 502 bad_gateway; the request is not processed."),
    FaultKind(
        "503",
        SCOPES,
        API_SCOPES,
        "HTTP 503 service_unavailable (Retry-After only when ~SECONDS is given); "
        "the request is not processed.",
        takes_seconds=True,
    ),
    FaultKind(
        "slow",
        SCOPES,
        SCOPES,
        "the response is delayed by ~SECONDS (default 2) before anything else happens.",
        default_seconds=2.0,
        takes_seconds=True,
    ),
    FaultKind(
        "slowheaders",
        SCOPES,
        SCOPES,
        "the request IS processed, then the status line and headers go out one byte every "
        "~SECONDS (default 1): a server that never finishes its headers in time.",
        default_seconds=1.0,
        takes_seconds=True,
    ),
    FaultKind(
        "drop",
        SCOPES,
        API_SCOPES,
        "the request IS processed (a submit creates its task), then the connection is "
        "closed after the headers and half of the body.",
    ),
    FaultKind(
        "malformed",
        API_SCOPES,
        API_SCOPES,
        "the request IS processed, and the answer is HTTP 200 with a body that is not "
        "valid JSON (half the real body plus garbage).",
    ),
    FaultKind(
        "nested",
        API_SCOPES,
        API_SCOPES,
        "the request IS processed, and the answer is HTTP 200 with a JSON body nested "
        "200 000 levels deep ([[[[...]]]]), which naive parsers cannot read.",
    ),
    FaultKind(
        "reuse",
        ("submit",),
        ("submit",),
        "the submit creates its task but answers with the id of the task created before it "
        "(two submits, one id); the first task of a simulator is answered honestly.",
    ),
    FaultKind(
        "wrongid",
        ("get",),
        ("get",),
        "a poll answers with another existing task's JSON (a different task_id).",
    ),
    _task(
        "fail",
        "it ends with status 'failed' and error {code: 'task_failed', message} halfway "
        "through processing.",
    ),
    _task(
        "expired",
        "its result URLs are already expired (expires_at = completed_at) and every download "
        "answers HTTP 410 url_expired.",
    ),
    _task("zero", "it completes with result.images: [] (no image at all)."),
    _task("surplus", "it completes with two images more than were asked for."),
    _task(
        "echokey",
        "it fails, and its error.message echoes the submit's Authorization header verbatim "
        "(a server that leaks the key back).",
    ),
    _task(
        "private",
        "its result links point at link-local / private addresses (169.254.169.254, "
        "10.0.0.1, 192.168.1.1) instead of the simulator.",
    ),
    _download(
        "truncate",
        "the image download sends the full Content-Length but only half the bytes, "
        "then closes the connection.",
    ),
    _download(
        "endless",
        "the image answer has no Content-Length (chunked) and a body that never ends: "
        "garbage until the client disconnects.",
    ),
    _download(
        "bomb",
        "the image is a PNG of a few KB whose header claims 60000 x 60000 pixels "
        "(a decompression bomb).",
    ),
    _download(
        "badimage",
        "HTTP 200 image/jpeg whose body is a valid JPEG header followed by noise (undecodable).",
    ),
)
FAULTS: Final[dict[str, FaultKind]] = {kind.name: kind for kind in _KINDS}

# Status faults answer instead of the real handler; the rest act around it.
STATUS_FAULTS: Final = {"429": 429, "500": 500, "502": 502, "503": 503}
TASK_FAULTS: Final = tuple(name for name, kind in FAULTS.items() if kind.allowed == CREATE_SCOPES)
BODY_FAULTS: Final = ("endless", "bomb", "badimage")  # replace a download's body, in this order


def help_text() -> str:
    """A plain-text table of every fault, for ``--help``."""
    lines = []
    for kind in FAULTS.values():
        lines.append(f"  {kind.name:<12} [default scopes: {'+'.join(kind.default)}]")
        lines.extend(
            textwrap.wrap(kind.help, 90, initial_indent=" " * 15, subsequent_indent=" " * 15)
        )
    return "\n".join(lines)
