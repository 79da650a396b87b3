"""What a Result needs from the layers above it, handed down when they are imported.

A Result can be rated (the history) and replayed (a new generation), but ``results`` sits
below ``session`` and ``api``: those layers connect their services here (``connect``), as
the session finds its front-end by name. Until ``api`` is imported, ratings go to the
history named by ``SEEDREAM_HOME`` (or the platform's folder), and a replay says how to
make one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import config
from ..request import GenerationRequest
from ..store import Store

StoreProvider = Callable[[], Store]
# (the request to send, whether the history may answer it) -> a Result
# (typed Any here: this module sits below ``result``, which imports it)
Replayer = Callable[[GenerationRequest, bool], Any]

_lock = threading.Lock()
_store: StoreProvider | None = None
_replay: Replayer | None = None
_fallback: dict[Path, Store] = {}


def connect(*, store: StoreProvider | None = None, replay: Replayer | None = None) -> None:
    """Called by the ``api`` layer on import: the session's history, and how to replay."""
    global _store, _replay
    with _lock:
        if store is not None:
            _store = store
        if replay is not None:
            _replay = replay


def history() -> Store:
    """The history ratings are written to: the session's, else the one of ``SEEDREAM_HOME``."""
    provider = _store
    if provider is not None:
        return provider()
    home = config.home_dir(None).expanduser().resolve()
    with _lock:
        if home not in _fallback:
            _fallback[home] = Store(home)
        return _fallback[home]


def replay(request: GenerationRequest, cache: bool) -> Any:
    runner = _replay
    if runner is None:
        from ..errors import SeedreamError

        raise SeedreamError("replaying needs the helpers: import seedream_jupyter.api first")
    return runner(request, cache)
