"""Task.from_json: every response shape of shared/wire-examples.md."""

from __future__ import annotations

import json
from typing import Any

import pytest

from seedream_jupyter.task import ImageRef, Task, TaskStatus, parse_timestamp

WAVE_ID = "task-wave1775285160b950328499"
ULID_ID = "task_01K8SGYNNNVBQTXNR4MM964S7K"


def parse(text: str, **kw: Any) -> Task:
    """Parse as the client does: from the JSON text."""
    return Task.from_json(json.loads(text), **kw)


# -- submit -----------------------------------------------------------------------------------


def test_submit_newest_form() -> None:
    task = parse(
        '{"task_id": "task-wave1775285160b950328499", "model": "doubao-seedream-4.5", '
        '"action": "generate", "status": "queued", "created_at": 1775285160040, "progress": 0}'
    )
    assert task.task_id == WAVE_ID
    assert task.status is TaskStatus.QUEUED
    assert (task.model, task.action, task.progress) == ("doubao-seedream-4.5", "generate", 0)
    assert task.created_at == pytest.approx(1775285160.040)
    assert not task.is_terminal
    assert task.images == () and task.urls == []


def test_submit_older_form_ulid_id_and_seconds() -> None:
    task = parse(f'{{"task_id": "{ULID_ID}", "status": "queued", "created_at": 1720000000}}')
    assert task.task_id == ULID_ID
    assert task.created_at == 1720000000.0


def test_submit_oldest_envelope() -> None:
    task = parse('{"code": "success", "data": "task-wave17486161910001884721"}')
    assert task.task_id == "task-wave17486161910001884721"
    assert task.status is TaskStatus.QUEUED
    assert task.progress == 0


def test_an_envelope_with_a_failure_code_is_no_task_id() -> None:
    with pytest.raises(ValueError, match="code 'fail': quota_exceeded"):
        parse('{"code": "fail", "data": "quota_exceeded"}')


def test_envelope_around_a_task_object() -> None:
    task = parse(
        '{"code": 0, "data": {"task_id": "task_abc", "status": "processing", "progress": 5}}'
    )
    assert (task.task_id, task.status, task.progress) == ("task_abc", TaskStatus.PROCESSING, 5)


def test_bare_string_is_a_task_id() -> None:
    assert Task.from_json("task-wave123").task_id == "task-wave123"


# -- status ----------------------------------------------------------------------------------


def test_status_queued_with_urls_block_ignored() -> None:
    task = parse(
        '{"task_id": "task-wave1", "status": "queued", "action": "generate", '
        '"model": "doubao-seedream-4.5", "progress": 0, "created_at": 1775285160040, '
        '"urls": {"get": "https://www.qingbo.dev/v1/tasks/task-wave1", '
        '"cancel": "https://www.qingbo.dev/v1/tasks/task-wave1/cancel"}}'
    )
    assert task.status is TaskStatus.QUEUED
    assert task.images == ()  # the urls block is not result images
    assert task.urls == []


def test_status_processing() -> None:
    task = parse('{"task_id": "task-wave1", "status": "processing", "progress": 45}')
    assert (task.status, task.progress, task.is_terminal) == (TaskStatus.PROCESSING, 45, False)


def test_completed_newest_form_url_list() -> None:
    task = parse(
        '{"task_id": "task-wave1", "status": "completed", "action": "generate", '
        '"model": "doubao-seedream-4.5", "progress": 100, "created_at": 1775285160040, '
        '"completed_at": 1775285175040, '
        '"result": {"images": [{"url": ["https://cdn.test/0.jpeg"], "expires_at": 1775371575}]}}'
    )
    assert task.status is TaskStatus.COMPLETED and task.is_terminal
    assert task.urls == ["https://cdn.test/0.jpeg"]
    assert task.images == (ImageRef("https://cdn.test/0.jpeg", 1775371575.0),)
    assert task.completed_at == pytest.approx(1775285175.040)
    assert task.completed_at - task.created_at == pytest.approx(15.0)


def test_completed_older_form_url_string_start_time_and_videos() -> None:
    task = parse(
        '{"task_id": "task_01", "status": "completed", "progress": 100, "start_time": 1720000001, '
        '"created_at": 1720000000, "completed_at": 1720000015, '
        '"result": {"images": [{"url": "https://cdn.test/a.jpeg", "expires_at": 1720086415}], '
        '"videos": []}}'
    )
    assert task.urls == ["https://cdn.test/a.jpeg"]
    assert task.images[0].expires_at == 1720086415.0
    assert task.completed_at == 1720000015.0


