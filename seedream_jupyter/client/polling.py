"""When to look at a task again: the polling policy.

The server's progress gives a completion estimate; the next poll lands just after it, so
images arrive a fraction of a second after completion with about as many requests as a plain
loop at ``max_interval`` (see benchmarks/run.py).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from ..task import Task, TaskStatus


@dataclass(frozen=True)
class PollPolicy:
    """Adaptive polling: a progress-based ETA, capped at ``max_interval``.

    The server's progress gives a completion estimate; the next poll lands just after it,
    so images arrive a fraction of a second after completion with about as many requests
    as a plain loop at ``max_interval`` (see benchmarks/bench_polling.py).
    """

    first_delay: float = 2.0
    min_interval: float = 0.25
    max_interval: float = 2.0
    growth: float = 2.0
    eta_margin: float = 0.1

    def scaled(self, factor: float) -> PollPolicy:
        """The same policy with its fixed intervals multiplied by ``factor``."""
        return dataclasses.replace(
            self,
            first_delay=self.first_delay * factor,
            min_interval=self.min_interval * factor,
            max_interval=self.max_interval * factor,
            eta_margin=self.eta_margin * factor,
        )

    def next_delay(self, previous: float | None, samples: list[tuple[float, int]]) -> float:
        """Seconds to the next poll, from the last delay and (monotonic time, progress) samples.

        The first sample may be a bound on when processing began, at progress 0.
        """
        if previous is None:
            return self.first_delay
        eta = self._eta(samples)
        if eta is not None:
            if eta > 0:
                return max(self.min_interval, min(self.max_interval, eta + self.eta_margin))
            return self.min_interval  # overdue: look again soon
        return min(self.max_interval, max(self.min_interval, previous * self.growth))

    @staticmethod
    def _eta(samples: list[tuple[float, int]]) -> float | None:
        if len(samples) < 2:
            return None
        (t0, p0), (t1, p1) = samples[0], samples[-1]
        if p1 <= p0 or t1 <= t0:
            return None
        rate = (p1 - p0) / (t1 - t0)
        return (100 - p1) / rate - (time.monotonic() - t1)


class ProgressTracker:
    """What the poller has seen of one task: the last (status, progress) and ETA samples."""

    def __init__(self, started: float) -> None:
        self.samples: list[tuple[float, int]] = []
        self._last_queued_at = started  # processing began after the task was last seen queued
        self._seen: tuple[TaskStatus, int] | None = None

    def update(self, task: Task) -> bool:
        """Record one look; True when the status or progress changed."""
        now = time.monotonic()
        if task.status is TaskStatus.QUEUED:
            self._last_queued_at = now
        elif task.status is TaskStatus.PROCESSING and 0 < task.progress < 100:
            if not self.samples:
                self.samples.append((self._last_queued_at, 0))
            elif len(self.samples) == 2 and self.samples[0][1] == 0:
                self.samples.pop(0)  # two real samples now: drop the bound
            self.samples.append((now, task.progress))
        changed = self._seen != (task.status, task.progress)
        self._seen = (task.status, task.progress)
        return changed
