"""The history's write-ahead rows, its one billing rule, and its failures as HistoryError."""

from __future__ import annotations

import base64
import io
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from seedream_jupyter.errors import HistoryError, register_secret
from seedream_jupyter.request import GenerationRequest
from seedream_jupyter.store import (
    INTENT_PREFIX,
    SCHEMA_VERSION,
    UNCONFIRMED,
    ReusedTaskIdError,
    Store,
    billed_cost,
    billed_images,
    kept_images,
    schema,
)
from seedream_jupyter.task import ImageRef, Task, TaskStatus

SERVER = "https://www.qingbo.dev"
SECRET = "sk-write-ahead-secret-98765"


def req(prompt: str = "a red fox", **kw: object) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, **kw)  # type: ignore[arg-type]


def png_uri() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def done(task_id: str, count: int) -> Task:
    refs = tuple(ImageRef(f"{SERVER}/files/{task_id}/{i}.jpeg") for i in range(count))
    return Task(task_id, TaskStatus.COMPLETED, 100, images=refs)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "home")


def test_an_intent_is_unconfirmed_counted_and_becomes_the_task_row(store: Store) -> None:
    request = req(image_urls=(png_uri(),), action="image2image")
    intent = store.record_intent(request, base_url=SERVER, simulated=False)
    assert intent.startswith(INTENT_PREFIX)
    (row,) = store.history()
    assert row.status == UNCONFIRMED and row.is_unconfirmed
    assert "may be billed" in row.status_text and "may be billed" in (row.error_message or "")
    assert store.spent_usd(simulated=False) == request.estimate_cost()  # toward the budget
    store.record_submitted(
        Task("task-1"), request, base_url=SERVER, simulated=False, intent_id=intent
    )
    (row,) = store.history()
    assert (row.task_id, row.status, row.intent_id) == ("task-1", "queued", intent)
    assert row.error_message is None
    assert row.request.image_urls[0].startswith("data:image/png")  # its inputs followed it


def test_an_intent_that_created_nothing_is_forgotten_an_ambiguous_one_says_why(
    store: Store,
) -> None:
    gone = store.record_intent(req("refused"), base_url=SERVER, simulated=False)
    kept = store.record_intent(req("dropped"), base_url=SERVER, simulated=False)
    store.drop_intent(gone)
    store.mark_unconfirmed(kept, "the connection failed after the submit was sent")
    (row,) = store.history()
    assert row.task_id == kept and "connection failed" in (row.error_message or "")
    assert store.history(status=UNCONFIRMED) == [row]


def test_a_reused_task_id_is_refused_and_overwrites_nothing(store: Store) -> None:
    first = store.record_intent(req("first"), base_url=SERVER, simulated=False)
    store.record_submitted(
        Task("task-1"), req("first"), base_url=SERVER, simulated=False, intent_id=first
    )
    store.record_state(done("task-1", 1))
    before = store.get("task-1")
    second = store.record_intent(req("second"), base_url=SERVER, simulated=False)
    with pytest.raises(ReusedTaskIdError, match="earlier submit"):
        store.record_submitted(
            Task("task-1"), req("second"), base_url=SERVER, simulated=False, intent_id=second
        )
    assert store.get("task-1") == before
    flagged = store.get(second)
    assert flagged is not None and flagged.status == UNCONFIRMED
    assert flagged.warning == "reused task id task-1"  # fmt: skip


def test_billing_is_per_image_returned_never_more_than_asked() -> None:
    assert [billed_images(4, n) for n in (0, 2, 4, 6)] == [0, 2, 4, 4]
    assert billed_images(None, 3) == 3
    assert billed_cost("doubao-seedream-4.0", 2, 5) == pytest.approx(2 * 0.0238)
    assert billed_cost("unknown-model", 2, 5) is None
    refs = tuple(ImageRef(f"u{i}") for i in range(5))
    kept, warning = kept_images(refs, 2)
    assert kept == refs[:2] and warning is not None and "not the 3 extra" in warning
    assert kept_images(refs, 5) == (refs, None)


