"""The poller learns from the history on disk: StoreReads.durations and the session's seeding."""

from __future__ import annotations

from pathlib import Path

import pytest

from seedream_jupyter.client.durations import TaskShape
from seedream_jupyter.request import GenerationRequest
from seedream_jupyter.session import Session
from seedream_jupyter.store import Store
from seedream_jupyter.store.base import DB_NAME
from seedream_jupyter.task import ImageRef, Task, TaskStatus

REAL = "https://api.example.test"


def _finished(
    store: Store, task_id: str, request: GenerationRequest, seconds: float, **where: object
) -> None:
    store.record_submitted(
        Task(task_id),
        request,
        base_url=str(where.get("base_url", REAL)),
        simulated=bool(where.get("simulated", False)),
    )
    row = store.get(task_id)
    assert row is not None
    # a completion returns images (one with none is a failure, and teaches nothing)
    images = tuple(
        ImageRef(f"{REAL}/files/{task_id}/{i}.jpeg") for i in range(request.output_count)
    )
    store.record_state(
        Task(
            task_id,
            TaskStatus.COMPLETED,
            100,
            completed_at=row.created_at + seconds,
            images=images,
        )
    )


def test_durations_of_completed_real_tasks_on_one_server(tmp_path: Path) -> None:
    store = Store(tmp_path / "home")
    two_k = GenerationRequest(prompt="a", model="doubao-seedream-4.5", resolution="2K")
    group = GenerationRequest(prompt="b", model="doubao-seedream-4.5", action="group", max_images=3)
    _finished(store, "task-1", two_k, 3.5)
    _finished(store, "task-2", group, 9.0)
    _finished(store, "task-3", two_k, 4.0, simulated=True)  # speed unknown: left out
    _finished(store, "task-4", two_k, 5.0, base_url="https://other.test")  # another server
    store.record_submitted(Task("task-5"), two_k, base_url=REAL, simulated=False)  # pending

    rows = store.durations(base_url=REAL)
    assert [(m, a, r, n, round(s, 3)) for m, a, r, n, s in rows] == [
        ("doubao-seedream-4.5", "generate", "2K", 1, 3.5),
        ("doubao-seedream-4.5", "group", "2K", 3, 9.0),
    ]
    assert store.durations(base_url=REAL, limit=1)[0][4] == pytest.approx(9.0)  # the newest


def test_a_new_real_client_starts_from_the_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    request = GenerationRequest(prompt="a", model="doubao-seedream-4.5", resolution="2K")
    store = Store(home)
    for i, seconds in enumerate((3.0, 4.0, 5.0)):
        _finished(store, f"task-{i}", request, seconds)
    monkeypatch.setenv("WAVE_API_KEY", "sk-test-not-real")
    session = Session()
    session.configure(home=str(home), base_url=REAL)
    client = session.client()
    try:
        expectation = client.aio.durations.expect(TaskShape.of(request))
        assert expectation is not None
        assert expectation.median == pytest.approx(4.0)
    finally:
        session.forget_clients(simulated_only=False)


def test_an_unreadable_history_costs_no_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "home"
    (blocked / DB_NAME).mkdir(parents=True)  # a folder where the history file should be
    monkeypatch.setenv("WAVE_API_KEY", "sk-test-not-real")
    session = Session()
    session.configure(home=str(blocked), base_url=REAL)
    client = session.client()
    try:
        assert len(client.aio.durations) == 0
    finally:
        session.forget_clients(simulated_only=False)
