"""The Store's foundation: one SQLite connection per thread, write transactions, migration,
and the one translation of SQLite and file-system failures into ``HistoryError``."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, TypeVar

from .. import config
from ..errors import HistoryError, SeedreamError
from .schema import BUSY_TIMEOUT_SECONDS, DB_NAME, check_version, migrate

F = TypeVar("F", bound=Callable[..., object])
# A submit is refused below this much free space: its images could not be saved.
MIN_FREE_BYTES: Final = 16 * 1024 * 1024
_FULL: Final = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_READ_ONLY: Final = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def describe_failure(exc: BaseException, home: Path) -> str:
    """What went wrong with the history at ``home``, in words, with the fix."""
    db = home / DB_NAME
    text = str(exc) or type(exc).__name__
    name = getattr(exc, "sqlite_errorname", "")
    number = getattr(exc, "errno", None)
    if number in (errno.ENOTDIR, errno.EEXIST) or (home.exists() and not home.is_dir()):
        return f"{home} is not a folder ({text}): set SEEDREAM_HOME to a folder"
    if name == "SQLITE_FULL" or number in _FULL or "disk is full" in text:
        return f"the disk holding {home} is full ({text}): free some space"
    if (
        name in ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")
        or number in _READ_ONLY
        or "readonly" in text
    ):
        return (
            f"{home} cannot be written ({text}): make it writable or set SEEDREAM_HOME "
            "to a writable folder"
        )
    if name in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        return f"another process kept the history at {home} locked ({text}): try again"
    if name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or type(exc) is sqlite3.DatabaseError:
        return (
            f"the history database {db} is damaged ({text}): move it aside (for example "
            f"to {db.name}.broken; a new one is then made) or set SEEDREAM_HOME to another folder"
        )
    return f"{home}: {text}"


@contextlib.contextmanager
def translated(home: Path, doing: str) -> Iterator[None]:
    """Raise SQLite and OS failures inside as ``HistoryError`` naming the path and the fix."""
    try:
        yield
    except SeedreamError:
        raise
    except (sqlite3.Error, OSError) as exc:
        raise HistoryError(
            f"the history could not be {doing}: {describe_failure(exc, home)}", path=home
        ) from exc


def history_op(doing: str) -> Callable[[F], F]:
    """Decorate a Store method: its SQLite and OS failures become ``HistoryError``."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(self: StoreBase, *args: object, **kwargs: object) -> object:
            with translated(self.home, doing):
                return fn(self, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


class StoreBase:
    """History of tasks and their images under one home directory; safe across threads and
    processes."""

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.home: Path = config.home_dir(home).expanduser().resolve()
        self.db_path = self.home / DB_NAME
        self._local = threading.local()
        # A history on a read-only disk can still be read (its images loaded, its spend
        # listed); every write, a submit's intent first, is then refused with HistoryError.
        self.read_only = self.db_path.is_file() and not os.access(self.home, os.W_OK)
        with translated(self.home, "opened"):
            if self.read_only:
                check_version(self._conn(), self.home)
            else:
                self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
                migrate(self._conn(), self.home, self._tx)

    def __repr__(self) -> str:
        return f"Store({str(self.home)!r})"

    # -- connections -------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        if self.read_only:
            # no -wal file: nothing unsaved, and "immutable" needs no -shm it could not create
            wal = self.db_path.with_name(self.db_path.name + "-wal").exists()
            uri = f"{self.db_path.as_uri()}?mode=ro{'' if wal else '&immutable=1'}"
            conn = sqlite3.connect(
                uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
            )
        else:
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
            conn.execute("COMMIT")
        except BaseException:
            # SQLite may have rolled back on its own (a full disk): never mask the cause
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        with translated(self.home, "read"):
            return int(self._conn().execute("PRAGMA user_version").fetchone()[0])

    def check_space(self) -> None:
        """``HistoryError`` when the disk is (nearly) full: a submit's images could not be saved."""
        try:
            free = shutil.disk_usage(self.home).free
        except OSError:
            return  # cannot tell: the writes themselves will say
        if free < MIN_FREE_BYTES:
            raise HistoryError(
                f"the history could not be written: the disk holding {self.home} has only "
                f"{free / 1024:.0f} KB free (a submit needs {MIN_FREE_BYTES // 2**20} MB for "
                "its images): free some space",
                path=self.home,
            )
