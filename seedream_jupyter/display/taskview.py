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

``_repr_mimebundle_`` adds a static fallback to the widget view: ``text/plain`` (a
summary with the SIMULATED marker) and, once images exist, an ``image/jpeg`` contact
sheet of small thumbnails. Re-display with ``handle.update(view)`` after the job ends
to put the images into the saved notebook.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from .. import errors, images
from ..api import JobState
from . import static
from .static import JobLike

logger = logging.getLogger("seedream_jupyter")
_HERE = Path(__file__).parent

__all__ = ["TaskView", "make_thumbnails"]


def make_thumbnails(result: Any, max_side: int) -> tuple[list[bytes], list[list[int]]]:
    """(JPEG thumbnails, [width, height] of each full image) for a Result, made through
    ``images.thumbnail`` from its files or bytes (draft-decoded; full-size pixels never kept)."""
    sources = result.sources()
    thumbs = [images.thumbnail_jpeg(source, max_side) for source in sources]
    sizes = [list(images.size_of(source)) for source in sources]
    return thumbs, sizes


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
    estimated_cost = t.Float(0.0).tag(sync=True)
    price_known = t.Bool(True).tag(sync=True)  # False: a model id the catalog does not know
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
    # blocking: a cell is waiting on this job, so clicks would only arrive after it ends
    blocking = t.Bool(False).tag(sync=True)
    cancelling = t.Bool(False).tag(sync=True)
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
        thumb_size: int = 512,
        min_interval: float = 0.1,
        blocking: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.thumb_size = thumb_size
        self.min_interval = min_interval
        self._lock = threading.RLock()
        self._thumb_lock = threading.Lock()
        self._thumbs: list[bytes] | None = None
        self._sizes: list[list[int]] = []
        self._sheet: bytes | None = None
        self._last_state: str | None = None
        self._last_snap: static.Snapshot | None = None
        self._cancel_note = ""  # what cancel() said; clearer than a racing poll's message
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
            self.count_label = static.count_label(request)
            self.aspect_ratio = request.ratio_label  # "auto → 9:16" follows the reference
            self.resolution = request.resolution
            self.pixel_size = f"{width}×{height}"
            self.expected_images = request.output_count
            self.placeholder_ratio = width / height
            self.estimated_cost = request.estimate_cost()
            self.price_known = request.price_known
            self.prompt = request.prompt
            self.started_at = job.started_at
            self.blocking = blocking
        self.on_msg(self._on_front_end_msg)
        job.subscribe(self._on_job)

    def __repr__(self) -> str:
        sim = " SIMULATED" if self.simulated else ""
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
        bare = not snap.message or snap.message == static.error_text(self.job.error)
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
                self._thumbs, self._sizes = make_thumbnails(result, self.thumb_size)
            return list(self._thumbs)

    def static_jpeg(self) -> bytes | None:
        """The contact sheet for the static fallback, or None before images exist."""
        if self._thumbs is None and (
            self.job.result is None or self.job.state != JobState.COMPLETED
        ):
            return None
        thumbs = self.thumbnail_bytes()
        if not thumbs:
            return None
        with self._thumb_lock:
            if self._sheet is None:
                labels = static.sheet_labels(len(thumbs), bool(self.job.simulated))
                self._sheet = static.contact_sheet_jpeg(thumbs, labels=labels)
            return self._sheet

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
    def _on_front_end_msg(self, _widget: object, content: object, _buffers: object) -> None:
        if isinstance(content, dict) and content.get("type") == "cancel":
            self.cancel()

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
        data["text/plain"] = static.summary_text(self.job)
        try:
            sheet = self.static_jpeg()
        except Exception:
            logger.warning("TaskView: static fallback failed", exc_info=True)
            sheet = None
        if sheet is not None:
            data["image/jpeg"] = base64.b64encode(sheet).decode("ascii")
            metadata["image/jpeg"] = {"alt": data["text/plain"].splitlines()[0]}
        return data, metadata
