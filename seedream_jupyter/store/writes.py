"""Writing the history: a task's status changes, its image files, images refused (the
write-ahead intents are in ``intents``).

Every server text stored (error messages, warnings) is redacted first: a server that echoes
the Authorization header must not put the key into SQLite (or its WAL).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from .. import _formats
from ..errors import redact
from ..request import GenerationRequest
from ..task import Task, TaskStatus
from . import provenance
from .base import StoreBase, history_op
from .billing import NO_IMAGES_CODE, NO_IMAGES_MESSAGE, billed_cost, kept_images
from .files import content_path, image_size, write_content
from .schema import (
    IMAGES_DIR,
    LOST,
    PENDING_STATUSES,
)


def redacted(value: str | None) -> str | None:
    return None if value is None else redact(value)


class StoreWrites(StoreBase):
    @history_op("written")
    def record_state(self, task: Task) -> None:
        """Status, progress, error, completion time and image links from a poll."""
        with self._tx() as conn:
            self._apply_state(conn, task, time.time())

    @history_op("written")
    def mark_lost(self, task_id: str, message: str) -> None:
        """The server no longer knows this task: stop treating it as pending."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE tasks SET status = ?, error_message = ?, updated_at = ? "
                "WHERE task_id = ? AND status IN (?, ?, ?)",
                (LOST, redacted(message), time.time(), task_id, *PENDING_STATUSES),
            )

    @history_op("written")
    def refuse_image(
        self, task_id: str, index: int, reason: str, *, url: str | None, expires_at: float | None
    ) -> None:
        """An image that arrived unusable (a bomb, undecodable): not kept, and not fetched
        again by ``resume``; ``reason`` says why."""
        with self._tx() as conn:
            self._ensure_row(conn, task_id, None)
            conn.execute(
                """
                INSERT INTO images (task_id, idx, url, expires_at, refused) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(task_id, idx) DO UPDATE SET refused = excluded.refused
                """,
                (task_id, index, url, expires_at, redacted(reason)),
            )

    def _ensure_row(self, conn: sqlite3.Connection, task_id: str, model: str | None) -> str:
        """The row's status; a task never seen before (adopted) gets a bare row."""
        row = conn.execute("SELECT status FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        if row is not None:
            return str(row["status"])
        now = time.time()
        conn.execute(
            "INSERT INTO tasks (task_id, payload, model, status, created_at, updated_at) "
            "VALUES (?, '{}', ?, 'submitted', ?, ?)",
            (task_id, model, now, now),
        )
        return "submitted"

    def _apply_state(self, conn: sqlite3.Connection, task: Task, now: float) -> None:
        current = self._ensure_row(conn, task.task_id, task.model)
        if current in ("completed", "failed", "cancelled") and not task.is_terminal:
            return  # a stale poll answered after the final one: keep the final state
        status, code, message = task.status.value, task.error_code, task.error_message
        row = conn.execute(
            "SELECT model, n_expected FROM tasks WHERE task_id = ?", (task.task_id,)
        ).fetchone()
        images, warning = task.images, None
        returned: int | None = None
        cost: float | None = None
        if task.status is TaskStatus.COMPLETED:
            returned = len(task.images)
            images, warning = kept_images(task.images, row["n_expected"])
            if not images:  # billed nothing, and nothing for a later resume to finish
                status, code, message = "failed", NO_IMAGES_CODE, NO_IMAGES_MESSAGE
                cost = 0.0
            else:
                cost = billed_cost(row["model"], row["n_expected"], returned)
        elif task.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
            cost = 0.0  # failed and cancelled tasks cost nothing (the billing rule)
        completed_at = task.completed_at
        if completed_at is None and task.is_terminal:
            completed_at = now
        conn.execute(
            """
            UPDATE tasks SET status = ?, progress = ?,
                error_code = COALESCE(?, error_code), error_message = COALESCE(?, error_message),
                completed_at = COALESCE(completed_at, ?), updated_at = ?,
                n_returned = COALESCE(?, n_returned), cost_usd = COALESCE(?, cost_usd),
                warning = COALESCE(?, warning)
            WHERE task_id = ?
            """,
            (
                status,
                task.progress,
                redacted(code),
                redacted(message),
                completed_at,
                now,
                returned,
                cost,
                redacted(warning),
                task.task_id,
            ),
        )
        conn.executemany(
            """
            INSERT INTO images (task_id, idx, url, expires_at) VALUES (?, ?, ?, ?)
            ON CONFLICT(task_id, idx) DO UPDATE SET
                url = excluded.url, expires_at = COALESCE(excluded.expires_at, expires_at)
            """,
            [(task.task_id, idx, ref.url, ref.expires_at) for idx, ref in enumerate(images)],
        )

    @history_op("written")
    def save_image(
        self,
        task_id: str,
        index: int,
        data: bytes,
        *,
        url: str | None,
        expires_at: float | None,
        request: GenerationRequest | None,
    ) -> Path:
        """Save one result image (provenance embedded, content-addressed, atomic); its path."""
        row = (
            self._conn()
            .execute(
                "SELECT payload, model, action, prompt, seed, simulated FROM tasks "
                "WHERE task_id = ?",
                (task_id,),
            )
            .fetchone()
        )
        meta: dict[str, Any] = {"task_id": task_id, "index": index}
        if request is not None:
            meta |= {
                "prompt": request.prompt,
                "model": request.model,
                "action": request.action,
                "seed": request.seed,
                "aspect_ratio": request.aspect_ratio,
                "resolution": request.resolution,
            }
        elif row is not None:
            stored = json.loads(row["payload"] or "{}")
            meta |= {
                "prompt": row["prompt"],
                "model": row["model"],
                "action": row["action"],
                "seed": row["seed"],
                "aspect_ratio": stored.get("aspect_ratio"),
                "resolution": stored.get("resolution"),
            }
        if row is not None and row["simulated"]:
            meta["simulated"] = True  # a synthetic image must never pass for a real one
        final = provenance.embed(data, meta)
        digest = hashlib.sha256(final).hexdigest()
        ext = _formats.extension(final)
        rel = content_path(IMAGES_DIR, digest, ext)
        path = self.home / rel
        write_content(path, final)
        width, height = image_size(final)
        with self._tx() as conn:
            write_content(path, final)  # under the lock: a prune may have taken it just now
            self._ensure_row(conn, task_id, request.model if request else None)
            conn.execute(
                """
                INSERT INTO images (task_id, idx, url, expires_at, path, sha256, width, height,
                    bytes, saved_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(task_id, idx) DO UPDATE SET
                    url = COALESCE(excluded.url, url),
                    expires_at = COALESCE(excluded.expires_at, expires_at),
                    path = excluded.path, sha256 = excluded.sha256, width = excluded.width,
                    height = excluded.height, bytes = excluded.bytes,
                    saved_at = excluded.saved_at, refused = NULL
                """,
                (
                    task_id,
                    index,
                    url,
                    expires_at,
                    rel,
                    digest,
                    width,
                    height,
                    len(final),
                    time.time(),
                ),
            )
        return path
