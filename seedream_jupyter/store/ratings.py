"""Judging images in the history: stars (1–5) and tags per image, and where an image came from.

Ratings and tags live in their own tables (schema version 3), keyed by task id and image
index, so they survive a new process and are pruned with their task. A task the history has
never seen (a Result rebuilt from JSON on another machine) is adopted first: a completed row
from its own request, so that the rating has a task to belong to.

Every record this store reads carries them: ``TaskRecord.ratings`` ({index: stars}),
``TaskRecord.tags`` ({index: (tag, ...)}) and ``TaskRecord.parent_task_id``.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from ..errors import ValidationError
from .base import history_op
from .reads import StoreReads
from .records import TaskRecord
from .schema import marks

MIN_STARS: Final = 1
MAX_STARS: Final = 5
MAX_TAG_LENGTH: Final = 64
_CHUNK: Final = 500  # SQLite's host-parameter limit is 999 on old builds


def check_stars(stars: object) -> int | None:
    """1–5 stars, or None to clear a rating; a ValidationError otherwise."""
    if stars is None:
        return None
    if isinstance(stars, bool) or not isinstance(stars, int):
        raise ValidationError("stars", stars, f"a whole number {MIN_STARS}–{MAX_STARS}, or None")
    if not MIN_STARS <= stars <= MAX_STARS:
        raise ValidationError("stars", stars, f"{MIN_STARS} to {MAX_STARS} stars, or None")
    return stars


def check_tags(tags: Iterable[object]) -> list[str]:
    """Non-empty, stripped tags of at most 64 characters, each once, in the order given."""
    clean: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise ValidationError("tag", tag, "a non-empty string")
        text = tag.strip()
        if len(text) > MAX_TAG_LENGTH:
            raise ValidationError("tag", text[:20] + "…", f"at most {MAX_TAG_LENGTH} characters")
        if text not in clean:
            clean.append(text)
    return clean


class StoreRatings(StoreReads):
    """Ratings, tags and lineage (a mixin of ``Store``)."""

    @history_op("written")
    def adopt(
        self,
        task_id: str,
        payload: Mapping[str, Any],
        *,
        simulated: bool,
        created_at: float | None = None,
        completed_at: float | None = None,
    ) -> None:
        """Make sure the history has a row for ``task_id`` (a completed task from elsewhere)."""
        now = time.time()
        with self._tx() as conn:
            conn.execute(
                """
                INSERT OR IGNORE INTO tasks (task_id, payload, model, action, prompt, seed,
                    status, progress, simulated, created_at, updated_at, completed_at)
                VALUES (?, ?, ?, ?, ?, ?, 'completed', 100, ?, ?, ?, ?)
                """,
                (
                    task_id,
                    json.dumps(dict(payload), ensure_ascii=False),
                    payload.get("model"),
                    payload.get("action"),
                    payload.get("prompt"),
                    payload.get("seed"),
                    int(simulated),
                    created_at or now,
                    now,
                    completed_at,
                ),
            )

    @history_op("read")
    def knows(self, task_id: str) -> bool:
        """True when the history has a row for ``task_id``."""
        row = self._conn().execute("SELECT 1 FROM tasks WHERE task_id = ?", (task_id,))
        return row.fetchone() is not None

    @history_op("written")
    def rate(self, task_id: str, index: int, stars: int | None) -> None:
        """Give image ``index`` of a task 1–5 stars (None clears the rating)."""
        value = check_stars(stars)
        with self._tx() as conn:
            self._require_task(conn, task_id)
            if value is None:
                conn.execute("DELETE FROM ratings WHERE task_id = ? AND idx = ?", (task_id, index))
            else:
                conn.execute(
                    "INSERT INTO ratings (task_id, idx, stars, rated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(task_id, idx) DO UPDATE SET stars = excluded.stars, "
                    "rated_at = excluded.rated_at",
                    (task_id, index, value, time.time()),
                )

    @history_op("written")
    def tag(self, task_id: str, index: int, tags: Sequence[str]) -> None:
        """Add tags to image ``index`` of a task (a tag it already has is kept once)."""
        clean = check_tags(tags)
        now = time.time()
        with self._tx() as conn:
            self._require_task(conn, task_id)
            conn.executemany(
                "INSERT OR IGNORE INTO tags (task_id, idx, tag, tagged_at) VALUES (?, ?, ?, ?)",
                # one microsecond apart: read back in the order given
                [(task_id, index, tag, now + i * 1e-6) for i, tag in enumerate(clean)],
            )

    @history_op("written")
    def untag(self, task_id: str, index: int, tags: Sequence[str]) -> None:
        """Remove tags from image ``index`` (all of its tags when none are named)."""
        clean = check_tags(tags)
        with self._tx() as conn:
            if clean:
                conn.executemany(
                    "DELETE FROM tags WHERE task_id = ? AND idx = ? AND tag = ?",
                    [(task_id, index, tag) for tag in clean],
                )
            else:
                conn.execute("DELETE FROM tags WHERE task_id = ? AND idx = ?", (task_id, index))

    @history_op("read")
    def judgements(
        self, task_ids: Sequence[str]
    ) -> dict[str, tuple[dict[int, int], dict[int, tuple[str, ...]]]]:
        """{task_id: ({index: stars}, {index: tags})} for the tasks that have any."""
        stars: dict[str, dict[int, int]] = {}
        tagged: dict[str, dict[int, list[str]]] = {}
        conn = self._conn()
        for start in range(0, len(task_ids), _CHUNK):
            chunk = list(task_ids[start : start + _CHUNK])
            where = f"task_id IN {marks(len(chunk))}"
            for row in conn.execute(
                f"SELECT task_id, idx, stars FROM ratings WHERE {where}",  # noqa: S608
                chunk,
            ):
                stars.setdefault(row["task_id"], {})[row["idx"]] = row["stars"]
            for row in conn.execute(
                f"SELECT task_id, idx, tag FROM tags WHERE {where} "  # noqa: S608
                "ORDER BY tagged_at, tag",
                chunk,
            ):
                tagged.setdefault(row["task_id"], {}).setdefault(row["idx"], []).append(row["tag"])
        out: dict[str, tuple[dict[int, int], dict[int, tuple[str, ...]]]] = {}
        for task_id in {*stars, *tagged}:
            tags = {idx: tuple(names) for idx, names in tagged.get(task_id, {}).items()}
            out[task_id] = (stars.get(task_id, {}), tags)
        return out

    # -- lineage -----------------------------------------------------------------------------
    @history_op("read")
    def lineage(self, task_id: str, *, limit: int = 100) -> list[TaskRecord]:
        """The task and its ancestors, oldest first (a cycle or a missing parent ends it)."""
        chain: list[TaskRecord] = []
        seen: set[str] = set()
        current: str | None = task_id
        while current is not None and current not in seen and len(chain) < limit:
            seen.add(current)
            rows = self._conn().execute("SELECT * FROM tasks WHERE task_id = ?", (current,))
            records = self._records(rows.fetchall())
            if not records:
                break
            chain.append(records[0])
            current = records[0].parent_task_id
        return chain[::-1]

    @history_op("read")
    def children(self, task_id: str) -> list[str]:
        """Tasks made from an image of ``task_id``, oldest first."""
        rows = self._conn().execute(
            "SELECT task_id FROM tasks WHERE parent_task_id = ? ORDER BY created_at", (task_id,)
        )
        return [row["task_id"] for row in rows]

    # -- every record carries them ---------------------------------------------------------------
    def _records(self, rows: Sequence[sqlite3.Row]) -> list[TaskRecord]:
        records = super()._records(rows)
        if not records:
            return records
        ids = [record.task_id for record in records]
        judged = self.judgements(ids)
        parents = {
            row["task_id"]: row["parent_task_id"]
            for row in rows
            if "parent_task_id" in row.keys()  # noqa: SIM118 (sqlite3.Row has no __contains__)
        }
        out = []
        for record in records:
            stars, tags = judged.get(record.task_id, ({}, {}))
            parent = parents.get(record.task_id)
            if stars or tags or parent:
                record = dataclasses.replace(
                    record, ratings=stars, tags=tags, parent_task_id=parent
                )
            out.append(record)
        return out

    @staticmethod
    def _require_task(conn: sqlite3.Connection, task_id: str) -> None:
        row = conn.execute("SELECT 1 FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        if row is None:
            raise ValidationError(
                "task_id", task_id, "not in this history; rate a Result (it adopts its task)"
            )
