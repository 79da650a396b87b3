"""When to look at a task again: the polling policy.

The plain loop the provider documents looks every 2 s: it learns of a completion 1 s late on
average (up to 2 s), with one request per 2 s of task. This policy does better on both counts
from three sources (figures: ``benchmarks/RESULTS.md``):

1. **What tasks of the same shape took before** (``durations``): from this session and the
   history on disk, in seconds at simulator speed 1.
2. **The server's progress**: during processing it rises with time, so two readings give the
   rate and so the completion, within a progress step; one reading plus the learned
   processing time gives an estimate whose spread is known.
3. **A plan checked against the loop**: the looks that progress cannot place (the first, and
   every look at a task that reports no progress) go at a quantile of the learned durations,
   chosen by replaying the shape's recent tasks: the quantile with the lowest latency whose
   replay makes no more requests than the plain loop on those same tasks.

With nothing learned, the first look is where the loop's is (2 s), and with no progress either
the policy is the loop itself. No gap is ever longer than the top of the provider's guidance.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from .. import catalog
from ..task import Task, TaskStatus
from .durations import Durations, Expectation, Sample, TaskShape, quantile

# The provider documents 2-5 s between looks: 5 s is the longest gap it sanctions, so no gap
# is longer (a task that ends before every estimate is still seen within 5 s).
PROVIDER_MAX_INTERVAL_SECONDS: Final = 5.0
# A plan replays each task against the others: with one task there are no others, so looks
# go at the median duration ("just before the expected completion").
MIN_SAMPLES_TO_PLAN: Final = 2
DEFAULT_QUANTILE: Final = 0.5
# Candidate plans, as quantiles of the learned durations: from early (the first look mostly
# reads progress) to late (it mostly finds the task done).
PLAN_QUANTILES: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
# A plan must save this share of the loop's requests in its replay: a margin for the tasks to
# come being unlike the recent ones (at 0.95, 1K tasks, whose loop often needs one look only,
# came out at 1.07x the loop's requests on the simulator; at 0.9 at 0.86-0.97x).
REQUEST_HEADROOM: Final = 0.9
# Two progress readings this far apart (percentage points) give a rate worth trusting: the
# floor to whole percent then errs by a third of the span at most.
MIN_PROGRESS_SPAN: Final = 3
# An estimate more uncertain than this (sd, seconds at speed 1) is refined by a probe part way
# to it when the wait is longer than the loop's interval (the loop would look meanwhile
# anyway). The probe makes the next estimate exact within a progress step; below this, aiming
# straight at the estimate loses little (a Monte Carlo on the simulator's timing gave the same
# figures from 0.1 to 0.3 s; 0.15 s is the middle).
PROBE_SIGMA_SECONDS: Final = 0.15
# The probe lands this far towards the estimate: near the end, yet still before it.
PROBE_FRACTION: Final = 0.6
# Aim this many sds past an estimate: later costs latency, sooner costs a look (Monte Carlo
# on the simulator's timing: 0.5 gave the lowest mean latency, 0.5-1.5 the same requests).
FINISH_SIGMAS: Final = 0.5
# Network and timer slack after an estimated completion; not scaled by a simulator's speed.
SLACK_SECONDS: Final = 0.01
# A task still queued past every learned duration is looked at again after this share of its
# processing time: if it started just then, it is this far along.
QUEUED_LOOK_FRACTION: Final = 0.6
MAX_REPLAY_LOOKS: Final = 60  # a guard for the replay loop: 5 minutes of 5 s gaps
MAX_TASK_AGE_SECONDS: Final = 86_400.0  # a created_at further off than this is not trusted
# One reading tells the processing time only when far enough from the end, and when the
# learned tail is small beside what was left (else its noise swamps the estimate).
ONE_READING_MAX_PROGRESS: Final = 90
TAIL_TOLERANCE: Final = 0.25
CENSORED_PROGRESS: Final = 99  # a reading of 99 says "at least 99": it tells no rate


@dataclass(frozen=True)
class Estimate:
    """When to look to find the task completed (monotonic), and its uncertainty (sd)."""

    aim: float
    sigma: float


@dataclass(frozen=True)
class Look:
    at: float  # monotonic seconds
    status: TaskStatus
    progress: int


class ProgressTracker:
    """What the poller has seen of one task since its submit (monotonic seconds)."""

    def __init__(
        self, started: float, expectation: Expectation | None = None, *, plan: float | None = None
    ) -> None:
        self.started = started  # when the submit reached the server (best guess)
        self.expectation = expectation
        self.plan = plan  # the quantile for looks progress cannot place; None: planned
        self.looks: list[Look] = []
        self.queued_until = started  # processing began after the last look that saw it queued
        self.misses = 0  # looks aimed at the completion that found the task still running
        self.aimed = False  # the next look is aimed at the completion
        self._seen: tuple[TaskStatus, int] | None = None

    @property
    def samples(self) -> list[tuple[float, int]]:
        """(time, progress) readings while processing that tell the rate: 0 and 99-100 do
        not (services sit at 0 before they report, and at 99 while they upload)."""
        return [
            (look.at, look.progress)
            for look in self.looks
            if look.status is TaskStatus.PROCESSING and 0 < look.progress < CENSORED_PROGRESS
        ]

    def begin(self, task: Task, expectation: Expectation | None, *, adopt: bool) -> None:
        """At the first answer: the expectation in the seconds of the speed the server just
        announced, and for a task this client did not submit (``adopt``) its creation time."""
        self.expectation = expectation
        if adopt:
            self.started = created_here(task, self.started)

    def update(self, task: Task, now: float | None = None) -> bool:
        """Record one look; True when the status or progress changed."""
        self.observe(task.status, task.progress, time.monotonic() if now is None else now)
        changed = self._seen != (task.status, task.progress)
        self._seen = (task.status, task.progress)
        return changed

    def observe(self, status: TaskStatus, progress: int, now: float) -> None:
        if self.aimed and not status.is_terminal:
            self.misses += 1
        self.aimed = False
        if status is TaskStatus.QUEUED:
            self.queued_until = now
        self.looks.append(Look(now, status, progress))

    def _tail(self) -> float:
        return self.expectation.tail if self.expectation is not None else 0.0

    def estimate(self) -> Estimate | None:
        """When the task should complete, from its progress readings; None without any."""
        readings = self.samples
        if not readings:
            return None
        (t0, p0), (t1, p1) = readings[0], readings[-1]
        if p1 - p0 >= MIN_PROGRESS_SPAN and t1 > t0:
            rate = (p1 - p0) / (t1 - t0)  # percent per second
            # Progress is floored to whole percent: a reading's middle is p + 0.5.
            eta = t1 + (100 - p1 - 0.5) / rate + self._tail()
            # Each reading is off by up to a step; the error grows with the extrapolation.
            sigma = (0.3 + 0.4 * (100 - p1) / (p1 - p0)) / rate
            return Estimate(eta + FINISH_SIGMAS * sigma, sigma)
        # One reading: processing began after the last queued look, so it runs at least this
        # fast and ends by ``latest``; the processing time learned for the shape says when.
        fraction = min(0.995, (p1 + 0.5) / 100)
        tail = self._tail()
        latest = t1 + (1 - fraction) / fraction * (t1 - self.queued_until) + max(0.0, tail)
        expectation = self.expectation
        if expectation is None or expectation.processing is None:
            return Estimate(latest, (latest - t1) / 2)
        eta = t1 + (1 - fraction) * expectation.processing + tail
        sigma = (1 - fraction) * expectation.processing * expectation.processing_spread
        return Estimate(min(latest, eta + FINISH_SIGMAS * sigma), sigma)

    def outcome(self, task: Task, now: float) -> Sample | None:
        """What this completed task teaches, in this client's seconds (None if not completed)."""
        if task.status is not TaskStatus.COMPLETED:
            return None
        running = [look.at for look in self.looks if not look.status.is_terminal]
        total = now - self.started
        if task.created_at is not None and task.completed_at is not None:
            served = task.completed_at - task.created_at
            if served > 0:  # the server's own account: between the last two looks
                total = min(max(served, max(running, default=self.started) - self.started), total)
        end = self.started + total
        readings = self.samples
        if len(readings) >= 2 and readings[-1][1] - readings[0][1] >= MIN_PROGRESS_SPAN:
            (t0, p0), (t1, p1) = readings[0], readings[-1]
            rate = (p1 - p0) / (t1 - t0)
            return Sample(total, 100 / rate, end - (t1 + (100 - p1 - 0.5) / rate))
        if readings and readings[-1][1] <= ONE_READING_MAX_PROGRESS:
            t1, p1 = readings[-1]
            left, tail = end - t1, self._tail()
            if abs(tail) <= TAIL_TOLERANCE * left:  # else the tail's noise would swamp it
                return Sample(total, (left - tail) / (1 - (p1 + 0.5) / 100))
        return Sample(total)

    def teach(self, durations: Durations, shape: TaskShape, task: Task, scale: float) -> None:
        """Teach ``durations`` this completed task, in seconds at speed 1."""
        sample = self.outcome(task, time.monotonic())
        if sample is not None:
            durations.observe(shape, sample.scaled(1 / scale))


