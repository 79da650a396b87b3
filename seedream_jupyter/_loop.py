"""One private event loop in a daemon thread: the engine under the sync API.

Sync calls hand their coroutine to this loop and wait, so they work inside
Jupyter's running loop or ``asyncio.run`` without patching anything (the
approach of ``jupyter_core.utils.run_sync``; never nest_asyncio).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def loop() -> asyncio.AbstractEventLoop:
    """The private loop, started on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            new_loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(new_loop)
                new_loop.call_soon(ready.set)
                new_loop.run_forever()

            _thread = threading.Thread(target=run, name="seedream-loop", daemon=True)
            _thread.start()
            ready.wait()
            _loop = new_loop
        return _loop


def in_loop_thread() -> bool:
    return _thread is not None and threading.current_thread() is _thread


def refuse_in_loop_thread(what: str) -> None:
    """A blocking call on the loop thread (say, in a Job listener) would wait for itself."""
    if in_loop_thread():
        raise RuntimeError(
            f"{what} blocks and was called on the seedream loop thread (from a Job listener?), "
            "where it would wait for itself forever: use the async form (await sj.agenerate) "
            "or hand the work to another thread"
        )


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Schedule a coroutine on the private loop; returns a thread-safe future."""
    return asyncio.run_coroutine_threadsafe(coro, loop())


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run a coroutine to completion on the private loop and return its result.

    A KeyboardInterrupt while waiting cancels the coroutine, then propagates.
    """
    if in_loop_thread():
        coro.close()
        refuse_in_loop_thread("a sync seedream call")
    future = submit(coro)
    try:
        return future.result(timeout)
    except BaseException:
        future.cancel()
        raise
