"""Task: tolerant parsing of every task shape the API is known to send.

Accepted variants (see shared/wire-examples.md): ``url`` as a string or a list,
timestamps in seconds or milliseconds, ``task-wave…`` and ``task_…`` ids,
unknown fields, the old submit envelope ``{"code": "success", "data": id}``,
and the sync endpoint's ``poll_url``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .errors import TaskCancelledError, TaskFailedError

_MS_THRESHOLD = 1e12  # a timestamp above this is in milliseconds


class TaskStatus(str, enum.Enum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @classmethod
    def parse(cls, value: object) -> TaskStatus:
        text = str(value or "queued").strip().lower()
        return _STATUS_ALIASES.get(text, cls.PROCESSING)

    def __str__(self) -> str:
        return self.value


_TERMINAL = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})
_STATUS_ALIASES: dict[str, TaskStatus] = {s.value: s for s in TaskStatus} | {
    "pending": TaskStatus.QUEUED,
    "submitted": TaskStatus.QUEUED,
    "running": TaskStatus.PROCESSING,
    "in_progress": TaskStatus.PROCESSING,
    "succeeded": TaskStatus.COMPLETED,
    "success": TaskStatus.COMPLETED,
    "complete": TaskStatus.COMPLETED,
    "error": TaskStatus.FAILED,
    "canceled": TaskStatus.CANCELLED,
    # terminal words some gateways use: treated as failures, not polled forever
    "expired": TaskStatus.FAILED,
    "rejected": TaskStatus.FAILED,
    "timeout": TaskStatus.FAILED,
    "timed_out": TaskStatus.FAILED,
}


def parse_timestamp(value: object) -> float | None:
    """Seconds since the epoch from seconds or milliseconds (numbers or numeric strings)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number / 1000.0 if number > _MS_THRESHOLD else number


@dataclass(frozen=True)
class ImageRef:
    """One result image link and when it stops working (seconds since the epoch)."""

    url: str
    expires_at: float | None = None


def _image_refs(result: object) -> tuple[ImageRef, ...]:
    if not isinstance(result, Mapping):
        return ()
    entries = result.get("images") or []
    if isinstance(entries, (str, Mapping)):
        entries = [entries]
    refs: list[ImageRef] = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, str):
            refs.append(ImageRef(entry))
            continue
        if not isinstance(entry, Mapping):
            continue
        expires = parse_timestamp(entry.get("expires_at"))
        urls = entry.get("url", entry.get("urls"))
        for url in urls if isinstance(urls, list) else [urls]:
            if isinstance(url, str) and url:
                refs.append(ImageRef(url, expires))
    return tuple(refs)


@dataclass(frozen=True)
class Task:
    """The state of one task as last seen on the server."""

    task_id: str
    status: TaskStatus = TaskStatus.QUEUED
    progress: int = 0
    model: str | None = None
    action: str | None = None
    created_at: float | None = None
    completed_at: float | None = None
    images: tuple[ImageRef, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    poll_url: str | None = None
    refunded: bool | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def urls(self) -> list[str]:
        return [ref.url for ref in self.images]

    @classmethod
    def from_json(cls, data: object, *, task_id: str | None = None) -> Task:
        """Parse any known task shape; ``task_id`` fills in when the body lacks one."""
        if isinstance(data, str) and data:
            return cls(task_id=_checked_id(data))
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a task object, got {type(data).__name__}")
        body: Mapping[str, Any] = data
        inner = body.get("data")
        if isinstance(inner, str) and inner and "task_id" not in body:
            # the old envelope {"code": "success", "data": "<task id>"}; another code is a refusal
            if body.get("code", "success") not in _ENVELOPE_OK:
                raise ValueError(f"the server answered code {body.get('code')!r}: {inner}")
            return cls(task_id=_checked_id(inner), raw=dict(body))
        if isinstance(inner, Mapping) and "task_id" not in body:
            body = inner
        found = _checked_id(body.get("task_id") or body.get("id") or task_id)
        status = TaskStatus.parse(body.get("status"))
        error = body.get("error")
        code = message = None
        if isinstance(error, Mapping):
            code = _opt_str(error.get("code"))
            message = _opt_str(error.get("message"))
        elif isinstance(error, str) and error:
            message = error
        try:
            progress = int(float(body.get("progress") or 0))
        except (TypeError, ValueError, OverflowError):
            progress = 0
        if status is TaskStatus.COMPLETED:
            progress = 100
        refunded = body.get("refunded")
        return cls(
            task_id=found,
            status=status,
            progress=max(0, min(100, progress)),
            model=_opt_str(body.get("model")),
            action=_opt_str(body.get("action")),
            created_at=parse_timestamp(body.get("created_at")),
            completed_at=parse_timestamp(body.get("completed_at")),
            images=_image_refs(body.get("result")),
            error_code=code,
            error_message=message,
            poll_url=_opt_str(body.get("poll_url")),
            refunded=refunded if isinstance(refunded, bool) else None,
            raw=dict(body),
        )


def raise_for_terminal(task: Task) -> None:
    """Raise TaskFailedError / TaskCancelledError for a failed / cancelled task; else nothing.

    The one place a task's end becomes an exception (client, history and resume all use it).
    """
    if task.status is TaskStatus.FAILED:
        raise TaskFailedError(task.task_id, task.error_code, task.error_message)
    if task.status is TaskStatus.CANCELLED:
        raise TaskCancelledError(task.task_id)


# Ids become URL paths and file names: letters, digits, '.', '_' and '-' only, and never a
# path segment such as '.' or '..'.
_ENVELOPE_OK: Final = ("success", "ok", 0, 200, "0", "200")
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def is_task_id(value: object) -> bool:
    """True for a string that is safe as one URL path segment and one file name."""
    return isinstance(value, str) and _TASK_ID.fullmatch(value) is not None


def _checked_id(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("the response carries no task_id")
    if not is_task_id(value):
        raise ValueError(f"the task id {value[:60]!r} has unexpected characters")
    return value


def _opt_str(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