def created_here(task: Task, default: float) -> float:
    """When a task someone else submitted was created, on this monotonic clock."""
    if task.created_at is None:
        return default
    age = time.time() - task.created_at
    if not 0 <= age <= MAX_TASK_AGE_SECONDS:  # a clock far off: not worth trusting
        return default
    return time.monotonic() - age


@dataclass(frozen=True)
class PollPolicy:
    """When to look again: learned durations and progress first, the provider's loop last.

    ``first_delay``: the first look when nothing is learned for the task's shape, and the
    interval while nothing is known: the provider's 2 s, where the plain loop looks.
    ``min_interval``: the shortest gap; after each look aimed at the completion that finds
    the task still running it doubles (``growth``), so a wrong estimate costs few requests.
    ``max_interval``: the longest gap, the top of the provider's 2-5 s guidance.
    ``loop_interval``: the plain loop's, which plans are checked against.
    """

    first_delay: float = catalog.PROVIDER_POLL_INTERVAL_SECONDS
    # A tenth of the shortest task the provider documents (1 s): looks closer than that
    # learn little from progress and only load the server.
    min_interval: float = 0.1
    max_interval: float = PROVIDER_MAX_INTERVAL_SECONDS
    growth: float = 2.0
    eta_margin: float = SLACK_SECONDS
    loop_interval: float = catalog.PROVIDER_POLL_INTERVAL_SECONDS
    scale: float = 1.0  # this server's seconds per second at speed 1

    def scaled(self, factor: float) -> PollPolicy:
        """The same policy for a server ``1/factor`` times as fast (a fast simulator)."""
        return dataclasses.replace(
            self,
            first_delay=self.first_delay * factor,
            min_interval=self.min_interval * factor,
            max_interval=self.max_interval * factor,
            loop_interval=self.loop_interval * factor,
            scale=self.scale * factor,
        )

    def next_delay(self, tracker: ProgressTracker, now: float | None = None) -> float:
        """Seconds from ``now`` to the next look at the task ``tracker`` follows."""
        now = time.monotonic() if now is None else now
        due, aimed = self._due(tracker, now)
        tracker.aimed = aimed
        floor = self.min_interval * self.growth ** max(0, tracker.misses - 1)
        if not tracker.looks:
            floor = 0.0  # a first look planned for a moment already past: look now
        return min(self.max_interval, max(floor, due - now))

    def plan(self, expectation: Expectation) -> float:
        """The quantile of the learned durations at which looks progress cannot place go
        (planned by replay, once per expectation and policy)."""
        with expectation.lock:
            planned = expectation.memo.get(self)
        if planned is None:
            planned = _plan(self, expectation)
            with expectation.lock:
                expectation.memo[self] = planned
        return float(planned)

    def _due(self, tracker: ProgressTracker, now: float) -> tuple[float, bool]:
        """When to look next (monotonic), and whether that look is aimed at the completion."""
        expectation = tracker.expectation
        q = DEFAULT_QUANTILE
        if expectation is not None:
            q = self.plan(expectation) if tracker.plan is None else tracker.plan
        if not tracker.looks:
            # Never counted as a miss: a first look planned early is meant to read progress.
            if expectation is None:
                return tracker.started + self.first_delay, False
            return tracker.started + quantile(expectation.totals, q), False
        estimate = tracker.estimate()
        if estimate is not None:
            wait = estimate.aim - now
            if estimate.sigma > PROBE_SIGMA_SECONDS * self.scale and wait > self.loop_interval:
                return now + PROBE_FRACTION * wait, False
            return estimate.aim + self.eta_margin, True
        if expectation is not None:
            later = expectation.totals_above(now - tracker.started)
            queued = tracker.looks[-1].status is TaskStatus.QUEUED
            if later:
                return tracker.started + quantile(later, q), not queued
            if queued and expectation.processing is not None:
                return now + QUEUED_LOOK_FRACTION * expectation.processing, False
        return now + self.first_delay, False  # nothing known: the provider's loop


