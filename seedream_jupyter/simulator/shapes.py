"""The JSON a task is sent as, in the provider's newest shapes or its older documented ones.

``wire=`` picks them (see ``shared/wire-examples.md``):

- ``newest`` (default): ids ``task-wave<seconds><10 hex>``, timestamps in milliseconds,
  ``urls {get, cancel}``, ``result.images[] = {url: [link], expires_at}``, one per image.
- ``legacy``: ids ``task_<ULID>``, timestamps in seconds, a ``start_time`` field once the task
  has started, no ``urls``, ``url`` a plain string, ``"videos": []`` beside the images, and a
  group as ONE images entry whose ``url`` list holds every link.
- ``envelope``: the submit answers the oldest envelope ``{"code": "success", "data": id}``.
  Combine with ``+``: ``legacy+envelope``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

from .tasks import SimTask

STYLES: Final = ("newest", "legacy", "envelope")
_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Where the ``private`` fault points result links: cloud metadata, then private networks.
PRIVATE_BASES: Final = (
    "http://169.254.169.254/latest/meta-data/iam/security-credentials",
    "http://10.0.0.1/files",
    "http://192.168.1.1/files",
)


@dataclass(frozen=True)
class WireStyle:
    legacy: bool = False
    envelope: bool = False

    @classmethod
    def parse(cls, text: str) -> WireStyle:
        parts = {part.strip() for part in text.lower().split("+") if part.strip()}
        unknown = parts - set(STYLES)
        if unknown or not parts or ("newest" in parts and len(parts) > 1):
            raise ValueError(
                f"wire must be newest, legacy, envelope or legacy+envelope, got {text!r}"
            )
        return cls(legacy="legacy" in parts, envelope="envelope" in parts)

    def describe(self) -> str:
        names = [name for name, on in (("legacy", self.legacy), ("envelope", self.envelope)) if on]
        return "+".join(names) or "newest"


def new_task_id(style: WireStyle) -> str:
    if style.legacy:
        return "task_" + _ulid()
    return f"task-wave{int(time.time())}{secrets.token_hex(5)}"


def _ulid() -> str:
    """26 Crockford base32 characters: 48 bits of milliseconds, then 80 random bits."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _stamp(wall: float, style: WireStyle) -> int:
    return int(wall) if style.legacy else round(wall * 1000)


def submitted(task: SimTask, style: WireStyle, task_id: str | None = None) -> dict[str, Any]:
    """The submit answer (``task_id`` overrides the id sent, for the ``reuse`` fault)."""
    shown = task_id or task.task_id
    if style.envelope:
        return {"code": "success", "data": shown}
    return {
        "task_id": shown,
        "model": task.request.model,
        "action": task.request.action,
        "status": "queued",
        "created_at": _stamp(task.created_wall, style),
        "progress": 0,
    }


def image_links(task: SimTask, base_url: str) -> list[str]:
    if "private" in task.faults:
        return [
            f"{PRIVATE_BASES[i % len(PRIVATE_BASES)]}/{task.task_id}/{i}.{task.extension}"
            for i in range(task.image_count)
        ]
    return [f"{base_url}{task.image_path(i)}" for i in range(task.image_count)]


def task_json(
    task: SimTask, base_url: str, url_ttl: float, style: WireStyle, now_mono: float | None = None
) -> dict[str, Any]:
    """The task as ``GET /v1/tasks/{id}`` returns it."""
    status, progress = task.status(now_mono)
    body: dict[str, Any] = {
        "task_id": task.task_id,
        "status": status,
        "action": task.request.action,
        "model": task.request.model,
        "progress": progress,
        "created_at": _stamp(task.created_wall, style),
    }
    if style.legacy:
        if status != "queued" and task.cancelled_offset is None:
            body["start_time"] = _stamp(task.started_wall(), style)
    else:
        body["urls"] = {
            "get": f"{base_url}/v1/tasks/{task.task_id}",
            "cancel": f"{base_url}/v1/tasks/{task.task_id}/cancel",
        }
    if status in ("completed", "failed", "cancelled"):
        body["completed_at"] = _stamp(task.completed_wall(), style)
    if status == "completed":
        body["result"] = _result(task, base_url, url_ttl, style)
    elif status == "failed":
        body["error"] = {"message": task.error_message(), "code": "task_failed"}
    return body


def _result(task: SimTask, base_url: str, url_ttl: float, style: WireStyle) -> dict[str, Any]:
    expires = int(task.expires_at(url_ttl))
    links = image_links(task, base_url)
    if not style.legacy:
        return {"images": [{"url": [link], "expires_at": expires} for link in links]}
    if task.request.action == "group" and links:
        images = [{"url": links, "expires_at": expires}]
    else:
        images = [{"url": link, "expires_at": expires} for link in links]
    return {"images": images, "videos": []}
