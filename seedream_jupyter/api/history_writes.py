"""History writes made by jobs, loads and resumes: in order, on the session's writer thread
(SQLite never blocks the event loop), and never silent. Every write the ``api`` layer makes on
behalf of a task goes through here.

``required`` is for the write-ahead intent: its failure refuses the submit (nothing is sent).
``best_effort`` is for what follows a paid submit (the task row, images, the final state): the
generation goes on, but each failure is a ``HistoryWarning`` naming the task and the path, so
nothing paid for goes unrecorded without the user hearing of it. ``queue`` is ``best_effort``
for a callback that cannot wait (a status change seen by the poller); ``blocking`` for a caller
outside the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import warnings
from collections.abc import Callable
from typing import Any, Final, TypeVar

from ..errors import HistoryWarning, redact
from ..session import session

logger = logging.getLogger("seedream_jupyter")
T = TypeVar("T")
FLUSH_SECONDS: Final = 10.0  # how long a job's end waits for its history writes


async def required(fn: Callable[[], T]) -> T:
    """Run ``fn`` on the history writer (after every write queued before it); its error raises."""
    return await asyncio.wrap_future(session().history_writer.submit(fn))


async def best_effort(what: str, fn: Callable[[], T]) -> T | None:
    """Run ``fn`` on the history writer; a failure is warned about, and None returned."""
    try:
        return await required(fn)
    except Exception as exc:
        warn(f"{what} failed: {exc}")
        return None


def queue(what: str, fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
    """Queue ``fn`` on the history writer without waiting for it; a failure is warned about."""
    future = session().history_writer.submit(fn)
    future.add_done_callback(functools.partial(_warn_if_failed, what))
    return future


def blocking(what: str, fn: Callable[[], T]) -> T | None:
    """``best_effort`` for a caller outside the event loop: waits for the write."""
    try:
        return session().history_writer.submit(fn).result()
    except Exception as exc:
        warn(f"{what} failed: {exc}")
        return None


def _warn_if_failed(what: str, future: concurrent.futures.Future[Any]) -> None:
    error = None if future.cancelled() else future.exception()
    if error is not None:
        warn(f"{what} failed: {error}")


def warn(text: str) -> None:
    """A loud, per-occurrence warning about the history (logged at INFO: Python's fallback
    handler would print it a second time at WARNING)."""
    text = redact(text)
    logger.info("history: %s", text)
    warnings.warn(text, HistoryWarning, stacklevel=3)


async def flush() -> None:
    """Wait (bounded) until every history write queued so far is done, so that what a caller
    hears next (an error, a result) is already in the history."""
    try:
        await asyncio.wait_for(required(lambda: None), FLUSH_SECONDS)
    except (asyncio.TimeoutError, RuntimeError):  # a stuck disk, or a writer shut down
        logger.warning(
            "history: writes still pending after %.0f s (a slow or stuck disk?): what follows "
            "may not be in sj.history() yet; it is written when the disk answers",
            FLUSH_SECONDS,
        )