def _plan(policy: PollPolicy, expectation: Expectation) -> float:
    """The candidate quantile with the lowest mean latency over the shape's recent tasks
    among those whose replay needs no more requests than the plain loop (else the frugal).

    Each task is replayed with an expectation made of the others (leave one out), as a new
    task meets one: replaying a task against itself would find it suspiciously fast."""
    samples = expectation.samples
    if len(samples) < MIN_SAMPLES_TO_PLAN:
        return DEFAULT_QUANTILE
    tasks = _replayable(expectation)
    others = [Expectation(samples[:i] + samples[i + 1 :]) for i in range(len(samples))]
    loop = statistics.fmean(math.ceil(task[-1] / policy.loop_interval) for task in tasks)
    best: tuple[float, float] | None = None  # (latency, quantile)
    frugal: tuple[float, float] | None = None  # (looks, quantile)
    for q in PLAN_QUANTILES:
        replays = [_replay(policy, other, q, task) for other, task in zip(others, tasks)]
        looks = statistics.fmean(n for n, _ in replays)
        latency = statistics.fmean(late for _, late in replays)
        if looks <= loop * REQUEST_HEADROOM and (best is None or latency < best[0]):
            best = (latency, q)
        if frugal is None or looks < frugal[0]:
            frugal = (looks, q)
    chosen = best or frugal
    return chosen[1] if chosen is not None else DEFAULT_QUANTILE


