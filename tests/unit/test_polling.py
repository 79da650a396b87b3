"""The poller: learned durations, progress estimates, plans checked against the plain loop."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import httpx
import pytest

from seedream_jupyter import catalog, simulator
from seedream_jupyter.client import Client, PollPolicy
from seedream_jupyter.client.durations import (
    DEFAULT_SPREAD,
    Durations,
    Expectation,
    Sample,
    Submits,
    TaskShape,
    quantile,
)
from seedream_jupyter.client.polling import (
    PROVIDER_MAX_INTERVAL_SECONDS,
    ProgressTracker,
    created_here,
)
from seedream_jupyter.request import GenerationRequest
from seedream_jupyter.task import Task, TaskStatus

SHAPE = TaskShape("doubao-seedream-4.5", "generate", "2K", 1)
P = TaskStatus.PROCESSING


def linear_task(queued: float, processing: float) -> Any:
    """(status, progress) at t of a task that queues, then progresses linearly."""

    def at(t: float) -> tuple[TaskStatus, int]:
        if t < queued:
            return TaskStatus.QUEUED, 0
        if t >= queued + processing:
            return TaskStatus.COMPLETED, 100
        return P, max(1, min(99, int((t - queued) / processing * 100)))

    return at


def follow(
    policy: PollPolicy, expectation: Expectation | None, at: Any, limit: int = 100
) -> tuple[int, float, ProgressTracker]:
    """Run the policy on a fake clock: (looks, time the completion was seen, tracker)."""
    tracker = ProgressTracker(0.0, expectation)
    now = 0.0
    for looks in range(1, limit + 1):
        delay = policy.next_delay(tracker, now)
        assert 0 <= delay <= policy.max_interval
        now += delay
        status, progress = at(now)
        if status is TaskStatus.COMPLETED:
            return looks, now, tracker
        tracker.observe(status, progress, now)
    raise AssertionError("never completed")


def loop_looks(total: float) -> int:
    return math.ceil(total / catalog.PROVIDER_POLL_INTERVAL_SECONDS)


def learned(tasks: list[tuple[float, float]], shape: TaskShape = SHAPE) -> Durations:
    durations = Durations()
    for queued, processing in tasks:
        durations.observe(shape, Sample(queued + processing, processing, 0.0))
    return durations


def jittered(rng: random.Random, n: int, queue: float = 0.8, work: float = 2.9) -> list[Any]:
    def factor() -> float:
        return min(4.0, max(0.25, math.exp(rng.gauss(-0.03, 0.25))))

    return [(queue * factor(), work * factor()) for _ in range(n)]


# -- the policy's bounds ----------------------------------------------------------------------


def test_defaults_follow_the_providers_guidance() -> None:
    policy = PollPolicy()
    assert policy.first_delay == policy.loop_interval == catalog.PROVIDER_POLL_INTERVAL_SECONDS
    assert 0 < policy.min_interval < policy.first_delay
    assert policy.max_interval == PROVIDER_MAX_INTERVAL_SECONDS == 5.0


def test_with_nothing_known_it_is_the_providers_loop() -> None:
    policy = PollPolicy()
    tracker = ProgressTracker(0.0)
    now = 0.0
    for _ in range(5):  # queued, no progress: looks every 2 s, like the loop
        now += policy.next_delay(tracker, now)
        tracker.observe(TaskStatus.QUEUED, 0, now)
    assert [look.at for look in tracker.looks] == pytest.approx([2, 4, 6, 8, 10])


@pytest.mark.parametrize("total", [0.5, 3.0, 40.0, 200.0])
def test_no_gap_is_longer_than_the_providers_longest(total: float) -> None:
    rng = random.Random(1)
    expectation = learned(jittered(rng, 12)).expect(SHAPE)
    _, seen, tracker = follow(PollPolicy(), expectation, linear_task(total / 4, total * 3 / 4))
    times = [0.0, *(look.at for look in tracker.looks), seen]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) <= PROVIDER_MAX_INTERVAL_SECONDS + 1e-9


def test_a_wrong_estimate_backs_off() -> None:
    """Progress that stalls at 98 % for a minute: the aimed looks that miss double their gap."""
    policy = PollPolicy()

    def stalls(t: float) -> tuple[TaskStatus, int]:
        if t < 1.0:
            return P, max(1, int(t * 98))
        return (P, 98) if t < 60 else (TaskStatus.COMPLETED, 100)

    looks, seen, _ = follow(policy, None, stalls)
    assert seen >= 60
    assert looks < 60 / catalog.PROVIDER_POLL_INTERVAL_SECONDS  # fewer than the loop's 30


def test_scaled_policy_keeps_pace_with_a_fast_simulator() -> None:
    fast = PollPolicy().scaled(0.1)
    assert fast.first_delay == pytest.approx(0.2)
    assert fast.max_interval == pytest.approx(0.5)
    assert fast.loop_interval == pytest.approx(0.2)
    assert fast.eta_margin == PollPolicy().eta_margin  # network slack is not scaled


# -- progress estimates -----------------------------------------------------------------------


def test_two_readings_give_the_completion_within_a_step() -> None:
    tracker = ProgressTracker(0.0)
    tracker.observe(P, 20, 1.0)
    tracker.observe(P, 60, 3.0)  # 20 %/s: done at 5.0 s
    estimate = tracker.estimate()
    assert estimate is not None
    assert 4.95 <= estimate.aim <= 5.1
    assert estimate.sigma < 0.05


def test_one_reading_uses_the_learned_processing_time() -> None:
    expectation = Expectation([Sample(4.0, 3.0, 0.0)] * 5)
    tracker = ProgressTracker(0.0, expectation)
    tracker.observe(P, 50, 2.5)  # half of 3 s left
    estimate = tracker.estimate()
    assert estimate is not None
    assert 3.9 <= estimate.aim <= 4.3


def test_one_reading_without_history_is_bounded_by_the_queue() -> None:
    tracker = ProgressTracker(0.0)
    tracker.observe(TaskStatus.QUEUED, 0, 1.0)
    tracker.observe(P, 50, 2.0)  # started after 1.0 s: at most 1 s more
    estimate = tracker.estimate()
    assert estimate is not None
    assert estimate.aim <= 3.0


@pytest.mark.parametrize("progress", [0, 99])
def test_readings_that_tell_no_rate_are_ignored(progress: int) -> None:
    tracker = ProgressTracker(0.0)
    tracker.observe(P, progress, 1.0)
    tracker.observe(P, progress, 2.0)
    assert tracker.samples == []
    assert tracker.estimate() is None


def test_a_learned_tail_moves_the_estimate() -> None:
    """A service that sits at 99 % while it uploads: the lag is learned and aimed past."""

    def aim(tail: float) -> float:
        tracker = ProgressTracker(0.0, Expectation([Sample(5.0, 3.0, tail)] * 5))
        tracker.observe(P, 20, 1.0)
        tracker.observe(P, 60, 2.2)
        estimate = tracker.estimate()
        assert estimate is not None
        return estimate.aim

    assert aim(0.0) == pytest.approx(2.2 + 39.5 / (40 / 1.2), abs=0.05)
    assert aim(1.5) - aim(0.0) == pytest.approx(1.5)


# -- learning ---------------------------------------------------------------------------------


def test_outcome_learns_total_processing_and_tail() -> None:
    tracker = ProgressTracker(100.0)
    tracker.observe(P, 10, 101.5)
    tracker.observe(P, 60, 104.0)  # 20 %/s: processing 5 s, the rate says done at 106.0
    done = Task("t", TaskStatus.COMPLETED, 100, created_at=5000.0, completed_at=5006.3)
    sample = tracker.outcome(done, 106.5)
    assert sample is not None
    assert sample.total == pytest.approx(6.3)  # the server's own account
    assert sample.processing == pytest.approx(5.0)
    assert sample.tail == pytest.approx(0.3 + 0.025, abs=0.01)


def test_outcome_of_a_failed_task_teaches_nothing() -> None:
    tracker = ProgressTracker(0.0)
    assert tracker.outcome(Task("t", TaskStatus.FAILED), 3.0) is None


def test_durations_are_kept_at_speed_one_and_scaled_on_use() -> None:
    durations = Durations()
    durations.observe(SHAPE, Sample(0.4, 0.3).scaled(10))  # seen on a 10x simulator
    assert durations.samples(SHAPE) == [Sample(4.0, 3.0)]
    fast = durations.expect(SHAPE, 0.1)
    assert fast is not None and fast.median == pytest.approx(0.4)
    real = durations.expect(SHAPE)
    assert real is not None and real.median == pytest.approx(4.0)
    assert durations.expect(TaskShape("doubao-seedream-4.0", "generate", "1K", 1)) is None


def test_durations_ignore_nonsense_and_keep_the_newest() -> None:
    durations = Durations(keep=3)
    for bad in (Sample(-1.0), Sample(math.nan), Sample(0.0)):
        durations.observe(SHAPE, bad)
    assert durations.samples(SHAPE) == []
    durations.observe(SHAPE, Sample(2.0, 50.0, 0.1))  # processing longer than possible
    assert durations.samples(SHAPE) == [Sample(2.0)]
    for total in (3.0, 4.0, 5.0):
        durations.observe(SHAPE, Sample(total))
    assert [s.total for s in durations.samples(SHAPE)] == [3.0, 4.0, 5.0]


def test_expectation_spread_and_quantiles() -> None:
    few = Expectation([Sample(4.0, 3.0)])
    assert few.processing_spread == DEFAULT_SPREAD
    many = Expectation([Sample(4.0 + i / 10, 3.0 + i / 10) for i in range(10)])
    assert 0.01 < many.processing_spread < DEFAULT_SPREAD
    assert quantile([1.0, 2.0, 3.0], 0.5) == 2.0
    assert quantile([1.0, 3.0], 0.25) == 1.5
    assert many.totals_above(4.45) == pytest.approx([4.5, 4.6, 4.7, 4.8, 4.9])


def test_history_rows_seed_durations() -> None:
    durations = Durations()
    loaded = durations.load([(SHAPE, 3.5), (SHAPE, 4.5), (SHAPE, -2.0), (SHAPE, math.inf)])
    assert loaded == 2
    expectation = durations.expect(SHAPE)
    assert expectation is not None and expectation.median == pytest.approx(4.0)


def test_task_shape_of_a_request() -> None:
    group = GenerationRequest(prompt="x", model="doubao-seedream-4.5", action="group", max_images=3)
    assert TaskShape.of(group) == TaskShape("doubao-seedream-4.5", "group", "2K", 3)


def test_submits_remember_a_bounded_number() -> None:
    submits = Submits(keep=2)
    for name in ("a", "b", "c"):
        submits.remember(name, SHAPE, 1.0)
    assert submits.get("a") is None
    found = submits.get("c")
    assert found is not None and found[0] == SHAPE


def test_created_here_trusts_only_a_plausible_clock() -> None:
    import time

    assert created_here(Task("t", created_at=None), 7.0) == 7.0
    assert created_here(Task("t", created_at=time.time() + 3600), 7.0) == 7.0
    now = time.monotonic()
    assert created_here(Task("t", created_at=time.time() - 2.0), 7.0) == pytest.approx(
        now - 2, abs=0.1
    )


# -- the plan, checked against the plain loop ---------------------------------------------------


@pytest.mark.parametrize(
    ("queue", "work"), [(0.8, 1.47), (0.8, 2.9), (0.8, 8.5)], ids=["1K", "2K", "4K"]
)
def test_learned_plan_beats_the_loop_with_fewer_requests(queue: float, work: float) -> None:
    """On the simulator's timing model (lognormal jitter 0.25): after 16 tasks of a shape,
    40 new ones are seen much sooner than the loop sees them, with fewer requests."""
    rng = random.Random(7)
    durations = learned(jittered(rng, 16, queue, work))
    policy = PollPolicy()
    ours_looks = loop_total = 0
    ours_late: list[float] = []
    loop_late: list[float] = []
    for q, d in jittered(rng, 40, queue, work):
        looks, seen, tracker = follow(policy, durations.expect(SHAPE), linear_task(q, d))
        ours_looks += looks
        ours_late.append(seen - (q + d))
        loop_total += loop_looks(q + d)
        loop_late.append(loop_looks(q + d) * 2.0 - (q + d))
        done = Task("t", TaskStatus.COMPLETED, 100, created_at=0.0, completed_at=q + d)
        sample = tracker.outcome(done, seen)
        assert sample is not None
        durations.observe(SHAPE, sample)
    assert ours_looks <= loop_total
    ours_late.sort()
    loop_late.sort()
    assert ours_late[20] < 0.35 * loop_late[20]


def test_plan_is_memoised_per_policy() -> None:
    rng = random.Random(3)
    expectation = learned(jittered(rng, 10)).expect(SHAPE)
    assert expectation is not None
    policy = PollPolicy()
    first = policy.plan(expectation)
    assert policy.plan(expectation) == first
    assert policy in expectation.memo


def test_a_plan_with_no_progress_still_saves_requests() -> None:
    """A service that reports no progress: looks go at learned quantiles, fewer than the loop."""
    rng = random.Random(11)
    durations = Durations()
    for q, d in jittered(rng, 16):
        durations.observe(SHAPE, Sample(q + d))

    def silent(q: float, d: float) -> Any:
        def at(t: float) -> tuple[TaskStatus, int]:
            return (TaskStatus.COMPLETED, 100) if t >= q + d else (P, 0)

        return at

    ours = loop = 0
    for q, d in jittered(rng, 40):
        ours += follow(PollPolicy(), durations.expect(SHAPE), silent(q, d))[0]
        loop += loop_looks(q + d)
    assert ours <= loop


# -- the client, on the simulator ---------------------------------------------------------------


def test_client_learns_from_its_waits_and_plans_the_next() -> None:
    with simulator.mock(speed=20, jitter=0) as sim:
        client = Client(api_key="x", base_url=sim.url, transport=sim.transport)
        request = GenerationRequest(prompt="learn", model="doubao-seedream-4.5")
        try:
            for _ in range(3):
                task = client.submit(request)
                done = client.wait(task.task_id, timeout=30)
                assert done.status is TaskStatus.COMPLETED
            samples = client.aio.durations.samples(TaskShape.of(request))
        finally:
            client.close()
    assert len(samples) == 3
    # 2K at speed 1 takes ~3.7 s (0.8 s queued): learned at speed 1, not at the mock's 20x
    assert all(3.0 < s.total < 4.5 for s in samples)


def test_wait_after_a_submit_skips_the_pointless_first_look() -> None:
    with simulator.mock(speed=20, jitter=0) as sim:
        client = Client(api_key="x", base_url=sim.url, transport=sim.transport)
        try:
            task = client.submit(prompt="no first look", model="doubao-seedream-4.5")
            client.wait(task.task_id, timeout=30)  # not told just_submitted: it knows
            posts = [r.time for r in sim.requests if r.method == "POST"]
            gets = [r.time for r in sim.requests if r.method == "GET" and task.task_id in r.path]
        finally:
            client.close()
    # the first look waits for the policy (2 s / 20 here), not a look at once
    assert gets[0] - posts[0] >= 0.05
    assert len(gets) <= 3


def test_wait_without_a_submit_looks_at_once() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            200, json={"task_id": "task-x", "status": "completed", "progress": 100}
        )
    )
    client = Client(api_key="x", base_url="http://sim.test", transport=transport)
    try:
        assert client.wait("task-x", timeout=5).status is TaskStatus.COMPLETED
    finally:
        client.close()


def test_wait_for_a_task_submitted_elsewhere_learns_its_shape_from_request() -> None:
    with simulator.mock(speed=20, jitter=0) as sim:
        submitter = Client(api_key="x", base_url=sim.url, transport=sim.transport)
        waiter = Client(api_key="x", base_url=sim.url, transport=sim.transport)
        request = GenerationRequest(prompt="resumed", model="doubao-seedream-4.0", resolution="1K")
        try:
            task = submitter.submit(request)
            waiter._run(waiter.aio.wait(task.task_id, timeout=30, request=request))
            learned_shape = waiter.aio.durations.samples(TaskShape.of(request))
        finally:
            submitter.close()
            waiter.close()
    assert len(learned_shape) == 1
    assert 1.5 < learned_shape[0].total < 3.5  # a 1K task takes ~2.3 s at speed 1