def test_group_as_several_entries_keeps_order() -> None:
    urls = [f"https://cdn.test/{i}.jpeg" for i in range(4)]
    body = {
        "task_id": "task-wave1",
        "status": "completed",
        "result": {"images": [{"url": [u], "expires_at": 1775371575} for u in urls]},
    }
    assert Task.from_json(body).urls == urls


def test_group_as_one_entry_with_a_list_keeps_order() -> None:
    urls = [f"https://cdn.test/{i}.jpeg" for i in (3, 1, 2, 0)]
    body = {
        "task_id": "task-wave1",
        "status": "completed",
        "result": {"images": [{"url": urls, "expires_at": 1775371575000}]},
    }
    task = Task.from_json(body)
    assert task.urls == urls
    assert all(ref.expires_at == pytest.approx(1775371575.0) for ref in task.images)


def test_mixed_group_shapes_keep_order() -> None:
    body = {
        "task_id": "task-wave1",
        "status": "completed",
        "result": {
            "images": [
                {"url": "https://cdn.test/0.jpeg"},
                {"url": ["https://cdn.test/1.jpeg", "https://cdn.test/2.jpeg"]},
                "https://cdn.test/3.jpeg",
                {"urls": ["https://cdn.test/4.jpeg"]},
            ]
        },
    }
    assert Task.from_json(body).urls == [f"https://cdn.test/{i}.jpeg" for i in range(5)]


@pytest.mark.parametrize(
    "result",
    [
        None,
        {},
        {"images": []},
        {"images": None},
        {"images": [{"url": None}, {"url": ""}, 5, {"expires_at": 1}]},
        "not an object",
    ],
)
def test_result_without_usable_images(result: object) -> None:
    assert Task.from_json({"task_id": "t_1", "status": "completed", "result": result}).urls == []


def test_failed_task() -> None:
    task = parse(
        '{"task_id": "task-wave1", "status": "failed", "progress": 0, '
        '"completed_at": 1775285175040, '
        '"error": {"message": "prompt rejected by the content filter", "code": "task_failed"}}'
    )
    assert task.status is TaskStatus.FAILED and task.is_terminal
    assert task.error_code == "task_failed"
    assert task.error_message == "prompt rejected by the content filter"


def test_failed_with_a_plain_string_error() -> None:
    task = Task.from_json({"task_id": "t_1", "status": "failed", "error": "boom"})
    assert (task.error_code, task.error_message) == (None, "boom")


def test_cancelled_task() -> None:
    task = parse(
        '{"task_id": "task-wave1", "status": "cancelled", "progress": 0, '
        '"completed_at": 1775285175040}'
    )
    assert task.status is TaskStatus.CANCELLED and task.is_terminal
    assert task.refunded is None


def test_cancel_answer_with_refund() -> None:
    task = parse(
        '{"task_id": "task_xxx", "status": "cancelled", "refunded": true, "refunded_quota": 50000}'
    )
    assert (task.task_id, task.status, task.refunded) == ("task_xxx", TaskStatus.CANCELLED, True)


def test_sync_endpoint_poll_url() -> None:
    task = parse(
        '{"task_id": "task_xxx", "status": "processing", "progress": 45, '
        '"poll_url": "/v1/tasks/task_xxx"}'
    )
    assert task.poll_url == "/v1/tasks/task_xxx"
    assert (task.status, task.progress) == (TaskStatus.PROCESSING, 45)


def test_sync_endpoint_finished_task() -> None:
    task = Task.from_json(
        {"task_id": "task_xxx", "status": "completed", "result": {"images": [{"url": "u://0"}]}}
    )
    assert task.poll_url is None and task.urls == ["u://0"]


def test_unknown_fields_are_ignored_but_kept_raw() -> None:
    body = {
        "task_id": "task-wave1",
        "status": "processing",
        "progress": 10,
        "eta_ms": 4000,
        "queue_position": {"nested": [1, 2]},
        "billing": None,
    }
    task = Task.from_json(body)
    assert task.raw["eta_ms"] == 4000
    assert task == Task(task_id="task-wave1", status=TaskStatus.PROCESSING, progress=10)


def test_id_fallbacks() -> None:
    assert Task.from_json({"id": "task_alt", "status": "queued"}).task_id == "task_alt"
    assert Task.from_json({"status": "queued"}, task_id="task_known").task_id == "task_known"


