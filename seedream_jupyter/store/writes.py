"""Writing the history: a task's row from its submit on, its status changes, its image files."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from .. import _formats, catalog
from ..request import GenerationRequest
from ..task import Task, TaskStatus
from . import provenance
from .base import StoreBase
from .files import content_path, image_size, store_inputs, write_content
from .records import server_of
from .schema import IMAGES_DIR, LOST, PENDING_STATUSES


class StoreWrites(StoreBase):
    def record_submitted(
        self, task: Task, request: GenerationRequest, *, base_url: str, simulated: bool
    ) -> None:
        """Write the task row as soon as a submit has returned an id."""
        payload, inputs = store_inputs(request.to_payload(), self.home)
        now = time.time()
        with self._tx() as conn:
            conn.execute(
                """
                INSERT INTO tasks (task_id, payload, cache_key, model, action, prompt, seed,
                    n_expected, status, progress, cost_usd, base_url, server, simulated,
                    created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(task_id) DO UPDATE SET
                    payload = excluded.payload, cache_key = excluded.cache_key,
                    model = excluded.model, action = excluded.action,
                    prompt = excluded.prompt, seed = excluded.seed,
                    n_expected = excluded.n_expected, cost_usd = excluded.cost_usd,
                    base_url = excluded.base_url, server = excluded.server,
                    simulated = excluded.simulated, updated_at = excluded.updated_at
                """,
                (
                    task.task_id,
                    json.dumps(payload, ensure_ascii=False),
                    request.cache_key(),
                    request.model,
                    request.action,
                    request.prompt,
                    request.seed,
                    request.output_count,
                    "submitted",
                    request.estimate_cost(),
                    base_url,
                    server_of(base_url),
                    int(simulated),
                    now,
                    now,
                ),
            )
            conn.executemany(
                "INSERT OR REPLACE INTO inputs (task_id, idx, path) VALUES (?, ?, ?)",
                [(task.task_id, idx, rel) for idx, rel, _ in inputs],
            )
            for _, rel, raw in inputs:  # under the lock: a prune may have taken a shared file
                write_content(self.home / rel, raw)
            self._apply_state(conn, task, now)

    def record_state(self, task: Task) -> None:
        """Status, progress, error, completion time and image links from a poll."""
        with self._tx() as conn:
            self._apply_state(conn, task, time.time())

    def mark_lost(self, task_id: str, message: str) -> None:
        """The server no longer knows this task: stop treating it as pending."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE tasks SET status = ?, error_message = ?, updated_at = ? "
                "WHERE task_id = ? AND status IN (?, ?, ?)",
                (LOST, message, time.time(), task_id, *PENDING_STATUSES),
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
        status = task.status.value
        if current in ("completed", "failed", "cancelled") and not task.is_terminal:
            return  # a stale poll answered after the final one: keep the final state
        completed_at = task.completed_at
        if completed_at is None and task.is_terminal:
            completed_at = now
        conn.execute(
            """
            UPDATE tasks SET status = ?, progress = ?,
                error_code = COALESCE(?, error_code), error_message = COALESCE(?, error_message),
                completed_at = COALESCE(completed_at, ?), updated_at = ?
            WHERE task_id = ?
            """,
            (
                status,
                task.progress,
                task.error_code,
                task.error_message,
                completed_at,
                now,
                task.task_id,
            ),
        )
        if task.status is TaskStatus.COMPLETED and task.images:
            # Billing is per image returned; a group may return fewer than asked for.
            model = conn.execute(
                "SELECT model FROM tasks WHERE task_id = ?", (task.task_id,)
            ).fetchone()["model"]
            spec = catalog.MODELS.get(model or "")
            if spec is not None:
                conn.execute(
                    "UPDATE tasks SET cost_usd = MIN(cost_usd, ?) WHERE task_id = ? "
                    "AND cost_usd > 0",
                    (spec.cost(len(task.images)), task.task_id),
                )
        conn.executemany(
            """
            INSERT INTO images (task_id, idx, url, expires_at) VALUES (?, ?, ?, ?)
            ON CONFLICT(task_id, idx) DO UPDATE SET
                url = excluded.url, expires_at = COALESCE(excluded.expires_at, expires_at)
            """,
            [(task.task_id, idx, ref.url, ref.expires_at) for idx, ref in enumerate(task.images)],
        )

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
                    height = excluded.height, bytes = excluded.bytes, saved_at = excluded.saved_at
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
