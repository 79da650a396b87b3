"""TaskView: one generation's live card (anywidget).

The view subscribes to a job and mirrors it into synced traits; the front-end
(``taskview.js``) draws header, SIMULATED badge, progress bar, elapsed time (ticked
in the browser from ``started_at``, so no per-second messages), task id with a copy
button, message / error with what to do, a Cancel button and a gallery of JPEG
thumbnails. Thumbnails travel as a list of ``bytes``: ipywidgets sends each as a
binary buffer of the comm message, never as base64.

Trait updates come from the job's thread (the package's loop thread); ipykernel's
IOPub socket is thread-safe for sends. Progress-only updates are throttled to one per
``min_interval`` seconds; state changes always go out at once.

Thumbnails are sized for the gallery (one image up to the card's width and 480 px high,
several in rows 240 px high) times the screen's pixel ratio, which the front-end reports;
a click on one asks for the full-size image (sent on demand, never kept in the notebook).

Cancel says what it can do: while the task is queued it cancels it on the server (refunded);
once the server has started it, a cell that waits offers "Stop waiting" instead (the task goes
on, its images are saved when it completes), reported through ``on_stop_waiting``.

``_repr_mimebundle_`` adds the static form to the widget view (``gallery.static_bundle``: an
HTML gallery, a JPEG contact sheet, a text summary) and marks it, so the pre-save hook
(``saving``) writes that form to disk. Re-display with ``handle.update(view)`` after the job
ends to put the images into the notebook.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from .. import errors, images
from ..api import JobState
from . import gallery, static
from .static import JobLike

logger = logging.getLogger("seedream_jupyter")
_HERE = Path(__file__).parent

__all__ = ["TaskView", "make_thumbnails", "thumbnail_side"]

MAX_THUMB_SIDE = 2048


def thumbnail_side(size: tuple[int, int], count: int, pixel_ratio: float, cap: int) -> int:
    """The long side, in image pixels, of a thumbnail that fills its place in the gallery on a
    screen with ``pixel_ratio`` (``cap``: the long side in CSS pixels at most)."""
    shown = min(max(gallery.fit(size, gallery.box_for(count))), cap)
    ratio = min(max(pixel_ratio, 1.0), 3.0)
    return max(64, min(MAX_THUMB_SIDE, max(size), math.ceil(shown * ratio)))


def make_thumbnails(
    result: Any, max_side: int, pixel_ratio: float = 1.0
) -> tuple[list[bytes], list[list[int]]]:
    """(JPEG thumbnails, [width, height] of each full image) for a Result, made through
    ``images.thumbnail`` from its files or bytes (draft-decoded; full-size pixels never kept)."""
    sources = result.sources()
    sizes = [images.size_of(source) for source in sources]
    thumbs = [
        images.thumbnail_jpeg(source, thumbnail_side(size, len(sources), pixel_ratio, max_side))
        for source, size in zip(sources, sizes)
    ]
    return thumbs, [list(size) for size in sizes]


class TaskView(anywidget.AnyWidget):
    """Live progress, Cancel and a thumbnail gallery for one job."""

    _esm = _HERE / "taskview.js"
    _css = _HERE / "taskview.css"

    # header
    model_name = t.Unicode("").tag(sync=True)
    action = t.Unicode("").tag(sync=True)
    count_label = t.Unicode("").tag(sync=True)
    aspect_ratio = t.Unicode("").tag(sync=True)
    resolution = t.Unicode("").tag(sync=True)
    pixel_size = t.Unicode("").tag(sync=True)
    # the front-end shows cost_text (the catalog's words); the number stays on the Python side
    estimated_cost = t.Float(0.0)
    price_known = t.Bool(True)  # False: a model id the catalog does not know
    cost_text = t.Unicode("").tag(sync=True)  # "≈ $0.0298" or "price unknown"
    prompt = t.Unicode("").tag(sync=True)
    simulated = t.Bool(False).tag(sync=True)
    from_cache = t.Bool(False).tag(sync=True)
    expected_images = t.Int(1).tag(sync=True)  # placeholders until the images arrive
    placeholder_ratio = t.Float(1.0).tag(sync=True)  # width / height of the requested size
    # progress: the state and how to say it both come from JobState
    status = t.Unicode(JobState.SUBMITTING.value).tag(sync=True)
    status_label = t.Unicode(JobState.SUBMITTING.label).tag(sync=True)
    active = t.Bool(True).tag(sync=True)
    indeterminate = t.Bool(True).tag(sync=True)  # no progress to show yet (submitting, queued)
    progress = t.Int(0).tag(sync=True)  # the bar: 100 once the server's work is done
    started_at = t.Float(0.0).tag(sync=True)
    finished_at = t.Float(0.0).tag(sync=True)  # 0: still running
    clock = t.Float(0.0).tag(sync=True)  # kernel time.time() at the last update (clock skew)
    task_id = t.Unicode("").tag(sync=True)
    done = t.Bool(False).tag(sync=True)
    # blocking: a cell is waiting on this job; interactive: its clicks still reach the kernel
    # (an awaiting cell on ipykernel >= 7.4), else the view says to interrupt the kernel
    blocking = t.Bool(False).tag(sync=True)
    interactive = t.Bool(True).tag(sync=True)
    cancelling = t.Bool(False).tag(sync=True)
    stopped_waiting = t.Bool(False).tag(sync=True)
    scroll_on_show = t.Bool(False).tag(sync=True)  # bring a new view into sight (panel runs)
    pixel_ratio = t.Float(2.0).tag(sync=True)  # the screen's, reported by the front-end
    # text (always shown with textContent in the front-end)
    message = t.Unicode("").tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    hint = t.Unicode("").tag(sync=True)
    # gallery
    thumbnails = t.List(t.Bytes(), default_value=[]).tag(sync=True)
    image_sizes = t.List(t.List(t.Int()), default_value=[]).tag(sync=True)

    def __init__(
        self,
        job: JobLike,
        *,
        thumb_size: int = 960,
        min_interval: float = 0.1,
        blocking: bool = False,
        interactive: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._on_stop: list[Callable[[TaskView], None]] = []
        self.job = job
        self.thumb_size = thumb_size
        self.min_interval = min_interval
        self._lock = threading.RLock()
        self._thumb_lock = threading.Lock()
        self._thumbs: list[bytes] | None = None
        self._sizes: list[list[int]] = []
        self._bundle: tuple[dict[str, Any], dict[str, Any]] | None = None
        self._paths: list[str] = []
        self._last_state: str | None = None
        self._last_snap: static.Snapshot | None = None
        self._cancel_note = ""  # what cancel() said; clearer than a racing poll's message
        # the cell that waited says how it ended (one line): the view then shows the state only
        self.reported_elsewhere = False
        self._last_sent = 0.0
        self._timer: threading.Timer | None = None
        self._thumbs_started = False
        self._ended = False
        self._on_done: list[Callable[[TaskView], None]] = []
        request = job.request
        width, height = request.pixel_size
        with self.hold_sync():
            self.model_name = request.model
            self.action = request.action
            self.count_label = request.count_label()
            self.aspect_ratio = request.ratio_label  # "auto → 9:16" follows the reference
            self.resolution = request.resolution
            self.pixel_size = f"{width}×{height}"
            self.expected_images = request.output_count
            self.placeholder_ratio = width / height
            self.estimated_cost = request.estimate_cost()
            self.price_known = request.price_known
            self.cost_text = request.cost_text()
            self.prompt = request.prompt
            self.started_at = job.started_at
            self.blocking = blocking
            self.interactive = interactive
        self.on_msg(self._on_front_end_msg)
        job.subscribe(self._on_job)

    def __repr__(self) -> str:
        sim = f" {static.SIMULATED_MARK}" if self.simulated else ""
        return f"<TaskView {self.task_id or '(submitting)'} {self.status}{sim}>"

    # -- job -> traits --------------------------------------------------------------------------
    def _on_job(self, job: JobLike) -> None:
        snap = static.snapshot(job)
        now = time.monotonic()
        with self._lock:
            if snap == self._last_snap:
                return  # nothing new (e.g. a poll that saw the same state)
            changed = snap.state != self._last_state
            wait = self.min_interval - (now - self._last_sent)
            if not changed and not snap.done and wait > 0:
                if self._timer is None:  # a trailing update, so the last value is never lost
                    self._timer = threading.Timer(wait, self._flush)
                    self._timer.daemon = True
                    self._timer.start()
                return
            self._apply(snap)
        if snap.state is JobState.COMPLETED and job.result is not None:
            self._start_thumbnails()
        elif snap.done:
            self._release()
            self._finished()

    def _flush(self) -> None:
        with self._lock:
            self._timer = None
            self._apply(static.snapshot(self.job))

    def _apply(self, snap: static.Snapshot) -> None:
        """Send a snapshot to the front-end as one update message (caller holds the lock)."""
        self._last_state = snap.state
        self._last_snap = snap
        self._last_sent = time.monotonic()
        if snap.done and self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            with self.hold_sync():
                self.status = snap.state.value
                self.status_label = static.status_line(snap)
                self.active = snap.state.active and not snap.done
                self.indeterminate = snap.state in (JobState.SUBMITTING, JobState.QUEUED)
                server_done = snap.state in (JobState.COMPLETED, JobState.DOWNLOADING)
                self.progress = 100 if server_done else snap.progress
                self.task_id = snap.task_id
                self.message = self._message_for(snap)
                self.error = snap.error
                self.hint = snap.hint
                self.from_cache = snap.from_cache
                self.simulated = snap.simulated
                self.done = snap.done
                if snap.done:
                    self.finished_at = snap.finished_at or time.time()
                    self.cancelling = False
                self.clock = time.time()
        except Exception:  # a closed comm must never break the job
            logger.debug("TaskView update failed", exc_info=True)

    def _message_for(self, snap: static.Snapshot) -> str:
        """The job's note; after a cancel, what cancel() said when the job only has its error."""
        bare = not snap.message or static.restates_error(snap.message, self.job.error)
        if snap.state.stopped_on_request and self.reported_elsewhere:
            return ""
        if snap.state.stopped_on_request and self._cancel_note and bare:
            return self._cancel_note
        return snap.message

    # -- thumbnails -----------------------------------------------------------------------------
    def _start_thumbnails(self) -> None:
        """Make thumbnails off the loop thread (decoding 2K/4K images takes a while)."""
        with self._lock:
            if self._thumbs_started:
                return
            self._thumbs_started = True
        threading.Thread(target=self._send_thumbnails, name="seedream-thumbs", daemon=True).start()

    def _send_thumbnails(self) -> None:
        try:
            thumbs = self.thumbnail_bytes()
            with self._lock, self.hold_sync():
                self.image_sizes = self._sizes
                self.thumbnails = thumbs
        except Exception as exc:
            logger.warning("TaskView: thumbnails failed", exc_info=True)
            with self._lock:
                self.message = errors.redact(f"could not show the images: {exc}")
        else:
            self._release()
        self._finished()

    def thumbnail_bytes(self) -> list[bytes]:
        """JPEG thumbnails (long side ≤ ``thumb_size``) of the result, made once."""
        with self._thumb_lock:
            if self._thumbs is None:
                result = self.job.result
                if result is None:
                    return []
                self._thumbs, self._sizes = make_thumbnails(
                    result, self.thumb_size, self.pixel_ratio
                )
                self._paths = [str(p) for p in getattr(result, "paths", [])]
            return list(self._thumbs)

    def static_bundle(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The static form (``gallery.static_bundle``); with its images once the job is done."""
        job = self.job
        final = bool(self._thumbs) or (job.result is not None and job.state == JobState.COMPLETED)
        if self._bundle is not None and final:
            return self._bundle
        thumbs = self.thumbnail_bytes() if final else []
        snap = static.snapshot(job)
        request = job.request
        prompt = request.prompt.strip()
        count = len(thumbs)
        alts = [gallery.alt_text(prompt, i, count, snap.simulated) for i in range(count)]
        caption = static.caption_text(job, snap)
        bundle = gallery.static_bundle(
            text=static.summary_text(job),
            caption=caption,
            sources=thumbs,
            sizes=self._sizes,
            alts=alts,
            simulated=snap.simulated,
            notes=[snap.hint, snap.message, *self._where()],
            prompt=prompt if len(prompt) <= static.PROMPT_PREVIEW else prompt[:199] + "…",
            error=snap.error,
            sheet_labels=static.sheet_labels(count, snap.simulated),
        )
        if final and thumbs:
            self._bundle = bundle
        return bundle

    def _where(self) -> list[str]:
        if not self._paths:
            return []
        folder = str(Path(self._paths[0]).parent)
        return [f"full-size files: {folder}"]

    def _release(self) -> None:
        """Keep only the facts of a finished job (not its images) from now on."""
        with self._lock:
            if not isinstance(self.job, static.FrozenJob):
                self.job = static.FrozenJob.of(self.job)

    # -- completion -----------------------------------------------------------------------------
    def on_done(self, fn: Callable[[TaskView], None]) -> None:
        """Call ``fn(view)`` once the job has ended and the gallery is filled."""
        with self._lock:
            if not self._ended:
                self._on_done.append(fn)
                return
        fn(self)

    def _finished(self) -> None:
        with self._lock:
            self._ended = True
            callbacks, self._on_done = self._on_done, []
        for fn in callbacks:
            try:
                fn(self)
            except Exception:
                logger.exception("a TaskView on_done callback failed")

    # -- front-end -> kernel --------------------------------------------------------------------
    def on_stop_waiting(self, fn: Callable[[TaskView], None]) -> None:
        """Call ``fn(view)`` when the user clicks "Stop waiting" (a cell waits on this job)."""
        self._on_stop.append(fn)

    def _on_front_end_msg(self, _widget: object, content: object, buffers: object) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        # Off the kernel's own thread: an awaiting cell keeps handling messages meanwhile.
        if kind == "cancel":
            threading.Thread(target=self.cancel, name="seedream-cancel", daemon=True).start()
        elif kind == "stop_waiting":
            self.stop_waiting()
        elif kind == "full" and isinstance(content.get("index"), int):
            index = int(content["index"])
            threading.Thread(
                target=self._send_full, args=(index,), name="seedream-full", daemon=True
            ).start()

    def stop_waiting(self) -> None:
        """Free the waiting cell; the job goes on and its images are saved when it completes."""
        with self._lock:
            if self.done or not self.blocking:
                return
            self.stopped_waiting = True
            self.blocking = False
            callbacks = list(self._on_stop)
        for fn in callbacks:
            try:
                fn(self)
            except Exception:
                logger.exception("a TaskView stop-waiting callback failed")

    def _send_full(self, index: int) -> None:
        """The original image file, on demand (for the large view; never in the notebook)."""
        try:
            path = Path(self._paths[index]) if 0 <= index < len(self._paths) else None
            if path is None or not path.is_file():
                self.send({"type": "full", "index": index, "ok": False})
                return
            self.send({"type": "full", "index": index, "ok": True}, buffers=[path.read_bytes()])
        except Exception:
            logger.debug("TaskView: full-size image %d failed", index, exc_info=True)

    def cancel(self) -> str:
        """Cancel the job (a queued task is cancelled on the server; a processing one detached)."""
        if not self.done:
            with self._lock:
                self.cancelling = True
        try:
            message = self.job.cancel()
        except Exception as exc:
            message = errors.redact(f"could not cancel: {exc}")
        with self._lock:
            if self.status not in (JobState.COMPLETED, JobState.FAILED, JobState.ERROR):
                self._cancel_note = message
                snap = static.snapshot(self.job)
                self.message = self._message_for(snap) if snap.done else message
        return message

    # -- static fallback ------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data, metadata = dict(data or {}), dict(metadata or {})
        try:
            fallback, extra = self.static_bundle()
        except Exception:
            logger.warning("TaskView: static fallback failed", exc_info=True)
            fallback, extra = {"text/plain": static.summary_text(self.job)}, gallery.marked()
        data.update(fallback)
        metadata.update(extra)
        return data, metadata
