"""The timing model and the capacity scheduler, without a server."""

from __future__ import annotations

import statistics

import pytest

from seedream_jupyter.simulator.timing import FACTOR_RANGE, Scheduler, Slot, TimingModel


def test_jitter_factors_have_mean_one_and_are_seeded() -> None:
    model = TimingModel(speed=1, jitter=0.25, timing_seed=5)
    factors = [model.factor(n, "processing") for n in range(4000)]
    assert statistics.fmean(factors) == pytest.approx(1.0, abs=0.02)
    assert statistics.pstdev(factors) == pytest.approx(0.25, rel=0.15)
    assert factors == [model.factor(n, "processing") for n in range(4000)]
    assert factors[:50] != [TimingModel(1, 0.25, 6).factor(n, "processing") for n in range(50)]
    assert all(FACTOR_RANGE[0] <= f <= FACTOR_RANGE[1] for f in factors)


def test_no_jitter_means_the_exact_means() -> None:
    model = TimingModel(speed=2, jitter=0)
    queued, processing = model.durations(7, (2048, 2048), 4)
    assert queued == 0.4 and processing == pytest.approx((1 + 4 * 4.194304 * 0.45) / 2)
    assert model.durations(0, (6240, 2656), 15)[1] == 45.0  # capped at 90 s, then halved
    assert TimingModel(speed=2, jitter=0.5, queue_seconds=3).durations(1, (10, 10), 1)[0] == 3


def test_slots_go_first_come_first_served() -> None:
    scheduler = Scheduler(2)
    slots = [Slot(ready=0.1 * i, busy=1.0, owner=str(i)) for i in range(5)]
    for slot in slots:
        scheduler.admit(slot, now=0.0)
    assert [s.start for s in slots] == pytest.approx([0.0, 0.1, 1.0, 1.1, 2.0])


def test_unlimited_capacity_starts_every_slot_when_ready() -> None:
    scheduler = Scheduler(None)
    slots = [Slot(ready=0.5, busy=9.0) for _ in range(100)]
    for slot in slots:
        scheduler.admit(slot, now=0.0)
    assert {s.start for s in slots} == {0.5}


def test_withdrawing_a_waiting_slot_moves_the_later_ones_up() -> None:
    scheduler = Scheduler(1)
    first, second, third = (Slot(ready=0.0, busy=1.0, owner=n) for n in "abc")
    for slot in (first, second, third):
        scheduler.admit(slot, now=0.0)
    assert third.start == 2.0
    moved = scheduler.withdraw(second, now=0.5)
    assert moved == [third] and third.start == 1.0 and first.start == 0.0
    assert scheduler.withdraw(second, now=0.6) == []  # already gone
    fourth = Slot(ready=0.0, busy=1.0)
    scheduler.admit(fourth, now=0.7)
    assert fourth.start == 2.0


def test_a_freed_slot_is_taken_at_once_by_a_task_already_waiting() -> None:
    scheduler = Scheduler(1)
    running, waiting, late = Slot(0.0, 2.0), Slot(0.0, 1.0), Slot(0.0, 1.0)
    for slot in (running, waiting, late):
        scheduler.admit(slot, now=0.0)
    scheduler.withdraw(waiting, now=1.0)
    assert late.start == 2.0  # still behind the running one, never in the past


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Scheduler(0)
