"""History on disk: a SQLite database plus content-addressed image files under ``SEEDREAM_HOME``.

Layout of the home directory::

    history.sqlite3            tasks, their images and their input images (WAL mode)
    images/ab/abcd….jpg        result images, named by the sha256 of their final bytes
    inputs/12/1234….png        reference images sent as data: URIs, stored once each

A task row is written the moment a submit returns its id, updated on every status
change, and its images are saved as soon as it completes, so an expired URL, a kernel
restart or an interrupted wait never loses a picture that was paid for.

Files are written atomically (temporary file + ``os.replace``) and carry their
provenance (prompt, model, seed, task id) in PNG text chunks or a JPEG comment
(:mod:`seedream_jupyter.provenance`). Several threads and processes may use one home
at once: every thread gets its own connection, writes run in ``BEGIN IMMEDIATE``
transactions and wait up to ``BUSY_TIMEOUT_SECONDS`` for the lock.

The request JSON stored is ``request.to_payload()`` — it never holds the API key,
which lives only in HTTP headers. Large ``data:`` URIs are moved to ``inputs/`` and
replaced in the stored payload by ``seedream-input:`` references; ``TaskRecord.request``
restores them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from . import catalog, config, provenance
from .errors import SeedreamError, ValidationError
from .request import GenerationRequest, sniff_image_format
from .task import ImageRef, Task, TaskStatus

DB_NAME: Final = "history.sqlite3"
IMAGES_DIR: Final = "images"
INPUTS_DIR: Final = "inputs"
SCHEMA_VERSION: Final = 1
BUSY_TIMEOUT_SECONDS: Final = 10.0
INPUT_SCHEME: Final = "seedream-input:"
LOST: Final = "lost"  # the server no longer knows the task (HTTP 404 on resume)
PENDING_STATUSES: Final = ("submitted", "queued", "processing")
DONE_STATUSES: Final = ("completed", "failed", "cancelled", LOST)
# Lost tasks count: the server forgot them, but a real one may well have been billed.
UNBILLED_STATUSES: Final = ("failed", "cancelled")
ORPHAN_GRACE_SECONDS: Final = (
    600.0  # prune leaves young unreferenced files (a writer may be mid-save)
)
_EXT: Final = {"jpeg": ".jpg", "png": ".png", "webp": ".webp"}

_MIGRATIONS: Final[tuple[str, ...]] = (
    # version 1
    """
    CREATE TABLE tasks (
        task_id       TEXT PRIMARY KEY,
        payload       TEXT NOT NULL,          -- request.to_payload(), data: URIs moved to inputs/
        cache_key     TEXT,                   -- request.cache_key()
        model         TEXT,
        action        TEXT,
        prompt        TEXT,
        seed          INTEGER,
        n_expected    INTEGER,
        status        TEXT NOT NULL,
        progress      INTEGER NOT NULL DEFAULT 0,
        error_code    TEXT,
        error_message TEXT,
        cost_usd      REAL NOT NULL DEFAULT 0, -- estimate, lowered to the images returned
        base_url      TEXT,
        server        TEXT,                   -- host[:port] of base_url
        simulated     INTEGER NOT NULL DEFAULT 0,
        created_at    REAL NOT NULL,
        updated_at    REAL NOT NULL,
        completed_at  REAL
    );
    CREATE INDEX tasks_created ON tasks(created_at);
    CREATE INDEX tasks_status ON tasks(status);
    CREATE INDEX tasks_cache ON tasks(cache_key);
    CREATE TABLE images (
        task_id    TEXT NOT NULL REFERENCES tasks(task_id) ON DELETE CASCADE,
        idx        INTEGER NOT NULL,
        url        TEXT,
        expires_at REAL,
        path       TEXT,                      -- relative to the home directory
        sha256     TEXT,
        width      INTEGER,
        height     INTEGER,
        bytes      INTEGER,
        saved_at   REAL,
        PRIMARY KEY (task_id, idx)
    ) WITHOUT ROWID;
    CREATE INDEX images_path ON images(path);
    CREATE TABLE inputs (
        task_id TEXT NOT NULL REFERENCES tasks(task_id) ON DELETE CASCADE,
        idx     INTEGER NOT NULL,
        path    TEXT NOT NULL,
        PRIMARY KEY (task_id, idx)
    ) WITHOUT ROWID;
    CREATE INDEX inputs_path ON inputs(path);
    """,
)


def _marks(count: int) -> str:
    """``(?, ?, ?)``: SQL placeholders for ``count`` values (only ``?`` is ever interpolated)."""
    return "(" + ", ".join("?" * count) + ")"


def _status_filter(status: str) -> tuple[str, ...]:
    if status == "pending":
        return PENDING_STATUSES
    if status in PENDING_STATUSES or status in DONE_STATUSES:
        return (status,)
    return (TaskStatus.parse(status).value,)


# -- records ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageRecord:
    """One result image: its (expiring) link and, once saved, its file."""

    index: int
    url: str | None
    expires_at: float | None
    path: Path | None
    sha256: str | None
    width: int | None
    height: int | None
    bytes: int | None

    @property
    def on_disk(self) -> bool:
        return self.path is not None and self.path.is_file()

    @property
    def url_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= time.time()


@dataclass(frozen=True)
class TaskRecord:
    """One task as the history knows it. ``request`` is rebuilt from ``payload`` on access."""

    task_id: str
    payload: Mapping[str, Any]
    model: str | None
    action: str | None
    prompt: str | None
    seed: int | None
    status: str
    progress: int
    error_code: str | None
    error_message: str | None
    cost_usd: float
    base_url: str | None
    simulated: bool
    created_at: float
    updated_at: float
    completed_at: float | None
    images: tuple[ImageRecord, ...] = ()
    home: Path = field(default=Path(), repr=False, compare=False)

    @cached_property
    def request(self) -> GenerationRequest:
        """The request, validated again; a row an older catalog cannot validate is rebuilt as is."""
        payload = _restore_inputs(self.payload, self.home)
        try:
            return GenerationRequest.from_payload(payload)
        except (ValidationError, TypeError, ValueError):
            return _unvalidated_request(payload, self.model, self.action)

    @property
    def is_pending(self) -> bool:
        return self.status in PENDING_STATUSES

    @property
    def paths(self) -> list[Path]:
        """Saved image files that exist, in order."""
        return [img.path for img in self.images if img.path is not None and img.path.is_file()]

    @property
    def all_on_disk(self) -> bool:
        return bool(self.images) and all(img.on_disk for img in self.images)

    @property
    def urls(self) -> list[str]:
        return [img.url for img in self.images if img.url]

    def to_task(self) -> Task:
        """A ``Task`` with the last state seen (for building a Result)."""
        return Task(
            task_id=self.task_id,
            status=TaskStatus.parse(self.status if self.status != LOST else "failed"),
            progress=self.progress,
            model=self.model,
            action=self.action,
            created_at=self.created_at,
            completed_at=self.completed_at,
            images=tuple(ImageRef(img.url or "", img.expires_at) for img in self.images),
            error_code=self.error_code,
            error_message=self.error_message,
        )


@dataclass(frozen=True)
class SpendRow:
    """Estimated spend for one day (local time), model and kind (real or simulated)."""

    day: str
    model: str
    simulated: bool
    tasks: int
    images: int
    cost_usd: float


@dataclass(frozen=True)
class PruneReport:
    tasks: int
    images: int
    files: int
    bytes_freed: int
    dry_run: bool = False

    def __str__(self) -> str:
        verb = "would free" if self.dry_run else "freed"
        return (
            f"{verb} {self.bytes_freed / 1e6:.1f} MB: {self.tasks} tasks, "
            f"{self.images} image rows, {self.files} files"
        )


# -- helpers ---------------------------------------------------------------------------------
def server_of(base_url: str | None) -> str | None:
    """The host[:port] that identifies a server (lower-case)."""
    if not base_url:
        return None
    parts = urlsplit(base_url)
    return (parts.netloc or base_url).lower()


def _unvalidated_request(
    payload: Mapping[str, Any], model: str | None, action: str | None
) -> GenerationRequest:
    """A GenerationRequest built without validation, for rows the catalog no longer accepts."""
    values: dict[str, Any] = {
        f.name: f.default for f in fields(GenerationRequest) if f.default is not MISSING
    }
    values["prompt"] = ""
    for f in fields(GenerationRequest):
        if f.name in payload:
            values[f.name] = payload[f.name]
    values["model"] = payload.get("model") or model or catalog.DEFAULT_MODEL
    values["action"] = payload.get("action") or action or "generate"
    values["image_urls"] = tuple(payload.get("image_urls") or ())
    request = object.__new__(GenerationRequest)
    for name, value in values.items():
        object.__setattr__(request, name, value)
    return request


def _restore_inputs(payload: Mapping[str, Any], home: Path) -> dict[str, Any]:
    restored = dict(payload)
    urls = payload.get("image_urls")
    if not isinstance(urls, list) or not any(
        isinstance(u, str) and u.startswith(INPUT_SCHEME) for u in urls
    ):
        return restored
    out: list[Any] = []
    for url in urls:
        if isinstance(url, str) and url.startswith(INPUT_SCHEME):
            rel, _, prefix = url[len(INPUT_SCHEME) :].partition("#")
            try:
                raw = (home / rel).read_bytes()
            except OSError:
                out.append(url)  # the file is gone: the request cannot be rebuilt exactly
                continue
            out.append(f"{prefix},{base64.b64encode(raw).decode('ascii')}")
        else:
            out.append(url)
    restored["image_urls"] = out
    return restored


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file, or all of the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_content(path: Path, data: bytes) -> None:
    """Content-addressed write: an existing file of the right size already holds these bytes."""
    try:
        if path.stat().st_size == len(data):
            return
    except OSError:
        pass
    _write_atomic(path, data)


def _image_size(data: bytes) -> tuple[int | None, int | None]:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            return int(width), int(height)
    except Exception:  # not decodable: keep the bytes anyway, without a size
        return None, None


def _content_path(kind: str, digest: str, ext: str) -> str:
    return f"{kind}/{digest[:2]}/{digest}{ext}"


# -- the store -------------------------------------------------------------------------------
class Store:
    """History of tasks and their images under one home directory; safe across threads and
    processes."""

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.home: Path = config.home_dir(home).expanduser().resolve()
        self.db_path = self.home / DB_NAME
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._local = threading.local()
        self._migrate()

    def __repr__(self) -> str:
        return f"Store({str(self.home)!r})"

    # -- connections -------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (a new one after a fork)."""
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None or getattr(local, "pid", None) != os.getpid():
            conn = self._open()
            local.conn = conn
            local.pid = os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; takes the write lock at once so it never deadlocks."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _migrate(self) -> None:
        conn = self._conn()
        for attempt in range(50):
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError:  # another process is converting it right now
                if attempt == 49:
                    raise
                time.sleep(0.05)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise SeedreamError(
                f"the history at {self.home} was written by a newer seedream-jupyter "
                f"(schema {version}, this one knows {SCHEMA_VERSION}); upgrade the package "
                "or set SEEDREAM_HOME to another directory"
            )
        with self._tx() as tx:
            version = tx.execute("PRAGMA user_version").fetchone()[0]
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[number - 1].split(";"):
                    if statement.strip():
                        tx.execute(statement)
                tx.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return int(self._conn().execute("PRAGMA user_version").fetchone()[0])

    # -- writes ------------------------------------------------------------------------------
    def record_submitted(
        self, task: Task, request: GenerationRequest, *, base_url: str, simulated: bool
    ) -> None:
        """Write the task row as soon as a submit has returned an id."""
        payload, inputs = self._store_inputs(request.to_payload())
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
                _write_content(self.home / rel, raw)
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
                    (round(len(task.images) * spec.price_per_image_usd, 6), task.task_id),
                )
        conn.executemany(
            """
            INSERT INTO images (task_id, idx, url, expires_at) VALUES (?, ?, ?, ?)
            ON CONFLICT(task_id, idx) DO UPDATE SET
                url = excluded.url, expires_at = COALESCE(excluded.expires_at, expires_at)
            """,
            [(task.task_id, idx, ref.url, ref.expires_at) for idx, ref in enumerate(task.images)],
        )

    def _store_inputs(
        self, payload: dict[str, Any]
    ) -> tuple[dict[str, Any], list[tuple[int, str, bytes]]]:
        """Move data: URIs out of the payload into content-addressed files under inputs/."""
        urls = payload.get("image_urls")
        if not isinstance(urls, list):
            return payload, []
        stored: list[tuple[int, str, bytes]] = []
        light: list[Any] = []
        for idx, url in enumerate(urls):
            if not (isinstance(url, str) and url[:5].lower() == "data:"):
                light.append(url)
                continue
            prefix, _, encoded = url.partition(",")
            try:
                raw = base64.b64decode(encoded, validate=False)
            except (binascii.Error, ValueError):
                light.append(url)
                continue
            digest = hashlib.sha256(raw).hexdigest()
            ext = _EXT.get(sniff_image_format(raw[:16]) or "", ".bin")
            rel = _content_path(INPUTS_DIR, digest, ext)
            _write_content(self.home / rel, raw)
            stored.append((idx, rel, raw))
            light.append(f"{INPUT_SCHEME}{rel}#{prefix}")
        return {**payload, "image_urls": light}, stored

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
        ext = _EXT.get(sniff_image_format(final[:16]) or "", ".bin")
        rel = _content_path(IMAGES_DIR, digest, ext)
        path = self.home / rel
        _write_content(path, final)
        width, height = _image_size(final)
        with self._tx() as conn:
            _write_content(path, final)  # under the lock: a prune may have taken it just now
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

    # -- reads -------------------------------------------------------------------------------
    def image_paths(self, task_id: str) -> list[Path]:
        """Saved image files of a task that exist, ordered by index."""
        rows = self._conn().execute(
            "SELECT path FROM images WHERE task_id = ? AND path IS NOT NULL ORDER BY idx",
            (task_id,),
        )
        paths = [self.home / row["path"] for row in rows]
        return [p for p in paths if p.is_file()]

    def get(self, task_id: str) -> TaskRecord | None:
        row = self._conn().execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        return None if row is None else self._records([row])[0]

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
            if record.all_on_disk:
                return record
        return None

    def pending(self, *, base_url: str | None = None) -> list[TaskRecord]:
        """Tasks not finished yet (submitted, queued, processing), oldest first."""
        query = f"SELECT * FROM tasks WHERE status IN {_marks(len(PENDING_STATUSES))}"  # noqa: S608
        params: list[Any] = list(PENDING_STATUSES)
        if base_url is not None:
            query += " AND server = ?"
            params.append(server_of(base_url))
        query += " ORDER BY created_at, rowid"
        return self._records(self._conn().execute(query, params).fetchall())

    def history(self, limit: int | None = None, status: str | None = None) -> list[TaskRecord]:
        """Tasks, newest first; ``status`` is a status name or ``"pending"``."""
        query = "SELECT * FROM tasks"
        params: list[Any] = []
        if status is not None:
            wanted = _status_filter(status)
            query += f" WHERE status IN {_marks(len(wanted))}"
            params.extend(wanted)
        query += " ORDER BY created_at DESC, rowid DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(max(0, int(limit)))
        return self._records(self._conn().execute(query, params).fetchall())

    def _records(self, rows: Sequence[sqlite3.Row]) -> list[TaskRecord]:
        if not rows:
            return []
        ids = [row["task_id"] for row in rows]
        images: dict[str, list[ImageRecord]] = {task_id: [] for task_id in ids}
        conn = self._conn()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for img in conn.execute(
                f"SELECT * FROM images WHERE task_id IN {_marks(len(chunk))} "  # noqa: S608
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
            )
            for row in rows
        ]

    # -- money -------------------------------------------------------------------------------
    def spent_usd(self, *, simulated: bool, since: float | None = None) -> float:
        """Estimated spend of tasks not failed or cancelled (pending and lost ones count)."""
        query = (
            "SELECT COALESCE(SUM(cost_usd), 0) FROM tasks WHERE simulated = ? "  # noqa: S608
            f"AND status NOT IN {_marks(len(UNBILLED_STATUSES))}"
        )
        params: list[Any] = [int(simulated), *UNBILLED_STATUSES]
        if since is not None:
            query += " AND created_at >= ?"
            params.append(since)
        return round(float(self._conn().execute(query, params).fetchone()[0]), 6)

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
            WHERE t.status NOT IN {_marks(len(UNBILLED_STATUSES))}
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

    # -- disk space --------------------------------------------------------------------------
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

        Pending tasks are never pruned. With no filter at all only unreferenced files
        (left by crashes or by earlier prunes) are removed.
        """
        where = [f"status IN {_marks(len(DONE_STATUSES))}"]
        params: list[Any] = list(DONE_STATUSES)
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
            where.append(f"task_id IN {_marks(len(ids))}" if ids else "0")
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
                    marks = _marks(len(chunk))
                    for table in ("images", "inputs"):
                        candidates.update(
                            row["path"]
                            for row in conn.execute(
                                f"SELECT path FROM {table} WHERE task_id IN {marks} "  # noqa: S608
                                "AND path IS NOT NULL",
                                chunk,
                            )
                        )
                    removed_images += conn.execute(
                        f"SELECT COUNT(*) FROM images WHERE task_id IN {marks}",  # noqa: S608
                        chunk,
                    ).fetchone()[0]
                    if not dry_run:
                        conn.execute(f"DELETE FROM tasks WHERE task_id IN {marks}", chunk)  # noqa: S608
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


# -- one store per home directory --------------------------------------------------------------
_stores: dict[Path, Store] = {}
_stores_lock = threading.Lock()


def open_store(home: str | os.PathLike[str] | None = None) -> Store:
    """The shared Store of a home directory (one per resolved path and process)."""
    path = config.home_dir(home).expanduser().resolve()
    with _stores_lock:
        store = _stores.get(path)
        if store is None:
            store = _stores[path] = Store(path)
        return store


def default_store() -> Store:
    """The store for the current ``SEEDREAM_HOME`` (or the platform's data directory)."""
    return open_store()
