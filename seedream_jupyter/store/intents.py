"""Write-ahead rows: an intent written before each submit is sent, turned into the task's row
when the server returns its id, kept (saying why) when the submit may have created a task, and
forgotten when it provably created nothing. A task id the history already holds for another
submit is refused, never merged into that task's rows.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid

from ..request import GenerationRequest
from ..task import Task
from .base import history_op
from .files import store_inputs, write_content
from .records import server_of
from .schema import INTENT_PREFIX, UNCONFIRMED, UNCONFIRMED_MESSAGE, marks
from .writes import StoreWrites, redacted

_IN_FLIGHT = (
    f"{UNCONFIRMED_MESSAGE}: recorded before its submit was sent; the task id never reached "
    "the history (the process ended, or is still waiting for the answer)"
)


class ReusedTaskIdError(Exception):
    """The server answered a submit with a task id the history already holds for another
    submit: the task this submit created is unknown (it may be billed)."""

    def __init__(self, task_id: str, message: str) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.message = message


class StoreIntents(StoreWrites):
    @history_op("written")
    def record_intent(self, request: GenerationRequest, *, base_url: str, simulated: bool) -> str:
        """Write a row for a submit about to be sent (before the POST); its id.

        Until ``record_submitted`` renames it to the task id (or ``drop_intent`` removes it),
        it stays ``unconfirmed``: shown as "may be billed" and counted toward the budget.
        """
        intent_id = f"{INTENT_PREFIX}{uuid.uuid4().hex[:20]}"
        with self._tx() as conn:
            self._insert_row(
                conn,
                intent_id,
                request,
                base_url=base_url,
                simulated=simulated,
                intent_id=intent_id,
                status=UNCONFIRMED,
                error_message=_IN_FLIGHT,
            )
        return intent_id

    @history_op("written")
    def mark_unconfirmed(self, intent_id: str, reason: str) -> None:
        """The submit may have reached the server but its answer is lost: say why."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE tasks SET error_message = ?, updated_at = ? "
                "WHERE task_id = ? AND status = ?",
                (redacted(f"{UNCONFIRMED_MESSAGE}: {reason}"), time.time(), intent_id, UNCONFIRMED),
            )

    @history_op("written")
    def drop_intent(self, intent_id: str) -> None:
        """The submit provably created nothing (refused before or by the server): forget it."""
        with self._tx() as conn:
            conn.execute(
                "DELETE FROM tasks WHERE task_id = ? AND status = ?", (intent_id, UNCONFIRMED)
            )

    @history_op("written")
    def record_submitted(
        self,
        task: Task,
        request: GenerationRequest,
        *,
        base_url: str,
        simulated: bool,
        intent_id: str | None = None,
    ) -> None:
        """The submit returned an id: the intent row becomes the task row (or, with no
        intent, a task row is written). A task id the history already holds for another
        submit is never overwritten: ``ReusedTaskIdError`` (the intent is kept, flagged)."""
        now = time.time()
        reused: str | None = None
        with self._tx() as conn:
            conn.execute("PRAGMA defer_foreign_keys = ON")  # inputs follow the renamed row
            existing = conn.execute(
                "SELECT intent_id, payload, prompt FROM tasks WHERE task_id = ?",
                (task.task_id,),
            ).fetchone()
            bare = existing is not None and existing["payload"] == "{}"
            if existing is not None and not bare:
                reused = (
                    f"the server answered this submit with task id {task.task_id}, which an "
                    "earlier submit already received"
                    + (f" (prompt {existing['prompt'][:60]!r})" if existing["prompt"] else "")
                    + "; the task this submit created may exist under another id"
                )
                conn.execute(
                    "UPDATE tasks SET error_message = ?, warning = ?, updated_at = ? "
                    "WHERE task_id = ? AND status = ?",
                    (
                        redacted(f"{UNCONFIRMED_MESSAGE}: {reused}"),
                        f"reused task id {task.task_id}",
                        now,
                        intent_id,
                        UNCONFIRMED,
                    ),
                )
            else:
                adopted = self._take_bare(conn, task.task_id) if bare else None
                renamed = intent_id is not None and (
                    conn.execute(
                        "UPDATE tasks SET task_id = ?, status = 'submitted', error_message = "
                        "NULL, base_url = ?, server = ?, simulated = ?, updated_at = ? "
                        "WHERE task_id = ? AND status = ?",
                        (
                            task.task_id,
                            base_url,
                            server_of(base_url),
                            int(simulated),
                            now,
                            intent_id,
                            UNCONFIRMED,
                        ),
                    ).rowcount
                    == 1
                )
                if renamed:
                    conn.execute(
                        "UPDATE inputs SET task_id = ? WHERE task_id = ?", (task.task_id, intent_id)
                    )
                else:
                    self._insert_task(conn, task, request, base_url, simulated, now, intent_id)
                self._apply_state(conn, task, now)
                if adopted is not None:
                    self._give_back(conn, task.task_id, *adopted)
        if reused is not None:
            raise ReusedTaskIdError(task.task_id, reused)

    def _take_bare(
        self, conn: sqlite3.Connection, task_id: str
    ) -> tuple[sqlite3.Row, list[sqlite3.Row]]:
        """Remove a row adopted from a poll before its submit was recorded (it is replaced by
        the full row); its state and image rows are handed back by ``_give_back``."""
        row = conn.execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        images = conn.execute("SELECT * FROM images WHERE task_id = ?", (task_id,)).fetchall()
        conn.execute("DELETE FROM tasks WHERE task_id = ?", (task_id,))
        return row, images

    def _give_back(
        self, conn: sqlite3.Connection, task_id: str, row: sqlite3.Row, images: list[sqlite3.Row]
    ) -> None:
        if row["status"] in ("completed", "failed", "cancelled"):  # it got further than that
            conn.execute(
                "UPDATE tasks SET status = ?, progress = ?, completed_at = ?, n_returned = ?, "
                "error_code = ?, error_message = ? WHERE task_id = ?",
                (
                    row["status"],
                    row["progress"],
                    row["completed_at"],
                    row["n_returned"],
                    row["error_code"],
                    row["error_message"],
                    task_id,
                ),
            )
        for image in images:
            names = image.keys()
            conn.execute(
                f"INSERT OR REPLACE INTO images ({', '.join(names)}) "  # noqa: S608 - column names
                f"VALUES {marks(len(names))}",
                tuple(image),
            )

    def _insert_task(
        self,
        conn: sqlite3.Connection,
        task: Task,
        request: GenerationRequest,
        base_url: str,
        simulated: bool,
        now: float,
        intent_id: str | None,
    ) -> None:
        """A task row with no intent before it (or one pruned meanwhile)."""
        self._insert_row(
            conn,
            task.task_id,
            request,
            base_url=base_url,
            simulated=simulated,
            intent_id=intent_id,
            status="submitted",
            error_message=None,
            now=now,
        )

    def _insert_row(
        self,
        conn: sqlite3.Connection,
        row_id: str,
        request: GenerationRequest,
        *,
        base_url: str,
        simulated: bool,
        intent_id: str | None,
        status: str,
        error_message: str | None,
        now: float | None = None,
    ) -> None:
        """One task row (an intent or a task) with its inputs moved to ``inputs/``."""
        now = time.time() if now is None else now
        payload, inputs = store_inputs(request.to_payload(), self.home)
        conn.execute(
            """
            INSERT INTO tasks (task_id, intent_id, payload, cache_key, model, action, prompt,
                seed, n_expected, status, progress, error_message, cost_usd, base_url,
                server, simulated, created_at, updated_at, parent_task_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            (
                row_id,
                intent_id,
                json.dumps(payload, ensure_ascii=False),
                request.cache_key(),
                request.model,
                request.action,
                request.prompt,
                request.seed,
                request.output_count,
                status,
                error_message,
                request.estimate_cost(),
                base_url,
                server_of(base_url),
                int(simulated),
                now,
                now,
                request.parent_task_id,
            ),
        )
        conn.executemany(
            "INSERT OR REPLACE INTO inputs (task_id, idx, path) VALUES (?, ?, ?)",
            [(row_id, idx, rel) for idx, rel, _ in inputs],
        )
        for _, rel, raw in inputs:  # under the lock: a prune may have taken a shared file
            write_content(self.home / rel, raw)
