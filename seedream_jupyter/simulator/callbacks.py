"""Callback delivery: POST the final task JSON to ``callback_url`` when a task ends.

Tasks do not tick, so one scheduler thread (started with the first callback) sleeps until the
next task with a callback reaches its terminal state; each POST then runs in its own daemon
thread (urllib, 10 s timeout).
Failures are ignored, as the provider's are, but counted.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

USER_AGENT = "QWave-Simulator-Callback/1.0"


def post_json(url: str, body: dict[str, Any], timeout: float = 10.0) -> None:
    data = json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 (http(s) checked by request validation)
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        response.read()


class CallbackScheduler:
    """Runs ``fire(task_id)`` at (monotonic) due times, on one background thread."""

    def __init__(self, fire: Callable[[str], None]) -> None:
        self._fire = fire
        self._heap: list[tuple[float, int, str]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def schedule(self, due_mono: float, task_id: str) -> None:
        with self._cond:
            if self._stopped:
                return
            if self._thread is None:  # most simulators never see a callback
                self._thread = threading.Thread(target=self._run, name="sim-callbacks", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (due_mono, next(self._order), task_id))
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=2)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                if not self._heap:
                    self._cond.wait()
                    continue
                due, _, task_id = self._heap[0]
                delay = due - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
            self._fire(task_id)
