"""The simulated QWave task API, without HTTP: submit, get, wait, cancel, images, callbacks."""

from __future__ import annotations

import random
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Final
from urllib.parse import urlsplit

from .. import catalog
from ..errors import ValidationError
from ..request import GenerationRequest
from . import drawing, references
from .callbacks import CallbackScheduler, post_json
from .faults import FaultPlan
from .imagecache import ImageCache
from .stats import Stats
from .tasks import SimTask, durations, new_task_id
from .wire import ApiFailure

DEFAULT_SYNC_WAIT_SECONDS: Final = 30.0  # at speed 1; divided by the speed
MAX_SYNC_WAIT_SECONDS: Final = 300.0
REFERENCE_SIDE: Final = 384  # references are kept this small for compositing
REFERENCE_CACHE_TASKS: Final = 32
MAX_LOCAL_DEPTH: Final = 3
_TERMINAL: Final = ("completed", "failed", "cancelled")


@dataclass(frozen=True)
class SimConfig:
    """Simulator options (see ``seedream_jupyter.simulator.start``)."""

    speed: float = 1.0
    faults: str | None = None
    fault_seed: int = 0
    api_key: str | None = field(default=None, repr=False)
    url_ttl: float = float(catalog.RESULT_URL_TTL_SECONDS)
    queue_seconds: float | None = None
    sync_timeout: float | None = None  # default: 30 s / speed
    cache_bytes: int = 256 * 1024 * 1024
    record_limit: int = 10_000
    verbose: bool = False

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed must be > 0, got {self.speed}")
        if self.url_ttl < 0:
            raise ValueError(f"url_ttl must be >= 0, got {self.url_ttl}")
        if self.queue_seconds is not None and self.queue_seconds < 0:
            raise ValueError(f"queue_seconds must be >= 0, got {self.queue_seconds}")


@dataclass(frozen=True)
class TaskState:
    """A snapshot of one simulated task's server-side state (for tests and debugging)."""

    task_id: str
    status: str
    progress: int
    request: GenerationRequest  # large data: URIs in image_urls are kept as small JPEG copies
    seed: int
    aspect_ratio: str
    size: tuple[int, int]
    image_count: int
    queue_seconds: float
    processing_seconds: float
    fail: bool
    expired: bool
    json: dict[str, Any]


