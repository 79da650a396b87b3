"""Simulated tasks: the timing model and the wire JSON of one task.

A task never ticks: its status and progress are computed from the elapsed time whenever someone
asks. It stays ``queued`` for ``queue_seconds``, is ``processing`` for ``processing_seconds``
with progress rising from 1 to 99, then is ``completed`` (or ``failed`` halfway through
processing when the ``fail`` fault chose it). Only ``cancel`` changes a task's state.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Final

from ..request import GenerationRequest

# Timing at speed 1 (seconds); everything is divided by the speed.
QUEUE_SECONDS: Final = 0.8
PROCESSING_BASE_SECONDS: Final = 1.0
SECONDS_PER_MEGAPIXEL: Final = 0.45  # per output image
MAX_PROCESSING_SECONDS: Final = 90.0
FAIL_AT_FRACTION: Final = 0.5  # a failing task fails this far into processing
QUOTA_PER_USD: Final = 500_000  # the provider's quota unit, for refunded_quota
FAILURE_MESSAGE: Final = (
    "image generation failed: the model could not render this request "
    "(simulated failure injected by the 'fail' fault)"
)


def new_task_id() -> str:
    """An id shaped like the provider's: ``task-wave`` + unix seconds + 10 hex digits."""
    return f"task-wave{int(time.time())}{secrets.token_hex(5)}"


def durations(
    request: GenerationRequest,
    image_count: int,
    size: tuple[int, int],
    *,
    speed: float,
    queue_seconds: float | None,
) -> tuple[float, float]:
    """(queued, processing) seconds for one task: more pixels and more images take longer."""
    megapixels = size[0] * size[1] / 1e6
    processing = PROCESSING_BASE_SECONDS + image_count * megapixels * SECONDS_PER_MEGAPIXEL
    processing = min(processing, MAX_PROCESSING_SECONDS) / speed
    queued = QUEUE_SECONDS / speed if queue_seconds is None else queue_seconds
    return queued, processing


@dataclass
class SimTask:
    """Server-side state of one simulated task."""

    task_id: str
    request: GenerationRequest
    seed: int  # the seed actually used (a random one when the request said -1)
    ratio: str  # the resolved aspect ratio ("auto" resolved against the first reference)
    size: tuple[int, int]
    image_count: int
    queue_seconds: float
    processing_seconds: float
    fail: bool = False
    expired: bool = False
    created_wall: float = field(default_factory=time.time)
    created_mono: float = field(default_factory=time.monotonic)
    cancelled_offset: float | None = None  # seconds after creation
    changed: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def end_offset(self) -> float:
        """Seconds after creation at which the task reaches its terminal state on its own."""
        fraction = FAIL_AT_FRACTION if self.fail else 1.0
        return self.queue_seconds + self.processing_seconds * fraction

    @property
    def output_format(self) -> str:
        return self.request.output_format

    @property
    def extension(self) -> str:
        return "png" if self.output_format == "png" else "jpeg"

    def elapsed(self, now_mono: float | None = None) -> float:
        return (time.monotonic() if now_mono is None else now_mono) - self.created_mono

    def status(self, now_mono: float | None = None) -> tuple[str, int]:
        """(status, progress) at ``now_mono`` (monotonic clock)."""
        if self.cancelled_offset is not None:
            return "cancelled", 0
        elapsed = self.elapsed(now_mono)
        if elapsed < self.queue_seconds:
            return "queued", 0
        if elapsed >= self.end_offset:
            return ("failed", 0) if self.fail else ("completed", 100)
        fraction = (elapsed - self.queue_seconds) / max(self.processing_seconds, 1e-9)
        return "processing", max(1, min(99, int(fraction * 100)))

    def terminal_offset(self) -> float:
        if self.cancelled_offset is not None:
            return self.cancelled_offset
        return self.end_offset

    def completed_wall(self) -> float:
        return self.created_wall + self.terminal_offset()

    def expires_at(self, url_ttl: float) -> float:
        """Wall-clock second at which the result URLs stop working."""
        if self.expired:
            return self.completed_wall()
        return self.completed_wall() + url_ttl

    def refunded_quota(self) -> int:
        return round(self.request.estimate_cost() * QUOTA_PER_USD)

    def image_path(self, index: int) -> str:
        return f"/files/{self.task_id}/{index}.{self.extension}"

    def to_json(
        self, base_url: str, url_ttl: float, now_mono: float | None = None
    ) -> dict[str, Any]:
        """The task as ``GET /v1/tasks/{id}`` returns it (the provider's newest form)."""
        status, progress = self.status(now_mono)
        body: dict[str, Any] = {
            "task_id": self.task_id,
            "status": status,
            "action": self.request.action,
            "model": self.request.model,
            "progress": progress,
            "created_at": _ms(self.created_wall),
            "urls": {
                "get": f"{base_url}/v1/tasks/{self.task_id}",
                "cancel": f"{base_url}/v1/tasks/{self.task_id}/cancel",
            },
        }
        if status in ("completed", "failed", "cancelled"):
            body["completed_at"] = _ms(self.completed_wall())
        if status == "completed":
            expires = int(self.expires_at(url_ttl))
            body["result"] = {
                "images": [
                    {"url": [f"{base_url}{self.image_path(i)}"], "expires_at": expires}
                    for i in range(self.image_count)
                ]
            }
        elif status == "failed":
            body["error"] = {"message": FAILURE_MESSAGE, "code": "task_failed"}
        return body


def _ms(wall: float) -> int:
    return round(wall * 1000)