def test_a_completion_with_no_image_is_a_failure_that_costs_nothing(store: Store) -> None:
    store.record_submitted(Task("t-0"), req(), base_url=SERVER, simulated=False)
    store.record_state(done("t-0", 0))
    row = store.get("t-0")
    assert row is not None and (row.status, row.error_code, row.cost_usd) == (
        "failed",
        "no_images",
        0,
    )
    assert store.history(status="completed") == []  # so no resume "finishes" it again


def test_surplus_images_are_not_kept_and_not_billed(store: Store) -> None:
    store.record_submitted(Task("t-s"), req(n=2, model="4.0"), base_url=SERVER, simulated=False)
    store.record_state(done("t-s", 5))
    row = store.get("t-s")
    assert row is not None and row.n_returned == 5 and len(row.images) == 2
    assert row.cost_usd == pytest.approx(2 * 0.0238) and "extra" in (row.warning or "")


def test_a_refused_image_is_recorded_and_never_counted_missing(store: Store) -> None:
    store.record_submitted(Task("t-b"), req(), base_url=SERVER, simulated=False)
    store.record_state(done("t-b", 1))
    store.refuse_image("t-b", 0, "a decompression bomb", url="u", expires_at=None)
    row = store.get("t-b")
    assert row is not None and row.refused[0].refused == "a decompression bomb"
    assert row.kept == () and not row.all_on_disk


def test_server_text_is_redacted_before_it_is_stored(store: Store) -> None:
    register_secret(SECRET)
    store.record_submitted(Task("t-k"), req(), base_url=SERVER, simulated=False)
    echo = f"rejected: Authorization: Bearer {SECRET}; and bearer other-token-123"
    store.record_state(Task("t-k", TaskStatus.FAILED, error_code="x", error_message=echo))
    store.mark_lost("t-k", echo)
    row = store.get("t-k")
    assert row is not None and SECRET not in (row.error_message or "")
    assert "other-token-123" not in (row.error_message or "")
    store.close()
    for path in store.home.iterdir():
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path.name


def test_a_version_1_history_is_upgraded_in_place(tmp_path: Path) -> None:
    home = tmp_path / "old"
    home.mkdir()
    conn = sqlite3.connect(home / schema.DB_NAME)
    conn.executescript(schema._MIGRATIONS[0] + "PRAGMA user_version = 1;")
    conn.execute(
        "INSERT INTO tasks (task_id, payload, status, created_at, updated_at) "
        "VALUES ('old-task', '{}', 'completed', 1, 1)"
    )
    conn.commit()
    conn.close()
    store = Store(home)
    assert store.schema_version == SCHEMA_VERSION == 3
    row = store.get("old-task")
    assert row is not None and row.intent_id is None and row.warning is None


@pytest.mark.parametrize("damage", ["not-a-database", "a-file-as-home"])
def test_failures_are_history_errors_naming_the_path(tmp_path: Path, damage: str) -> None:
    home = tmp_path / "home"
    if damage == "not-a-database":
        home.mkdir()
        (home / schema.DB_NAME).write_bytes(b"garbage " * 512)
        match = "damaged"
    else:
        home.write_text("x")
        match = "not a folder"
    with pytest.raises(HistoryError, match=match) as info:
        Store(home)
    assert info.value.path == home.resolve() and str(home) in str(info.value)
    assert "SEEDREAM_HOME" in str(info.value)  # the fix


def test_a_task_adopted_before_its_submit_was_recorded_keeps_its_images(store: Store) -> None:
    """A row made from a poll (no payload yet) is completed by the late submit record, and its
    saved images and final state survive."""
    store.record_state(done("t-a", 1))
    store.save_image("t-a", 0, _jpeg(), url="u", expires_at=None, request=None)
    intent = store.record_intent(req("late"), base_url=SERVER, simulated=False)
    store.record_submitted(
        Task("t-a"), req("late"), base_url=SERVER, simulated=False, intent_id=intent
    )
    row = store.get("t-a")
    assert row is not None and row.prompt == "late" and row.status == "completed"
    assert row.all_on_disk and store.get(intent) is None


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (9, 9, 9)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_unconfirmed_intents_can_be_forgotten_once_checked(store: Store) -> None:
    store.record_intent(req("checked on the console"), base_url=SERVER, simulated=False)
    assert store.prune(status=UNCONFIRMED).tasks == 1
    assert store.history() == [] and store.spent_usd(simulated=False) == 0
