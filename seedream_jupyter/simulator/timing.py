"""How long a task queues and processes: means, seeded jitter, and a processing capacity.

Means at speed 1 (everything is divided by the speed): queued 0.8 s, then processing for
1 s + 0.45 s per output megapixel (at most 90 s). Each task's two durations are multiplied by
lognormal factors of mean 1 and spread ``jitter`` (sigma; 0 = exact), drawn from
(``timing_seed``, task number, which duration): the same seed and submit order give the same
durations on every run. ``queue_seconds`` replaces the queue time exactly (no speed, no jitter).

At most ``capacity`` tasks process at once (None = unlimited). A task whose queue time is over
waits, still queued, until a slot frees; slots go in submit order. The scheduler assigns each
task its start time when it is submitted and revises the waiting ones only when one of them is
cancelled, so a task's status is still computed from the clock whenever someone asks.
"""

from __future__ import annotations

import heapq
import math
import random
import threading
from dataclasses import dataclass
from typing import Final

QUEUE_SECONDS: Final = 0.8
PROCESSING_BASE_SECONDS: Final = 1.0
SECONDS_PER_MEGAPIXEL: Final = 0.45  # per output image
MAX_PROCESSING_SECONDS: Final = 90.0
DEFAULT_JITTER: Final = 0.25
DEFAULT_CAPACITY: Final = 16
FACTOR_RANGE: Final = (0.25, 4.0)  # a far tail would make one task absurdly fast or slow


@dataclass(frozen=True)
class TimingModel:
    speed: float
    jitter: float = DEFAULT_JITTER
    timing_seed: int = 0
    queue_seconds: float | None = None

    def factor(self, number: int, which: str) -> float:
        """A lognormal factor of mean 1, the same for the same (seed, task number, which)."""
        if self.jitter <= 0:
            return 1.0
        rng = random.Random(f"{self.timing_seed}|{number}|{which}")
        value = math.exp(rng.gauss(-(self.jitter**2) / 2, self.jitter))
        return min(max(value, FACTOR_RANGE[0]), FACTOR_RANGE[1])

    def durations(self, number: int, size: tuple[int, int], images: int) -> tuple[float, float]:
        """(queued, processing) seconds of the ``number``-th task: more pixels take longer."""
        megapixels = size[0] * size[1] / 1e6
        processing = PROCESSING_BASE_SECONDS + images * megapixels * SECONDS_PER_MEGAPIXEL
        processing = min(processing, MAX_PROCESSING_SECONDS)
        processing *= self.factor(number, "processing") / self.speed
        if self.queue_seconds is not None:
            return self.queue_seconds, processing
        return QUEUE_SECONDS * self.factor(number, "queue") / self.speed, processing


@dataclass(eq=False)
class Slot:
    """One task's claim on processing capacity (monotonic-clock seconds)."""

    ready: float  # its queue time is over
    busy: float  # how long it processes (until it completes or fails)
    owner: str = ""  # the task id
    start: float = 0.0  # when it starts processing

    @property
    def end(self) -> float:
        return self.start + self.busy


class Scheduler:
    """Gives tasks their processing start, at most ``capacity`` at a time. Thread-safe."""

    def __init__(self, capacity: int | None) -> None:
        if capacity is not None and capacity < 1:
            raise ValueError(f"capacity must be >= 1 or None, got {capacity}")
        self.capacity = capacity
        self._lock = threading.Lock()
        self._slots: list[Slot] = []  # admitted and not yet ended, in submit order
        self._free: list[float] = [0.0] * (capacity or 0)  # heap: when each slot frees

    def admit(self, slot: Slot, now: float) -> None:
        if self.capacity is None:
            slot.start = slot.ready
            return
        with self._lock:
            self._slots = [s for s in self._slots if s.end > now]
            frees = heapq.heappop(self._free)
            slot.start = max(slot.ready, frees)
            heapq.heappush(self._free, slot.end)
            self._slots.append(slot)

    def withdraw(self, slot: Slot, now: float) -> list[Slot]:
        """Forget a task cancelled before it started; returns the waiting slots that moved."""
        if self.capacity is None:
            return []
        with self._lock:
            if slot not in self._slots:
                return []
            self._slots.remove(slot)
            running = [s for s in self._slots if s.start <= now < s.end]
            waiting = [s for s in self._slots if s.start > now]
            self._free = [s.end for s in running] + [now] * (self.capacity - len(running))
            heapq.heapify(self._free)
            moved = []
            for other in waiting:
                start = max(other.ready, heapq.heappop(self._free))
                if start != other.start:
                    other.start = start
                    moved.append(other)
                heapq.heappush(self._free, other.end)
            self._slots = running + waiting
            return moved