@pytest.mark.parametrize(
    "body", [{}, {"status": "queued"}, {"task_id": ""}, {"task_id": 5}, [], None, 3]
)
def test_no_task_id_is_a_value_error(body: object) -> None:
    with pytest.raises(ValueError):
        Task.from_json(body)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("queued", TaskStatus.QUEUED),
        ("pending", TaskStatus.QUEUED),
        ("submitted", TaskStatus.QUEUED),
        (None, TaskStatus.QUEUED),
        ("", TaskStatus.QUEUED),
        ("processing", TaskStatus.PROCESSING),
        ("running", TaskStatus.PROCESSING),
        ("in_progress", TaskStatus.PROCESSING),
        ("completed", TaskStatus.COMPLETED),
        ("COMPLETED", TaskStatus.COMPLETED),
        (" Completed ", TaskStatus.COMPLETED),
        ("succeeded", TaskStatus.COMPLETED),
        ("success", TaskStatus.COMPLETED),
        ("complete", TaskStatus.COMPLETED),
        ("failed", TaskStatus.FAILED),
        ("error", TaskStatus.FAILED),
        ("cancelled", TaskStatus.CANCELLED),
        ("canceled", TaskStatus.CANCELLED),
        ("something-new", TaskStatus.PROCESSING),  # unknown: keep polling, not terminal
    ],
)
def test_status_aliases(raw: object, status: TaskStatus) -> None:
    assert Task.from_json({"task_id": "t_1", "status": raw}).status is status
    assert TaskStatus.parse(raw) is status


def test_status_is_a_str_enum() -> None:
    assert str(TaskStatus.COMPLETED) == "completed"
    assert TaskStatus.COMPLETED == "completed"
    assert {s for s in TaskStatus if s.is_terminal} == {
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
    }


@pytest.mark.parametrize(
    ("raw", "progress"),
    [
        (45, 45),
        ("45", 45),
        ("45.7", 45),
        (45.9, 45),
        (None, 0),
        ("", 0),
        ("abc", 0),
        ([], 0),
        ({}, 0),
        (150, 100),
        (-5, 0),
        ("NaN", 0),
    ],
)
def test_bad_progress_values(raw: object, progress: int) -> None:
    task = Task.from_json({"task_id": "t_1", "status": "processing", "progress": raw})
    assert task.progress == progress


@pytest.mark.parametrize(
    "text", ['{"task_id": "t_1", "progress": Infinity}', '{"task_id": "t_1", "progress": "1e999"}']
)
def test_infinite_progress_is_tolerated(text: str) -> None:
    # json.loads (and so httpx's response.json()) accepts Infinity
    assert parse(text).progress in (0, 100)


def test_completed_means_100_percent() -> None:
    assert Task.from_json({"task_id": "t_1", "status": "completed", "progress": 0}).progress == 100


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (1775285160040, 1775285160.040),  # ms
        (1775285160, 1775285160.0),  # s
        (1720000000, 1720000000.0),
        ("1775285160040", 1775285160.040),
        ("1720000000", 1720000000.0),
        (1720000000.5, 1720000000.5),
        (None, None),
        ("yesterday", None),
        (True, None),
        ([], None),
    ],
)
def test_timestamps_ms_or_s(raw: object, seconds: float | None) -> None:
    parsed = parse_timestamp(raw)
    if seconds is None:
        assert parsed is None
    else:
        assert parsed == pytest.approx(seconds)
    task = Task.from_json(
        {
            "task_id": "t_1",
            "status": "completed",
            "created_at": raw,
            "completed_at": raw,
            "result": {"images": [{"url": "u://0", "expires_at": raw}]},
        }
    )
    for value in (task.created_at, task.completed_at, task.images[0].expires_at):
        assert value == (pytest.approx(seconds) if seconds is not None else None)


def test_task_is_frozen_and_raw_not_compared() -> None:
    a = Task.from_json({"task_id": "t_1", "status": "queued", "x": 1})
    b = Task.from_json({"task_id": "t_1", "status": "queued", "x": 2})
    assert a == b
    with pytest.raises(AttributeError):
        a.status = TaskStatus.COMPLETED  # type: ignore[misc]


@pytest.mark.parametrize("bad", ["../../etc/x", "task/1?x=1", "a b", "", "é"])
def test_task_ids_that_would_escape_paths_or_urls_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        Task.from_json({"task_id": bad, "status": "queued"})


@pytest.mark.parametrize("word", ["expired", "rejected", "timeout", "timed_out"])
def test_terminal_words_of_other_gateways_are_failures(word: str) -> None:
    assert Task.from_json({"task_id": "t_1", "status": word}).status is TaskStatus.FAILED
