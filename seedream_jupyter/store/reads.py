"""Reading the history: tasks by id, status or cache key, their images, and the money spent."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import catalog
from ..request import GenerationRequest
from .base import StoreBase, history_op
from .records import ImageRecord, SpendRow, TaskRecord, server_of
from .schema import PENDING_STATUSES, UNBILLED_STATUSES, marks, status_filter


class StoreReads(StoreBase):
    @history_op("read")
    def image_paths(self, task_id: str) -> list[Path]:
        """Saved image files of a task that exist, ordered by index."""
        rows = self._conn().execute(
            "SELECT path FROM images WHERE task_id = ? AND path IS NOT NULL ORDER BY idx",
            (task_id,),
        )
        paths = [self.home / row["path"] for row in rows]
        return [p for p in paths if p.is_file()]

    @history_op("read")
    def get(self, task_id: str) -> TaskRecord | None:
        row = self._conn().execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        return None if row is None else self._records([row])[0]

    @history_op("read")
    def find_cached(
        self, request: GenerationRequest, *, base_url: str, simulated: bool
    ) -> TaskRecord | None:
        """A completed task for the same request on the same server, with every image on disk.

        Only requests with a fixed seed are answered from cache: ``seed=-1`` means a new
        picture each time. Simulated requests match any simulator (same seed, same picture);
        others the same host[:port] only. ``record.simulated`` says what the images are.
        """
        if request.seed == catalog.RANDOM_SEED:
            return None
        query = "SELECT * FROM tasks WHERE cache_key = ? AND status = 'completed' AND "
        params: list[Any] = [request.cache_key()]
        if simulated:
            query += "simulated = 1"
        else:
            # the same server, whatever it was: a client learns that it talks to a simulator
            # only from the first answer, and the record keeps what the server said it was
            query += "server = ?"
            params.append(server_of(base_url))
        query += " ORDER BY completed_at DESC, created_at DESC LIMIT 20"
        rows = self._conn().execute(query, params).fetchall()
        for record in self._records(rows):
            if record.all_on_disk and not record.refused:
                return record
        return None

    @history_op("read")
    def pending(self, *, base_url: str | None = None) -> list[TaskRecord]:
        """Tasks not finished yet (submitted, queued, processing), oldest first."""
        query = f"SELECT * FROM tasks WHERE status IN {marks(len(PENDING_STATUSES))}"  # noqa: S608
        params: list[Any] = list(PENDING_STATUSES)
        if base_url is not None:
            query += " AND server = ?"
            params.append(server_of(base_url))
        query += " ORDER BY created_at, rowid"
        return self._records(self._conn().execute(query, params).fetchall())

    @history_op("read")
    def history(self, limit: int | None = None, status: str | None = None) -> list[TaskRecord]:
        """Tasks, newest first (unconfirmed submits included); ``status`` is a status name or
        ``"pending"``."""
        query = "SELECT * FROM tasks"
        params: list[Any] = []
        if status is not None:
            wanted = status_filter(status)
            query += f" WHERE status IN {marks(len(wanted))}"
            params.extend(wanted)
        query += " ORDER BY created_at DESC, rowid DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(max(0, int(limit)))
        return self._records(self._conn().execute(query, params).fetchall())

    def durations(
        self, *, base_url: str, limit: int = 2000
    ) -> list[tuple[str, str, str, int, float]]:
        """(model, action, resolution, images asked, seconds from submit to completion) of
        the newest completed real tasks on ``base_url``'s server, oldest first (the poller
        learns from them). Simulated tasks are left out: the history does not say at what
        speed they ran. The seconds run from the local submit to the server's completion
        stamp, so a server clock far off skews them; the poller's own looks correct that.
        """
        rows = (
            self._conn()
            .execute(
                "SELECT model, action, n_expected, payload, completed_at - created_at AS seconds "
                "FROM tasks WHERE status = 'completed' AND simulated = 0 AND server = ? "
                "AND completed_at > created_at ORDER BY completed_at DESC LIMIT ?",
                (server_of(base_url), max(0, int(limit))),
            )
            .fetchall()
        )
        found = []
        for row in reversed(rows):
            try:
                resolution = json.loads(row["payload"] or "{}").get("resolution")
            except (ValueError, AttributeError):
                continue
            if row["model"] and row["action"] and isinstance(resolution, str):
                images = int(row["n_expected"] or 1)
                found.append((row["model"], row["action"], resolution, images, row["seconds"]))
        return found

    def _records(self, rows: Sequence[sqlite3.Row]) -> list[TaskRecord]:
        if not rows:
            return []
        ids = [row["task_id"] for row in rows]
        images: dict[str, list[ImageRecord]] = {task_id: [] for task_id in ids}
        conn = self._conn()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for img in conn.execute(
                f"SELECT * FROM images WHERE task_id IN {marks(len(chunk))} "  # noqa: S608
                "ORDER BY task_id, idx",
                chunk,
            ):
                images[img["task_id"]].append(
                    ImageRecord(
                        index=img["idx"],
                        url=img["url"],
                        expires_at=img["expires_at"],
                        path=self.home / img["path"] if img["path"] else None,
                        sha256=img["sha256"],
                        width=img["width"],
                        height=img["height"],
                        bytes=img["bytes"],
                        refused=img["refused"],
                    )
                )
        return [
            TaskRecord(
                task_id=row["task_id"],
                payload=json.loads(row["payload"] or "{}"),
                model=row["model"],
                action=row["action"],
                prompt=row["prompt"],
                seed=row["seed"],
                status=row["status"],
                progress=row["progress"],
                error_code=row["error_code"],
                error_message=row["error_message"],
                cost_usd=row["cost_usd"],
                base_url=row["base_url"],
                simulated=bool(row["simulated"]),
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                completed_at=row["completed_at"],
                images=tuple(images[row["task_id"]]),
                home=self.home,
                intent_id=row["intent_id"],
                n_returned=row["n_returned"],
                warning=row["warning"],
            )
            for row in rows
        ]

    # -- money -------------------------------------------------------------------------------
    @history_op("read")
    def spent_usd(self, *, simulated: bool, since: float | None = None) -> float:
        """Estimated spend of tasks not failed or cancelled (pending and lost ones count)."""
        query = (
            "SELECT COALESCE(SUM(cost_usd), 0) FROM tasks WHERE simulated = ? "  # noqa: S608
            f"AND status NOT IN {marks(len(UNBILLED_STATUSES))}"
        )
        params: list[Any] = [int(simulated), *UNBILLED_STATUSES]
        if since is not None:
            query += " AND created_at >= ?"
            params.append(since)
        return round(float(self._conn().execute(query, params).fetchone()[0]), 6)

    @history_op("read")
    def spend(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        simulated: bool | None = None,
        model: str | None = None,
    ) -> list[SpendRow]:
        """Estimated spend by local day, model and real/simulated; newest day first."""
        query = f"""
            SELECT date(t.created_at, 'unixepoch', 'localtime') AS day,
                   COALESCE(t.model, '?') AS model, t.simulated AS simulated,
                   COUNT(*) AS tasks, SUM(t.cost_usd) AS cost,
                   SUM((SELECT COUNT(*) FROM images i WHERE i.task_id = t.task_id)) AS images
            FROM tasks t
            WHERE t.status NOT IN {marks(len(UNBILLED_STATUSES))}
        """  # noqa: S608
        params: list[Any] = list(UNBILLED_STATUSES)
        for clause, value in (
            ("t.created_at >= ?", since),
            ("t.created_at < ?", until),
            ("t.simulated = ?", None if simulated is None else int(simulated)),
            ("t.model = ?", None if model is None else catalog.ALIASES.get(model, model)),
        ):
            if value is not None:
                query += f" AND {clause}"
                params.append(value)
        query += " GROUP BY day, t.model, t.simulated ORDER BY day DESC, t.simulated, t.model"
        return [
            SpendRow(
                day=row["day"],
                model=row["model"],
                simulated=bool(row["simulated"]),
                tasks=int(row["tasks"]),
                images=int(row["images"] or 0),
                cost_usd=round(float(row["cost"] or 0), 6),
            )
            for row in self._conn().execute(query, params)
        ]
