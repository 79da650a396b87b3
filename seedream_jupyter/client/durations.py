"""How long tasks take: what a client has learned, per task shape, in seconds at speed 1.

A task's duration depends mostly on its model, action, resolution and image count
(``TaskShape``). Each finished task leaves a ``Sample``: the seconds from its submit to its
completion, and, when the poller saw its progress, how long processing took at the rate the
progress rose (``processing``) and how far the completion came after that rate's prediction
(``tail``: a service that sits at 99 % while it uploads has a positive tail). ``Durations``
keeps the recent samples of each shape, from this session and from the history on disk, in
seconds at simulator speed 1, so that a fast simulator never misleads at another speed; an
``Expectation`` is the view of one shape in the current server's seconds.
"""

from __future__ import annotations

import bisect
import math
import statistics
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from ..request import GenerationRequest

# Samples kept per shape: enough for quantiles and a replay, few enough that a change in the
# service (a slower day, a new model version) is learned within a few dozen tasks.
KEEP_PER_SHAPE: Final = 32
# Processing times of one shape spread by about this much (log sd) until enough are seen:
# the provider's times vary by tens of percent; the simulator's default jitter is 0.25.
DEFAULT_SPREAD: Final = 0.3
# A spread measured on fewer processing times than this is noise: DEFAULT_SPREAD instead.
MIN_SAMPLES_FOR_SPREAD: Final = 4
MIN_SPREAD: Final = 0.05  # even identical-looking tasks differ a little; never trust to 0
MAD_TO_SD: Final = 1.4826  # the median absolute deviation of a normal law, as its sd
REMEMBERED_SUBMITS: Final = 1024  # recent submits whose wait may still come


@dataclass(frozen=True)
class TaskShape:
    """What a task's duration depends on: model, action, resolution and images asked for."""

    model: str
    action: str
    resolution: str
    images: int

    @classmethod
    def of(cls, request: GenerationRequest) -> TaskShape:
        return cls(request.model, request.action, request.resolution, request.output_count)


@dataclass(frozen=True)
class Sample:
    """One finished task, in seconds: submit to completion; processing at the rate its
    progress rose, and the completion's lag behind that rate's prediction, when seen."""

    total: float
    processing: float | None = None
    tail: float | None = None

    def scaled(self, factor: float) -> Sample:
        def times(value: float | None) -> float | None:
            return None if value is None else value * factor

        return Sample(self.total * factor, times(self.processing), times(self.tail))


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile of sorted, non-empty ``values`` (linear between neighbours)."""
    position = min(max(q, 0.0), 1.0) * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def log_spread(values: list[float]) -> float:
    """A robust log standard deviation (median absolute deviation of the logs)."""
    logs = [math.log(v) for v in values if v > 0]
    if len(logs) < MIN_SAMPLES_FOR_SPREAD:
        return DEFAULT_SPREAD
    middle = statistics.median(logs)
    return max(MIN_SPREAD, MAD_TO_SD * statistics.median(abs(x - middle) for x in logs))


class Expectation:
    """How long tasks of one shape take, in the current server's seconds."""

    def __init__(self, samples: Iterable[Sample]) -> None:
        self.samples = tuple(samples)
        if not self.samples:
            raise ValueError("an expectation needs at least one sample")
        self.totals = sorted(s.total for s in self.samples)
        known = [s.processing for s in self.samples if s.processing is not None]
        self.processing: float | None = statistics.median(known) if known else None
        self.processing_spread = log_spread(known)
        tails = [s.tail for s in self.samples if s.tail is not None]
        self.tail = statistics.median(tails) if tails else 0.0
        self.memo: dict[Any, Any] = {}  # plans made from this expectation (see polling)
        self.lock = threading.Lock()

    @property
    def median(self) -> float:
        return quantile(self.totals, 0.5)

    def totals_above(self, elapsed: float) -> list[float]:
        """The learned totals longer than ``elapsed``, sorted."""
        return self.totals[bisect.bisect_right(self.totals, elapsed) :]

    def __repr__(self) -> str:
        processing = "?" if self.processing is None else f"{self.processing:.2f}"
        return (
            f"<Expectation of {len(self.samples)} tasks: median {self.median:.2f} s, "
            f"processing {processing} s, tail {self.tail:.2f} s>"
        )


class Durations:
    """The recent samples of each shape, in seconds at speed 1. Thread-safe."""

    def __init__(self, keep: int = KEEP_PER_SHAPE) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._samples: dict[TaskShape, deque[Sample]] = {}
        self._cache: dict[tuple[TaskShape, float], Expectation] = {}

    def observe(self, shape: TaskShape, sample: Sample) -> None:
        """Learn one finished task (seconds at speed 1); nonsense is ignored."""
        if not math.isfinite(sample.total) or sample.total <= 0:
            return
        processing, tail = sample.processing, sample.tail
        if processing is not None and not (
            math.isfinite(processing) and 0 < processing <= 2 * sample.total
        ):
            processing = tail = None
        if tail is not None and not (math.isfinite(tail) and abs(tail) < sample.total):
            tail = None
        with self._lock:
            kept = self._samples.setdefault(shape, deque(maxlen=self._keep))
            kept.append(Sample(sample.total, processing, tail))
            self._cache = {key: e for key, e in self._cache.items() if key[0] != shape}

    def load(self, rows: Iterable[tuple[TaskShape, float]]) -> int:
        """Learn (shape, seconds from submit to completion) rows, oldest first (the history
        on disk); returns how many were usable."""
        count = 0
        for shape, seconds in rows:
            if isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0:
                self.observe(shape, Sample(float(seconds)))
                count += 1
        return count

    def samples(self, shape: TaskShape) -> list[Sample]:
        with self._lock:
            return list(self._samples.get(shape, ()))

    def expect(self, shape: TaskShape | None, scale: float = 1.0) -> Expectation | None:
        """What is known of ``shape``, in seconds of a server ``1/scale`` times as fast as
        speed 1; None when nothing is."""
        if shape is None:
            return None
        with self._lock:
            cached = self._cache.get((shape, scale))
            if cached is None and shape in self._samples:
                cached = Expectation(sample.scaled(scale) for sample in self._samples[shape])
                self._cache[(shape, scale)] = cached
        return cached

    def __len__(self) -> int:
        with self._lock:
            return sum(len(kept) for kept in self._samples.values())

    def __repr__(self) -> str:
        with self._lock:
            shapes = len(self._samples)
        return f"<Durations: {len(self)} tasks of {shapes} shapes>"


class Submits:
    """The shape of each recent submit and when it reached the server, for its wait."""

    def __init__(self, keep: int = REMEMBERED_SUBMITS) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._known: OrderedDict[str, tuple[TaskShape, float]] = OrderedDict()

    def remember(self, task_id: str, shape: TaskShape, sent: float, *, held: bool = False) -> None:
        """A submit sent at ``sent`` (monotonic) answered now: it arrived in between (a held
        sync submit arrived when sent: the server kept only its answer back)."""
        arrived = sent if held else (sent + time.monotonic()) / 2
        with self._lock:
            self._known[task_id] = (shape, arrived)
            while len(self._known) > self._keep:
                self._known.popitem(last=False)

    def get(self, task_id: str) -> tuple[TaskShape, float] | None:
        with self._lock:
            return self._known.get(task_id)