Replayable = tuple[float, float | None, float]  # seconds queued, processing, in all


def _replayable(expectation: Expectation) -> list[Replayable]:
    """The shape's recent tasks as (queued, processing, total) seconds; a positive tail is
    the time at 99 % between processing and the completion. Missing parts are the medians of
    the others; with no processing time at all, a task shows no progress."""
    processing, tail = expectation.processing, expectation.tail
    known = [
        s.total - s.processing - max(0.0, s.tail or 0.0)
        for s in expectation.samples
        if s.processing is not None
    ]
    queue = max(0.0, statistics.median(known)) if known else 0.0
    tasks: list[Replayable] = []
    for s in expectation.samples:
        own = s.processing if s.processing is not None else processing
        lag = s.tail if s.tail is not None else tail
        if own is None:
            tasks.append((0.0, None, s.total))
            continue
        own = min(own, s.total)
        queued = s.total - own - max(0.0, lag) if s.processing is not None else queue
        tasks.append((min(max(0.0, queued), s.total - own), own, s.total))
    return tasks


def _replay(
    policy: PollPolicy, expectation: Expectation, q: float, task: Replayable
) -> tuple[int, float]:
    """(looks, latency) of the policy, planned at quantile ``q``, on one replayed task."""
    status_at = _replayed_status(*task)
    tracker = ProgressTracker(0.0, expectation, plan=q)
    now = 0.0
    total = task[-1]
    for looks in range(1, MAX_REPLAY_LOOKS + 1):
        now += policy.next_delay(tracker, now)
        status, progress = status_at(now)
        if status is TaskStatus.COMPLETED:
            return looks, now - total
        tracker.observe(status, progress, now)
    return MAX_REPLAY_LOOKS, now - total


def _replayed_status(
    queued: float, processing: float | None, total: float
) -> Callable[[float], tuple[TaskStatus, int]]:
    """A task that queues, then progresses linearly (stalling at 99 % through a positive
    tail), and completes at ``total``; with ``processing`` None it shows no progress."""

    def status_at(t: float) -> tuple[TaskStatus, int]:
        if t >= total:
            return TaskStatus.COMPLETED, 100
        if t < queued:
            return TaskStatus.QUEUED, 0
        if processing is None:
            return TaskStatus.PROCESSING, 0
        fraction = (t - queued) / max(processing, 1e-9)
        return TaskStatus.PROCESSING, max(1, min(99, int(fraction * 100)))

    return status_at
