"""A request and its reply, free of any transport: the socket server and the mock transport
both turn their own requests into ``Incoming`` and carry out a ``Reply``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

JSON_TYPE: Final = "application/json"


@dataclass
class Incoming:
    method: str
    target: str  # the path and query as received: "/v1/tasks/sync?timeout=3"
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class Reply:
    """What to answer, and how a transport must deliver it (the hostile faults)."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    head_pace: float | None = None  # slowheaders: seconds between bytes of the head
    cut: bool = False  # drop / truncate: promise the whole body, send half, close
    endless: bool = False  # no Content-Length; ``body`` then garbage forever
    close: bool = False  # close the connection afterwards
