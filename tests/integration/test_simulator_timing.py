"""Timing over real sockets: seeded jitter, exact timing with jitter=0, and the capacity queue."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from seedream_jupyter.simulator import SimulatorHandle, TaskState

if TYPE_CHECKING:
    from conftest import StartSimulator

BODY = {"model": "doubao-seedream-4.0", "prompt": "a lighthouse at dusk", "resolution": "1K"}
# 4.0 at 1K 1:1 is 1024 x 1024: 1 s + 0.45 s per megapixel at speed 1.
PROCESSING_1K = 1.0 + 0.45 * 1024 * 1024 / 1e6


def submit_many(sim: SimulatorHandle, count: int) -> list[str]:
    with httpx.Client(base_url=sim.url) as http:
        return [http.post("/v1/tasks", json=BODY).json()["task_id"] for _ in range(count)]


def state(sim: SimulatorHandle, task_id: str) -> TaskState:
    found = sim.task(task_id)
    assert found is not None
    return found


def started_at(task: TaskState) -> float:
    """Wall-clock second at which a task started processing."""
    created: int = task.json["created_at"]  # milliseconds
    return created / 1000 + task.queue_seconds


def wait_all(
    sim: SimulatorHandle, task_ids: list[str], timeout: float = 10
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=sim.url) as http:
        while True:
            tasks = [http.get(f"/v1/tasks/{t}").json() for t in task_ids]
            if all(t["status"] in ("completed", "failed", "cancelled") for t in tasks):
                return tasks
            assert time.monotonic() < deadline, tasks
            time.sleep(0.01)


def test_jitter_zero_gives_the_exact_means(start_simulator: StartSimulator) -> None:
    sim = start_simulator(speed=10, jitter=0)
    tasks = [state(sim, t) for t in submit_many(sim, 3)]
    for task in tasks:
        assert task.queue_seconds == pytest.approx(0.8 / 10, abs=1e-6)
        assert task.processing_seconds == pytest.approx(PROCESSING_1K / 10, abs=1e-9)


def test_jitter_spreads_durations_repeatably(start_simulator: StartSimulator) -> None:
    def processing(seed: int) -> list[float]:
        sim = start_simulator(speed=50, timing_seed=seed, capacity=None)
        return [state(sim, t).processing_seconds for t in submit_many(sim, 40)]

    first = processing(3)
    assert first == processing(3)  # same seed, same submits: same durations
    assert first != processing(4)
    assert len(set(first)) == 40
    mean = PROCESSING_1K / 50
    assert min(first) < 0.9 * mean < 1.1 * mean < max(first)
    assert sum(first) / len(first) == pytest.approx(mean, rel=0.15)


def test_queue_seconds_stays_exact_under_jitter(start_simulator: StartSimulator) -> None:
    sim = start_simulator(queue_seconds=0.5)
    queued = [state(sim, t).queue_seconds for t in submit_many(sim, 5)]
    assert queued == pytest.approx([0.5] * 5, abs=1e-6)


def test_a_queue_forms_beyond_the_capacity(start_simulator: StartSimulator) -> None:
    sim = start_simulator(speed=2, jitter=0, capacity=2, queue_seconds=0)
    task_ids = submit_many(sim, 4)
    statuses = [state(sim, t).status for t in task_ids]
    assert statuses == ["processing", "processing", "queued", "queued"]
    first, second, third, fourth = (state(sim, t) for t in task_ids)
    slot = PROCESSING_1K / 2
    assert started_at(third) == pytest.approx(started_at(first) + slot, abs=0.005)
    assert started_at(fourth) == pytest.approx(started_at(second) + slot, abs=0.005)
    done = wait_all(sim, task_ids)
    assert all(t["status"] == "completed" for t in done)


def test_no_capacity_limit_runs_everything_at_once(start_simulator: StartSimulator) -> None:
    sim = start_simulator(speed=5, jitter=0, capacity=None, queue_seconds=0)
    task_ids = submit_many(sim, 20)
    assert {state(sim, t).status for t in task_ids} == {"processing"}


def test_cancelling_a_waiting_task_moves_the_next_one_up(start_simulator: StartSimulator) -> None:
    sim = start_simulator(speed=5, jitter=0, capacity=1, queue_seconds=0)
    first, second, third = submit_many(sim, 3)
    slot = PROCESSING_1K / 5
    began = started_at(state(sim, first))
    assert started_at(state(sim, third)) == pytest.approx(began + 2 * slot, abs=0.005)
    with httpx.Client(base_url=sim.url) as http:
        assert http.post(f"/v1/tasks/{second}/cancel").json()["status"] == "cancelled"
        assert started_at(state(sim, third)) == pytest.approx(began + slot, abs=0.005)
        data = http.post("/v1/tasks/sync?timeout=5", json=BODY).json()  # queued behind third
    assert data["status"] == "completed"
    assert data["completed_at"] / 1000 == pytest.approx(began + 3 * slot, abs=0.02)  # not 4
    assert wait_all(sim, [first, third])[1]["status"] == "completed"


def test_a_cancel_of_a_waiting_task_keeps_callbacks_on_time(
    start_simulator: StartSimulator, callback_receiver: Any
) -> None:
    sim = start_simulator(speed=5, jitter=0, capacity=1, queue_seconds=0)
    body = {**BODY, "callback_url": callback_receiver.url}
    with httpx.Client(base_url=sim.url) as http:
        first, second, third = (http.post("/v1/tasks", json=body).json()["task_id"] for _ in "abc")
        http.post(f"/v1/tasks/{second}/cancel")
    bodies = callback_receiver.wait_for(3, timeout=5)
    by_id = {b["task_id"]: b["status"] for b in bodies}
    assert by_id == {first: "completed", second: "cancelled", third: "completed"}
