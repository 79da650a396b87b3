"""The simulated QWave task API, without HTTP: submit, get, wait, cancel, images, callbacks."""

from __future__ import annotations

import itertools
import random
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from .. import catalog
from . import references
from .callbacks import CallbackScheduler, post_json
from .checker import SimRequest, check
from .faults import FaultPlan
from .options import SimConfig
from .pictures import REFERENCE_SIDE, Pictures
from .shapes import new_task_id, submitted, task_json
from .stats import Stats
from .tasks import FAIL_AT_FRACTION, FAILING_FAULTS, TERMINAL, SimTask
from .timing import Scheduler, Slot, TimingModel
from .upstream import UpstreamOption, shortened
from .wire import ApiFailure

DEFAULT_SYNC_WAIT_SECONDS: Final = 30.0  # at speed 1; divided by the speed
MAX_SYNC_WAIT_SECONDS: Final = 300.0
SURPLUS_IMAGES: Final = 2  # the ``surplus`` fault returns this many images more than asked


@dataclass(frozen=True)
class TaskState:
    """A snapshot of one simulated task's server-side state (for tests and debugging)."""

    task_id: str
    status: str
    progress: int
    request: SimRequest  # large data: URIs in image_urls are kept as small JPEG copies
    seed: int
    aspect_ratio: str
    size: tuple[int, int]
    image_count: int
    queue_seconds: float  # queue time plus any wait for a processing slot
    processing_seconds: float
    fail: bool
    expired: bool
    json: dict[str, Any]
    body: dict[str, Any]  # the JSON received, data: URIs shortened
    extra: Mapping[str, Any]  # the ``extra`` object received
    upstream: Mapping[str, UpstreamOption]  # upstream options found, with their placement
    faults: frozenset[str]  # faults decided when the task was created


