"""Server-side state of one simulated task, and its status computed from the clock.

A task never ticks: its status and progress are computed from the elapsed time whenever someone
asks. It is ``queued`` until its slot starts (see ``timing``), ``processing`` for
``processing_seconds`` with progress rising from 1 to 99, then ``completed`` (or ``failed``
halfway through processing when a ``fail`` / ``echokey`` fault chose it). Only ``cancel``
changes a task's state.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Final

from .checker import SimRequest
from .timing import Slot

FAIL_AT_FRACTION: Final = 0.5  # a failing task fails this far into processing
QUOTA_PER_USD: Final = 500_000  # the provider's quota unit, for refunded_quota
FAILURE_MESSAGE: Final = (
    "image generation failed: the model could not render this request "
    "(simulated failure injected by the 'fail' fault)"
)
FAILING_FAULTS: Final = ("fail", "echokey")
TERMINAL: Final = ("completed", "failed", "cancelled")


@dataclass
class SimTask:
    task_id: str
    number: int  # creation order, from 0
    request: SimRequest  # large data: URIs in image_urls are kept as small JPEG copies
    body: dict[str, Any]  # the JSON received, data: URIs shortened
    seed: int  # the seed actually used (a random one when the request said -1)
    ratio: str  # the resolved aspect ratio ("auto" resolved against the first reference)
    size: tuple[int, int]
    image_count: int  # images in the result (faults may make it differ from the request)
    processing_seconds: float
    slot: Slot
    faults: frozenset[str] = frozenset()  # faults decided at creation
    authorization: str = field(default="", repr=False)  # echoed only by the echokey fault
    created_wall: float = field(default_factory=time.time)
    created_mono: float = field(default_factory=time.monotonic)
    cancelled_offset: float | None = None  # seconds after creation
    changed: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def failing(self) -> bool:
        return any(name in self.faults for name in FAILING_FAULTS)

    @property
    def expired(self) -> bool:
        return "expired" in self.faults

    @property
    def queue_seconds(self) -> float:
        """Seconds queued: the queue time plus any wait for a free processing slot."""
        return self.slot.start - self.created_mono

    @property
    def end_offset(self) -> float:
        """Seconds after creation at which the task reaches its terminal state on its own."""
        fraction = FAIL_AT_FRACTION if self.failing else 1.0
        return self.queue_seconds + self.processing_seconds * fraction

    @property
    def extension(self) -> str:
        return "png" if self.request.output_format == "png" else "jpeg"

    def elapsed(self, now_mono: float | None = None) -> float:
        return (time.monotonic() if now_mono is None else now_mono) - self.created_mono

    def status(self, now_mono: float | None = None) -> tuple[str, int]:
        """(status, progress) at ``now_mono`` (monotonic clock)."""
        if self.cancelled_offset is not None:
            return "cancelled", 0
        elapsed = self.elapsed(now_mono)
        queued = self.queue_seconds
        if elapsed < queued:
            return "queued", 0
        if elapsed >= self.end_offset:
            return ("failed", 0) if self.failing else ("completed", 100)
        fraction = (elapsed - queued) / max(self.processing_seconds, 1e-9)
        return "processing", max(1, min(99, int(fraction * 100)))

    def started_wall(self) -> float:
        return self.created_wall + self.queue_seconds

    def completed_wall(self) -> float:
        if self.cancelled_offset is not None:
            return self.created_wall + self.cancelled_offset
        return self.created_wall + self.end_offset

    def expires_at(self, url_ttl: float) -> float:
        """Wall-clock second at which the result URLs stop working."""
        if self.expired:
            return self.completed_wall()
        return self.completed_wall() + url_ttl

    def error_message(self) -> str:
        if "echokey" in self.faults:  # a server that leaks the caller's key back
            return f"upstream rejected the request sent with Authorization: {self.authorization}"
        return FAILURE_MESSAGE

    def refunded_quota(self) -> int:
        return round(self.request.cost() * QUOTA_PER_USD)

    def image_path(self, index: int) -> str:
        return f"/files/{self.task_id}/{index}.{self.extension}"
