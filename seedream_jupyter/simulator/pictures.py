"""Result images of simulated tasks: drawn on first download, cached, with references.

A reference may be a ``data:`` URI, a link to one of this simulator's own images (resolved
locally, recursively up to ``MAX_LOCAL_DEPTH``), or any other URL (a placeholder box).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit

from . import drawing, references
from .imagecache import ImageCache
from .tasks import SimTask
from .wire import ApiFailure

REFERENCE_SIDE: Final = 384  # references are kept this small for compositing
REFERENCE_CACHE_TASKS: Final = 32
MAX_LOCAL_DEPTH: Final = 3
EXPIRED_MESSAGE: Final = "this image link has expired; result URLs are valid 24 hours"


class Pictures:
    """Draws and serves the images of the tasks that ``lookup`` finds. Thread-safe."""

    def __init__(
        self,
        lookup: Callable[[str], SimTask | None],
        base_url: Callable[[], str],
        url_ttl: float,
        cache_bytes: int,
        image_side: int | None = None,
    ) -> None:
        self._lookup = lookup
        self._base_url = base_url
        self._url_ttl = url_ttl
        self._image_side = image_side  # None: the true size
        self.cache = ImageCache(cache_bytes, max_concurrent_draws=2)
        self._refs: OrderedDict[str, list[references.Reference]] = OrderedDict()
        self._refs_lock = threading.Lock()

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
            fmt=task.extension,
            resolution=request.resolution,
            ratio=task.ratio,
        )

    def servable(self, task_id: str, index: int, extension: str) -> SimTask:
        """The task whose image this is, or ``ApiFailure`` 404 / 410."""
        task = self._lookup(task_id)
        missing = ApiFailure(404, "file_not_found", "no such file")
        if task is None or not 0 <= index < task.image_count:
            raise missing
        if (extension == "png") != (task.extension == "png"):
            raise missing
        if task.status()[0] != "completed":
            raise missing
        if time.time() >= task.expires_at(self._url_ttl):
            raise ApiFailure(410, "url_expired", EXPIRED_MESSAGE)
        return task

    def image(self, task_id: str, index: int, extension: str) -> tuple[bytes, str]:
        """(bytes, content type) of one result image, or ``ApiFailure`` 404 / 410."""
        task = self.servable(task_id, index, extension)
        picture = self.picture(task, index)
        size = self.drawn_size(task.size)
        data = self.cache.get_or_create(
            (task_id, index),
            lambda: drawing.render(picture, self._task_references(task, 0), size),
        )
        return data, picture.content_type

    def drawn_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The pixel size result images are drawn at: the true size, or within ``image_side``
        (the label still names the true size)."""
        if self._image_side is None or max(size) <= self._image_side:
            return size
        return _fit_within(size, self._image_side)

    def local_size(self, url: str) -> tuple[int, int] | None:
        """The pixel size behind one of this simulator's own image links, else None."""
        target = self._local_target(url)
        if target is None or target[0] is None:
            return None
        return target[0].size

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
        base_url = self._base_url()
        if not base_url:
            return None
        ours, theirs = urlsplit(base_url), urlsplit(url)
        loopback = {"127.0.0.1", "localhost", ours.hostname}
        if theirs.hostname not in loopback or (theirs.port or 80) != (ours.port or 80):
            return None
        parsed = references.parse_file_path(theirs.path)
        if parsed is None:
            return None
        task_id, index, _ = parsed
        return self._lookup(task_id), index

    def _local_image(self, url: str, depth: int) -> references.Reference | None:
        target = self._local_target(url)
        if target is None:
            return None
        task, index = target
        if task is None or not 0 <= index < task.image_count:
            return references.MISSING_LABEL
        if task.status()[0] != "completed" or time.time() >= task.expires_at(self._url_ttl):
            return references.MISSING_LABEL
        refs: list[references.Reference] = []
        if depth < MAX_LOCAL_DEPTH:
            refs = self._task_references(task, depth)
        preview = _fit_within(task.size, REFERENCE_SIDE)
        return drawing.render_image(self.picture(task, index), refs, preview)


def _fit_within(size: tuple[int, int], side: int) -> tuple[int, int]:
    scale = side / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
