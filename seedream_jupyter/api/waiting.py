"""Waiting in the caller's thread while jobs run: refreshing the progress view, then telling
the user, once, when the images are synthetic."""

from __future__ import annotations

import concurrent.futures
import logging
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from ..results import Result, ResultSet
from ..session import SIMULATOR_NOTICE, ProgressView

logger = logging.getLogger("seedream_jupyter")
TICK_SECONDS: Final = 0.1  # how often a waiting helper redraws its progress view
_PACKAGE_DIR: Final = str(Path(__file__).resolve().parents[1])


class SimulatorWarning(UserWarning):
    """Images came from the simulator, not from Seedream."""


def refresh(view: ProgressView | None, final: bool = False) -> None:
    if view is None:
        return
    try:
        if final:
            view.close()
        else:
            view.refresh()
    except Exception:
        logger.exception("the progress view failed")


def wait_first(
    futures: Iterable[concurrent.futures.Future[Result]], view: ProgressView | None
) -> set[concurrent.futures.Future[Result]]:
    """Wait for the first to finish, refreshing the view from this thread meanwhile."""
    pending = set(futures)
    while True:
        done, _ = concurrent.futures.wait(
            pending,
            timeout=TICK_SECONDS if view is not None else None,
            return_when=concurrent.futures.FIRST_COMPLETED,
        )
        refresh(view)
        if done:
            return done


def user_stacklevel() -> int:
    """The ``warnings`` stacklevel of the first caller outside this package, for whoever
    calls this function and then ``warnings.warn``: the warning names the user's line."""
    frame = sys._getframe(2)
    level = 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def say_if_simulated(result: Result | ResultSet, view: ProgressView | None) -> None:
    """Tell the user, once, that the images are synthetic: a shown progress view ends with
    that note already (styled in a notebook, a line on a terminal); elsewhere a warning."""
    simulated = result.simulated if isinstance(result, Result) else any(r.simulated for r in result)
    if simulated and view is None:
        warnings.warn(SIMULATOR_NOTICE, SimulatorWarning, stacklevel=user_stacklevel())
