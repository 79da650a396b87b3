"""History writes made by jobs: in order, on the session's writer thread, and never silent.

``required`` is for the write-ahead intent: its failure refuses the submit (nothing is sent).
``best_effort`` is for what follows a paid submit (the task row, images, the final state): the
generation goes on, but each failure is a ``HistoryWarning`` naming the task and the path, so
nothing paid for goes unrecorded without the user hearing of it.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable
from typing import Final, TypeVar

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


def warn(text: str) -> None:
    """A loud, per-occurrence warning about the history (also logged)."""
    text = redact(text)
    logger.warning("history: %s", text)
    warnings.warn(text, HistoryWarning, stacklevel=3)


async def flush() -> None:
    """Wait (bounded) until every history write queued so far is done, so that what a caller
    hears next (an error, a result) is already in the history."""
    try:
        await asyncio.wait_for(required(lambda: None), FLUSH_SECONDS)
    except (asyncio.TimeoutError, RuntimeError):  # a stuck disk, or a writer shut down
        logger.warning("history: writes still pending after %.0f s", FLUSH_SECONDS)
