"""The history database's schema, its migrations, and the status vocabulary of a task row."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from typing import Final

from ..errors import SeedreamError
from ..task import TaskStatus

DB_NAME: Final = "history.sqlite3"
IMAGES_DIR: Final = "images"
INPUTS_DIR: Final = "inputs"
SCHEMA_VERSION: Final = 3
BUSY_TIMEOUT_SECONDS: Final = 10.0
INPUT_SCHEME: Final = "seedream-input:"
LOST: Final = "lost"  # the server no longer knows the task (HTTP 404 on resume)
# A write-ahead intent: written before its POST is sent, renamed to the task id when the
# answer names it, deleted when the submit provably created nothing. One that stays has no
# id: the task may exist and be billed (the POST was sent, its answer lost or never read).
UNCONFIRMED: Final = "unconfirmed"
INTENT_PREFIX: Final = "intent-"
UNCONFIRMED_MESSAGE: Final = "may be billed — check the provider's console"
PENDING_STATUSES: Final = ("submitted", "queued", "processing")
DONE_STATUSES: Final = ("completed", "failed", "cancelled", LOST, UNCONFIRMED)
# finished and known: a prune may forget them (the two others may hide a billed task)
SETTLED_STATUSES: Final = ("completed", "failed", "cancelled")
# Lost and unconfirmed tasks count: a real one may well have been billed.
UNBILLED_STATUSES: Final = ("failed", "cancelled")
ORPHAN_GRACE_SECONDS: Final = (
    600.0  # prune leaves young unreferenced files (a writer may be mid-save)
)
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
    # version 2: write-ahead intents, images returned, warnings, refused images
    """
    ALTER TABLE tasks ADD COLUMN intent_id TEXT;     -- the write-ahead row this task grew from
    ALTER TABLE tasks ADD COLUMN n_returned INTEGER; -- images the server returned (billing)
    ALTER TABLE tasks ADD COLUMN warning TEXT;       -- what was odd (surplus images, reused id)
    ALTER TABLE images ADD COLUMN refused TEXT;      -- why this image was not kept (a bomb)
    CREATE INDEX tasks_intent ON tasks(intent_id);
    """,
    # version 3: ratings and tags per image, and where an edit's input came from
    """
    ALTER TABLE tasks ADD COLUMN parent_task_id TEXT;  -- the task whose image this one edited
    CREATE INDEX tasks_parent ON tasks(parent_task_id);
    CREATE TABLE ratings (
        task_id    TEXT NOT NULL REFERENCES tasks(task_id) ON DELETE CASCADE,
        idx        INTEGER NOT NULL,
        stars      INTEGER CHECK (stars BETWEEN 1 AND 5),
        rated_at   REAL NOT NULL,
        PRIMARY KEY (task_id, idx)
    ) WITHOUT ROWID;
    CREATE TABLE tags (
        task_id   TEXT NOT NULL REFERENCES tasks(task_id) ON DELETE CASCADE,
        idx       INTEGER NOT NULL,
        tag       TEXT NOT NULL,
        tagged_at REAL NOT NULL,
        PRIMARY KEY (task_id, idx, tag)
    ) WITHOUT ROWID;
    CREATE INDEX tags_tag ON tags(tag);
    """,
)


def marks(count: int) -> str:
    """``(?, ?, ?)``: SQL placeholders for ``count`` values (only ``?`` is ever interpolated)."""
    return "(" + ", ".join("?" * count) + ")"


def status_filter(status: str) -> tuple[str, ...]:
    if status == "pending":
        return PENDING_STATUSES
    if status in PENDING_STATUSES or status in DONE_STATUSES:
        return (status,)
    return (TaskStatus.parse(status).value,)


def migrate(
    conn: sqlite3.Connection, home: object, begin: Callable[[], ContextManager[sqlite3.Connection]]
) -> None:
    """Bring the database at ``conn`` to ``SCHEMA_VERSION`` (WAL mode, idempotent)."""
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
            f"the history at {home} was written by a newer seedream-jupyter "
            f"(schema {version}, this one knows {SCHEMA_VERSION}); upgrade the package "
            "or set SEEDREAM_HOME to another directory"
        )
    with begin() as tx:
        version = tx.execute("PRAGMA user_version").fetchone()[0]
        for number in range(version + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[number - 1].split(";"):
                if statement.strip():
                    tx.execute(statement)
            tx.execute(f"PRAGMA user_version = {number}")


def check_version(conn: sqlite3.Connection, home: object) -> None:
    """A history this package can read without migrating it (a read-only one)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA_VERSION:
        raise SeedreamError(
            f"the history at {home} is read-only and has schema {version}, this package "
            f"reads {SCHEMA_VERSION}: make it writable once (it is upgraded in place) or set "
            "SEEDREAM_HOME to another folder"
        )