class Simulator:
    """All API semantics; thread-safe. The HTTP layer (``server``) only translates."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.stats = Stats(config.record_limit)
        self.faults = FaultPlan.from_spec(config.faults, config.fault_seed)
        self.base_url = ""  # set once the server is bound
        self.cache = ImageCache(config.cache_bytes, max_concurrent_draws=2)
        self._tasks: dict[str, SimTask] = {}
        self._lock = threading.Lock()
        self._refs: OrderedDict[str, list[references.Reference]] = OrderedDict()
        self._refs_lock = threading.Lock()
        self._callbacks_done: set[str] = set()
        self._stopping = threading.Event()
        self._scheduler = CallbackScheduler(self._fire_callback)

    # -- lifecycle ---------------------------------------------------------------------
    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            tasks = list(self._tasks.values())
        for task in tasks:
            task.changed.set()  # wake up sync waits
        self._scheduler.stop()

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake up when the simulator stops."""
        self._stopping.wait(seconds)

    def set_faults(self, spec: str | None, seed: int | None = None) -> None:
        self.faults = FaultPlan.from_spec(spec, self.faults.seed if seed is None else seed)

    # -- tasks -------------------------------------------------------------------------
    def submit(self, payload: object, *, fail: bool = False, expired: bool = False) -> SimTask:
        """Validate and create a task; ``ApiFailure`` 400 when the payload is invalid."""
        try:
            if not isinstance(payload, dict):
                raise ApiFailure(400, "invalid_parameter", "the body must be a JSON object")
            request = GenerationRequest.from_payload(payload)
        except ValidationError as exc:
            raise ApiFailure(400, "invalid_parameter", exc.message) from None
        except (TypeError, AttributeError) as exc:
            raise ApiFailure(400, "invalid_parameter", f"invalid parameters: {exc}") from None
        spec = request.spec
        seed = request.seed if request.seed != catalog.RANDOM_SEED else random.randint(0, 2**31 - 1)
        ratio = self._resolve_ratio(request)
        if request.image_urls:  # drawing needs only small references: drop the full uploads
            small = tuple(references.compact(url, REFERENCE_SIDE) for url in request.image_urls)
            request = replace(request, image_urls=small)
        size = spec.pixel_size(request.resolution, ratio)
        count = request.output_count
        queued, processing = durations(
            request, count, size, speed=self.config.speed, queue_seconds=self.config.queue_seconds
        )
        task = SimTask(
            task_id=new_task_id(),
            request=request,
            seed=seed,
            ratio=ratio,
            size=size,
            image_count=count,
            queue_seconds=queued,
            processing_seconds=processing,
            fail=fail,
            expired=expired,
        )
        with self._lock:
            self._tasks[task.task_id] = task
        self.stats.add("submits")
        if request.callback_url:
            self._scheduler.schedule(task.created_mono + task.end_offset, task.task_id)
        return task

    def _resolve_ratio(self, request: GenerationRequest) -> str:
        if request.aspect_ratio != catalog.AUTO_RATIO:
            return request.aspect_ratio
        if request.image_urls:
            size = references.reference_size(request.image_urls[0], self._local_size)
            if size and size[0] > 0 and size[1] > 0:
                return catalog.nearest_ratio(size[0], size[1], request.spec.aspect_ratios)
        return catalog.AUTO_FALLBACK_RATIO

    def find(self, task_id: str) -> SimTask:
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None:
            raise ApiFailure(404, "task_not_found", f"task {task_id} not found")
        return task

    def task_json(self, task: SimTask) -> dict[str, Any]:
        return task.to_json(self.base_url, self.config.url_ttl)

    def state(self, task_id: str) -> TaskState | None:
        with self._lock:
            task = self._tasks.get(task_id)
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
            fail=task.fail,
            expired=task.expired,
            json=self.task_json(task),
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
        while not self._stopping.is_set():
            now = time.monotonic()
            if task.status(now)[0] in _TERMINAL:
                return
            until_end = task.created_mono + task.end_offset - now
            pause = min(until_end, deadline - now)
            if pause <= 0 and now >= deadline:
                return
            task.changed.wait(max(pause, 0.001))

    def cancel(self, task_id: str) -> dict[str, Any]:
        task = self.find(task_id)
        with self._lock:
            status, _ = task.status()
            if status != "queued":
                raise ApiFailure(
                    400,
                    "task_not_cancellable",
                    f"only queued tasks can be cancelled; task {task_id} is {status}",
                )
            task.cancelled_offset = task.elapsed()
        task.changed.set()
        self.stats.add("cancelled")
        if task.request.callback_url:
            self._scheduler.schedule(time.monotonic(), task.task_id)
        return {
            "task_id": task.task_id,
            "status": "cancelled",
            "refunded": True,
            "refunded_quota": task.refunded_quota(),
        }

    # -- callbacks ---------------------------------------------------------------------
    def _fire_callback(self, task_id: str) -> None:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task_id in self._callbacks_done:
                return
            if task.status()[0] not in _TERMINAL:
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

    # -- images ------------------------------------------------------------------------
    def picture(self, task: SimTask, index: int) -> drawing.Picture:
        request = task.request
        return drawing.Picture(
            prompt=request.prompt,
            model=request.model,
            action=request.action,
            seed=task.seed,
            index=index,
            count=task.image_count,
            size=task.size,
            fmt=task.output_format,
            resolution=request.resolution,
            ratio=task.ratio,
        )

    def image(self, task_id: str, index: int, extension: str) -> tuple[bytes, str]:
        """(bytes, content type) of one result image, or ``ApiFailure`` 404 / 410."""
        with self._lock:
            task = self._tasks.get(task_id)
        missing = ApiFailure(404, "file_not_found", "no such file")
        if task is None or not 0 <= index < task.image_count:
            raise missing
        if (extension == "png") != (task.extension == "png"):
            raise missing
        if task.status()[0] != "completed":
            raise missing
        if time.time() >= task.expires_at(self.config.url_ttl):
            raise ApiFailure(
                410, "url_expired", "this image link has expired; result URLs are valid 24 hours"
            )
        picture = self.picture(task, index)
        data = self.cache.get_or_create(
            (task_id, index), lambda: drawing.render(picture, self._task_references(task, 0))
        )
        return data, picture.content_type

    def _task_references(self, task: SimTask, depth: int) -> list[references.Reference]:
        urls = task.request.image_urls
        if not urls:
            return []
        with self._refs_lock:
            cached = self._refs.get(task.task_id)
            if cached is not None:
                self._refs.move_to_end(task.task_id)
                return cached

        def local(url: str) -> references.Reference | None:
            return self._local_image(url, depth + 1)

        refs = [references.load_reference(url, local, REFERENCE_SIDE) for url in urls]
        with self._refs_lock:
            self._refs[task.task_id] = refs
            while len(self._refs) > REFERENCE_CACHE_TASKS:
                self._refs.popitem(last=False)
        return refs

    def _local_target(self, url: str) -> tuple[SimTask | None, int] | None:
        """(task or None, index) when ``url`` is one of this simulator's image links."""
        if not self.base_url:
            return None
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        loopback = {"127.0.0.1", "localhost", ours.hostname}
        if theirs.hostname not in loopback or (theirs.port or 80) != (ours.port or 80):
            return None
        parsed = references.parse_file_path(theirs.path)
        if parsed is None:
            return None
        task_id, index, _ = parsed
        with self._lock:
            task = self._tasks.get(task_id)
        return task, index

    def _local_size(self, url: str) -> tuple[int, int] | None:
        target = self._local_target(url)
        if target is None or target[0] is None:
            return None
        return target[0].size

    def _local_image(self, url: str, depth: int) -> references.Reference | None:
        target = self._local_target(url)
        if target is None:
            return None
        task, index = target
        if task is None or not 0 <= index < task.image_count:
            return references.MISSING_LABEL
        if task.status()[0] != "completed" or time.time() >= task.expires_at(self.config.url_ttl):
            return references.MISSING_LABEL
        refs: list[references.Reference] = []
        if depth < MAX_LOCAL_DEPTH:
            refs = self._task_references(task, depth)
        preview = _fit_within(task.size, REFERENCE_SIDE)
        return drawing.render_image(self.picture(task, index), refs, preview)


def _fit_within(size: tuple[int, int], side: int) -> tuple[int, int]:
    scale = side / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
