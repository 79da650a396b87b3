"""The simulator's options, shared by the socket server and the mock transport."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import catalog
from .shapes import WireStyle
from .timing import DEFAULT_CAPACITY, DEFAULT_JITTER


@dataclass(frozen=True)
class SimConfig:
    """Simulator options (see ``seedream_jupyter.simulator.start``)."""

    speed: float = 1.0
    faults: str | None = None
    fault_seed: int = 0
    api_key: str | None = field(default=None, repr=False)
    url_ttl: float = float(catalog.RESULT_URL_TTL_SECONDS)
    queue_seconds: float | None = None
    sync_timeout: float | None = None  # default: 30 s / speed
    jitter: float = DEFAULT_JITTER
    timing_seed: int = 0
    capacity: int | None = DEFAULT_CAPACITY
    wire: str = "newest"
    cache_bytes: int = 256 * 1024 * 1024
    record_limit: int = 10_000
    verbose: bool = False
    image_side: int | None = None  # draw result images this long at most (aspect kept)
    simulator_header: bool = True  # False: answer as the real API would, without the header

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed must be > 0, got {self.speed}")
        if self.url_ttl < 0:
            raise ValueError(f"url_ttl must be >= 0, got {self.url_ttl}")
        if self.queue_seconds is not None and self.queue_seconds < 0:
            raise ValueError(f"queue_seconds must be >= 0, got {self.queue_seconds}")
        if not self.jitter >= 0:
            raise ValueError(f"jitter must be >= 0, got {self.jitter}")
        if self.capacity is not None and self.capacity < 1:
            raise ValueError(f"capacity must be >= 1 or None (unlimited), got {self.capacity}")
        if self.image_side is not None and self.image_side < 1:
            raise ValueError(f"image_side must be >= 1 or None (true size), got {self.image_side}")
        WireStyle.parse(self.wire)  # raises ValueError on a bad value

    @property
    def style(self) -> WireStyle:
        return WireStyle.parse(self.wire)