class Simulator:
    """All API semantics; thread-safe. The transports (``server``, ``mock``) only translate."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.style = config.style
        self.stats = Stats(config.record_limit)
        self.faults = FaultPlan.from_spec(config.faults, config.fault_seed)
        self.base_url = ""  # set once the transport knows its address
        self.timing = TimingModel(
            config.speed, config.jitter, config.timing_seed, config.queue_seconds
        )
        self.pictures = Pictures(
            self.lookup,
            lambda: self.base_url,
            config.url_ttl,
            config.cache_bytes,
            config.image_side,
        )
        self._scheduler = Scheduler(config.capacity)
        self._tasks: dict[str, SimTask] = {}
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._callbacks_done: set[str] = set()
        self._stopping = threading.Event()
        self._callbacks = CallbackScheduler(self._fire_callback)

    # -- lifecycle ---------------------------------------------------------------------
    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            tasks = list(self._tasks.values())
        for task in tasks:
            task.changed.set()  # wake up sync waits
        self._callbacks.stop()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake up when the simulator stops."""
        self._stopping.wait(seconds)

    def set_faults(self, spec: str | None, seed: int | None = None) -> None:
        self.faults = FaultPlan.from_spec(spec, self.faults.seed if seed is None else seed)

    # -- tasks -------------------------------------------------------------------------
    def submit(
        self, payload: object, faults: frozenset[str] = frozenset(), authorization: str = ""
    ) -> SimTask:
        """Check and create a task; ``ApiFailure`` 400 when the payload is invalid.

        ``faults`` are the task faults drawn for this submit (fail, expired, zero, ...);
        ``authorization`` is the header received, kept only for the ``echokey`` fault.
        """
        request = check(payload)
        seed = request.seed
        if seed == catalog.RANDOM_SEED:
            seed = random.randint(0, catalog.MAX_SEED)
        ratio = self._resolve_ratio(request)
        if request.image_urls:  # drawing needs only small references: drop the full uploads
            small = tuple(references.compact(url, REFERENCE_SIDE) for url in request.image_urls)
            request = replace(request, image_urls=small)
        size = request.spec.pixel_size(request.resolution, ratio)
        asked = request.output_count
        count = asked
        if "zero" in faults:
            count = 0
        elif "surplus" in faults:
            count = asked + SURPLUS_IMAGES
        with self._lock:
            number = next(self._numbers)
        queued, processing = self.timing.durations(number, size, asked)
        task_id = new_task_id(self.style)
        failing = any(name in faults for name in FAILING_FAULTS)
        busy = processing * (FAIL_AT_FRACTION if failing else 1.0)
        now = time.monotonic()
        slot = Slot(ready=now + queued, busy=busy, owner=task_id)
        self._scheduler.admit(slot, now)
        task = SimTask(
            task_id=task_id,
            number=number,
            request=request,
            body=shortened(payload),
            seed=seed,
            ratio=ratio,
            size=size,
            image_count=count,
            processing_seconds=processing,
            slot=slot,
            faults=faults,
            authorization=authorization if "echokey" in faults else "",
            created_mono=now,
        )
        with self._lock:
            self._tasks[task.task_id] = task
        self.stats.add("submits")
        if request.callback_url:
            self._callbacks.schedule(task.created_mono + task.end_offset, task.task_id)
        return task

    def _resolve_ratio(self, request: SimRequest) -> str:
        if request.aspect_ratio != catalog.AUTO_RATIO:
            return request.aspect_ratio
        if request.image_urls:
            size = references.reference_size(request.image_urls[0], self.pictures.local_size)
            if size and size[0] > 0 and size[1] > 0:
                return catalog.nearest_ratio(size[0], size[1], request.spec.aspect_ratios)
        return catalog.AUTO_FALLBACK_RATIO

    def lookup(self, task_id: str) -> SimTask | None:
        with self._lock:
            return self._tasks.get(task_id)

    def find(self, task_id: str) -> SimTask:
        task = self.lookup(task_id)
        if task is None:
            raise ApiFailure(404, "task_not_found", f"task {task_id} not found")
        return task

    def previous(self, task: SimTask) -> SimTask | None:
        """The task created just before ``task`` (for the ``reuse`` fault)."""
        with self._lock:
            older = [t for t in self._tasks.values() if t.number < task.number]
        return max(older, key=lambda t: t.number, default=None)

    def other(self, task_id: str) -> SimTask | None:
        """The newest task that is not ``task_id`` (for the ``wrongid`` fault)."""
        with self._lock:
            others = [t for t in self._tasks.values() if t.task_id != task_id]
        return max(others, key=lambda t: t.number, default=None)

    def task_json(self, task: SimTask) -> dict[str, Any]:
        return task_json(task, self.base_url, self.config.url_ttl, self.style)

    def submitted_json(self, task: SimTask, task_id: str | None = None) -> dict[str, Any]:
        return submitted(task, self.style, task_id)

    def state(self, task_id: str) -> TaskState | None:
        task = self.lookup(task_id)
        if task is None:
            return None
        status, progress = task.status()
        return TaskState(
            task_id=task.task_id,
            status=status,
            progress=progress,
            request=task.request,
            seed=task.seed,
            aspect_ratio=task.ratio,
            size=task.size,
            image_count=task.image_count,
            queue_seconds=task.queue_seconds,
            processing_seconds=task.processing_seconds,
            fail=task.failing,
            expired=task.expired,
            json=self.task_json(task),
            body=task.body,
            extra=task.request.extra,
            upstream=task.request.upstream,
            faults=task.faults,
        )

    def task_ids(self) -> list[str]:
        with self._lock:
            return list(self._tasks)

    def sync_wait_seconds(self, requested: float | None) -> float:
        if requested is None:
            default = self.config.sync_timeout
            return DEFAULT_SYNC_WAIT_SECONDS / self.config.speed if default is None else default
        return max(0.0, min(requested, MAX_SYNC_WAIT_SECONDS))

    def wait(self, task: SimTask, timeout: float) -> None:
        """Block until the task is terminal, ``timeout`` runs out, or the simulator stops."""
        deadline = time.monotonic() + timeout
        while True:
            task.changed.clear()  # before looking: a change from now on wakes the wait
            if self._stopping.is_set():
                return
            now = time.monotonic()
            if task.status(now)[0] in TERMINAL:
                return
            until_end = task.created_mono + task.end_offset - now
            pause = min(until_end, deadline - now)
            if pause <= 0 and now >= deadline:
                return
            task.changed.wait(max(pause, 0.001))

    def cancel(self, task_id: str) -> dict[str, Any]:
        task = self.find(task_id)
        with self._lock:
            now = time.monotonic()
            status, _ = task.status(now)
            if status != "queued":
                raise ApiFailure(
                    400,
                    "task_not_cancellable",
                    f"only queued tasks can be cancelled; task {task_id} is {status}",
                )
            task.cancelled_offset = task.elapsed(now)
        task.changed.set()
        self._moved(self._scheduler.withdraw(task.slot, now))
        self.stats.add("cancelled")
        if task.request.callback_url:
            self._callbacks.schedule(time.monotonic(), task.task_id)
        return {
            "task_id": task.task_id,
            "status": "cancelled",
            "refunded": True,
            "refunded_quota": task.refunded_quota(),
        }

    def _moved(self, slots: list[Slot]) -> None:
        """Waiting tasks got a new start after a cancel: wake their waiters and callbacks."""
        for slot in slots:
            task = self.lookup(slot.owner)
            if task is None:
                continue
            task.changed.set()
            if task.request.callback_url:
                self._callbacks.schedule(task.created_mono + task.end_offset, task.task_id)

    # -- images ------------------------------------------------------------------------
    def image(self, task_id: str, index: int, extension: str) -> tuple[bytes, str]:
        """(bytes, content type) of one result image, or ``ApiFailure`` 404 / 410."""
        return self.pictures.image(task_id, index, extension)

    def servable(self, task_id: str, index: int, extension: str) -> SimTask:
        """``ApiFailure`` 404 / 410 unless the image could be downloaded now."""
        return self.pictures.servable(task_id, index, extension)

    # -- callbacks ---------------------------------------------------------------------
    def _fire_callback(self, task_id: str) -> None:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task_id in self._callbacks_done:
                return
            if task.status()[0] not in TERMINAL:
                return
            self._callbacks_done.add(task_id)
        url = task.request.callback_url
        if not url:
            return
        body = self.task_json(task)
        threading.Thread(
            target=self._post_callback, args=(url, body), name="sim-callback", daemon=True
        ).start()

    def _post_callback(self, url: str, body: dict[str, Any]) -> None:
        try:
            post_json(url, body)
        except Exception as exc:  # any failure: ignored like the provider's, but counted
            self.stats.add("callbacks_failed")
            if self.config.verbose:
                print(f"simulator: callback to {url} failed: {exc}", file=sys.stderr)
        else:
            self.stats.add("callbacks_sent")
