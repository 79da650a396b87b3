"""Freeing disk space: forgetting finished tasks and deleting files no task uses."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .base import StoreBase, history_op
from .records import PruneReport
from .schema import (
    DONE_STATUSES,
    IMAGES_DIR,
    INPUTS_DIR,
    ORPHAN_GRACE_SECONDS,
    SETTLED_STATUSES,
    marks,
)


class StorePrune(StoreBase):
    @history_op("pruned")
    def prune(
        self,
        *,
        older_than_days: float | None = None,
        keep_last: int | None = None,
        simulated_only: bool = False,
        status: str | None = None,
        task_ids: Sequence[str] | None = None,
        dry_run: bool = False,
    ) -> PruneReport:
        """Forget finished tasks matching every given filter and delete files nothing uses.

        Pending tasks are never pruned. Tasks that may be billed (``unconfirmed`` intents,
        ``lost`` tasks) are kept unless ``status`` names them: they are the only trace of money
        that may have been spent, and the budget counts them. With no filter at all only
        unreferenced files (left by crashes or by earlier prunes) are removed.
        """
        prunable = DONE_STATUSES if status is not None else SETTLED_STATUSES
        where = [f"status IN {marks(len(prunable))}"]
        params: list[Any] = list(prunable)
        if older_than_days is not None:
            where.append("created_at < ?")
            params.append(time.time() - older_than_days * 86400)
        if keep_last is not None:
            where.append(
                "task_id NOT IN (SELECT task_id FROM tasks ORDER BY created_at DESC, rowid DESC "
                "LIMIT ?)"
            )
            params.append(max(0, int(keep_last)))
        if simulated_only:
            where.append("simulated = 1")
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if task_ids is not None:
            ids = list(task_ids)
            where.append(f"task_id IN {marks(len(ids))}" if ids else "0")
            params.extend(ids)
        filtered = len(where) > 1 or simulated_only
        removed_tasks = removed_images = 0
        candidates: set[str] = set()
        victims: list[str] = []
        if filtered:
            with self._tx() as conn:
                victims = [
                    row["task_id"]
                    for row in conn.execute(
                        f"SELECT task_id FROM tasks WHERE {' AND '.join(where)}",  # noqa: S608
                        params,
                    )
                ]
                for start in range(0, len(victims), 500):
                    chunk = victims[start : start + 500]
                    placeholders = marks(len(chunk))
                    for table in ("images", "inputs"):
                        candidates.update(
                            row["path"]
                            for row in conn.execute(
                                f"SELECT path FROM {table} WHERE task_id IN {placeholders} "  # noqa: S608
                                "AND path IS NOT NULL",
                                chunk,
                            )
                        )
                    removed_images += conn.execute(
                        f"SELECT COUNT(*) FROM images WHERE task_id IN {placeholders}",  # noqa: S608
                        chunk,
                    ).fetchone()[0]
                    if not dry_run:
                        conn.execute(f"DELETE FROM tasks WHERE task_id IN {placeholders}", chunk)  # noqa: S608
                removed_tasks = len(victims)
        files, freed = self._delete_unreferenced(
            candidates, set(victims) if dry_run else set(), dry_run=dry_run
        )
        return PruneReport(removed_tasks, removed_images, files, freed, dry_run)

    def _referenced(self, ignoring: set[str]) -> set[str]:
        """Paths some task uses (tasks in ``ignoring`` do not count)."""
        conn = self._conn()
        rows = conn.execute(
            "SELECT task_id, path FROM images WHERE path IS NOT NULL "
            "UNION ALL SELECT task_id, path FROM inputs"
        )
        return {row[1] for row in rows if row[0] not in ignoring}

    def _delete_unreferenced(
        self, candidates: set[str], ignoring: set[str], *, dry_run: bool
    ) -> tuple[int, int]:
        """Delete the candidates no row uses any more, then old orphans and stale temp files.

        The folders are walked first; the check against the rows and the deletion happen under
        the write lock, and writers re-check their files under it too (a content-addressed
        file another kernel is just re-using is never lost).
        """
        cutoff = time.time() - ORPHAN_GRACE_SECONDS
        found: list[tuple[str, Path]] = []
        for kind in (IMAGES_DIR, INPUTS_DIR):
            root = self.home / kind
            if not root.is_dir():
                continue
            for path in root.rglob("*"):
                rel = path.relative_to(self.home).as_posix()
                with contextlib.suppress(OSError):
                    if path.is_file() and (rel in candidates or path.stat().st_mtime < cutoff):
                        found.append((rel, path))
        files = freed = 0
        with contextlib.nullcontext() if dry_run else self._tx():
            referenced = self._referenced(ignoring)
            for rel, path in found:
                if rel in referenced:
                    continue
                try:
                    size = path.stat().st_size
                    if not dry_run:
                        path.unlink()
                except OSError:
                    continue
                if not dry_run:
                    with contextlib.suppress(OSError):
                        path.parent.rmdir()  # only succeeds when the fan-out folder is empty
                files += 1
                freed += size
        return files, freed
