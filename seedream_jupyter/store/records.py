"""What the history holds, as read back: task records, image records, spend rows, prune reports."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import _formats, catalog
from ..errors import ValidationError
from ..request import GenerationRequest
from ..task import ImageRef, Task, TaskStatus
from .files import restore_inputs
from .schema import LOST, PENDING_STATUSES, UNCONFIRMED, UNCONFIRMED_MESSAGE


@dataclass(frozen=True)
class ImageRecord:
    """One result image: its (expiring) link and, once saved, its file."""

    index: int
    url: str | None
    expires_at: float | None
    path: Path | None
    sha256: str | None
    width: int | None
    height: int | None
    bytes: int | None
    refused: str | None = None  # why it was not kept (a bomb, undecodable); never fetched again

    @property
    def on_disk(self) -> bool:
        return self.path is not None and self.path.is_file()

    @property
    def url_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= time.time()


@dataclass(frozen=True)
class TaskRecord:
    """One task as the history knows it. ``request`` is rebuilt from ``payload`` on access."""

    task_id: str
    payload: Mapping[str, Any]
    model: str | None
    action: str | None
    prompt: str | None
    seed: int | None
    status: str
    progress: int
    error_code: str | None
    error_message: str | None
    cost_usd: float
    base_url: str | None
    simulated: bool
    created_at: float
    updated_at: float
    completed_at: float | None
    images: tuple[ImageRecord, ...] = ()
    home: Path = field(default=Path(), repr=False, compare=False)
    # from the ratings and tags tables (issue 14): image index -> stars / tags
    ratings: Mapping[int, int] = field(default_factory=dict)
    tags: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    parent_task_id: str | None = None  # the task whose image this one was made from
    intent_id: str | None = None  # the write-ahead row this task grew from
    n_returned: int | None = None  # images the server returned (None: not completed yet)
    warning: str | None = None  # what was odd: surplus images, a reused task id

    @cached_property
    def request(self) -> GenerationRequest:
        """The request, validated again; a row an older catalog cannot validate is rebuilt as is."""
        payload = restore_inputs(self.payload, self.home)
        try:
            return GenerationRequest.from_payload(payload)
        except (ValidationError, TypeError, ValueError):
            return _unvalidated_request(payload, self.model, self.action)

    @property
    def is_pending(self) -> bool:
        return self.status in PENDING_STATUSES

    @property
    def is_unconfirmed(self) -> bool:
        """A submit whose task id never arrived: it may exist and be billed."""
        return self.status == UNCONFIRMED

    @property
    def status_text(self) -> str:
        """The status as a person should read it: a completed task whose images are not all
        on disk says so (``sj.resume()`` fetches them while their links work)."""
        if self.is_unconfirmed:
            return f"{self.status} ({UNCONFIRMED_MESSAGE})"
        if self.status == "completed" and self.kept and not self.all_on_disk:
            saved = sum(img.on_disk for img in self.kept)
            return f"completed, {saved} of {len(self.kept)} saved: run sj.resume()"
        return self.status

    @property
    def kept(self) -> tuple[ImageRecord, ...]:
        """The images meant to be on disk (refused ones are not)."""
        return tuple(img for img in self.images if img.refused is None)

    @property
    def refused(self) -> tuple[ImageRecord, ...]:
        return tuple(img for img in self.images if img.refused is not None)

    @property
    def paths(self) -> list[Path]:
        """Saved image files that exist, in order."""
        return [img.path for img in self.images if img.path is not None and img.path.is_file()]

    @property
    def all_on_disk(self) -> bool:
        """Every kept image is saved (and there is at least one)."""
        return bool(self.kept) and all(img.on_disk for img in self.kept)

    @property
    def urls(self) -> list[str]:
        return [img.url for img in self.images if img.url]

    def to_task(self) -> Task:
        """A ``Task`` with the last state seen (for building a Result)."""
        return Task(
            task_id=self.task_id,
            status=TaskStatus.parse(
                self.status if self.status not in (LOST, UNCONFIRMED) else "failed"
            ),
            progress=self.progress,
            model=self.model,
            action=self.action,
            created_at=self.created_at,
            completed_at=self.completed_at,
            images=tuple(ImageRef(img.url or "", img.expires_at) for img in self.images),
            error_code=self.error_code,
            error_message=self.error_message,
        )


@dataclass(frozen=True)
class SpendRow:
    """Estimated spend for one day (local time), model and kind (real or simulated)."""

    day: str
    model: str
    simulated: bool
    tasks: int
    images: int
    cost_usd: float


@dataclass(frozen=True)
class PruneReport:
    tasks: int
    images: int
    files: int
    bytes_freed: int
    dry_run: bool = False

    def __str__(self) -> str:
        verb = "would free" if self.dry_run else "freed"
        return (
            f"{verb} {_formats.megabytes(self.bytes_freed)}: {self.tasks} tasks, "
            f"{self.images} image rows, {self.files} files"
        )


def server_of(base_url: str | None) -> str | None:
    """The host[:port] that identifies a server (lower-case)."""
    if not base_url:
        return None
    parts = urlsplit(base_url)
    return (parts.netloc or base_url).lower()


def _unvalidated_request(
    payload: Mapping[str, Any], model: str | None, action: str | None
) -> GenerationRequest:
    """A GenerationRequest built without validation, for rows the catalog no longer accepts."""
    values: dict[str, Any] = {
        f.name: f.default for f in fields(GenerationRequest) if f.default is not MISSING
    }
    values["prompt"] = ""
    for f in fields(GenerationRequest):
        if f.name in payload:
            values[f.name] = payload[f.name]
    values["model"] = payload.get("model") or model or catalog.DEFAULT_MODEL
    values["action"] = payload.get("action") or action or "generate"
    values["image_urls"] = tuple(payload.get("image_urls") or ())
    request = object.__new__(GenerationRequest)
    for name, value in values.items():
        object.__setattr__(request, name, value)
    return request
