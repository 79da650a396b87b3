"""What a job looks like without a widget front-end.

* ``snapshot(job)``: the plain facts every renderer shows (status, progress, error and
  what to do about it), shared by the widget and the text renderers.
* ``summary_text(job)``: the ``text/plain`` part of a TaskView's mime bundle;
  ``caption_text(job)`` its gallery's caption (``results.caption``, the one every view uses).
* ``done_heading(title, snaps, started)``: "batch of 3: 2 of 3 done, 1 failed · 4.2 s", the
  heading of every view of several jobs.

Errors are said through ``errors.describe`` and the simulated notice is
``results.SIMULATED_NOTICE``: no text of this layer restates them.

Jobs are read through ``JobLike`` (the attributes of ``api.Job``); their states are
``api.JobState``, whose labels every view shows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from .. import errors, results
from ..api import JobState
from . import gallery

if TYPE_CHECKING:
    from ..request import GenerationRequest

SIMULATED_MARK: Final = results.SIMULATED_MARK
STATIC_THUMB_SIDE: Final = gallery.SHEET_SIDE  # (an old name, kept for the unit tests)
STATIC_QUALITY: Final = 75
PROMPT_PREVIEW: Final = 200


class JobLike(Protocol):
    """The parts of ``api.Job`` the display layer reads (read-only)."""

    @property
    def request(self) -> GenerationRequest: ...
    @property
    def task_id(self) -> str | None: ...
    @property
    def state(self) -> JobState: ...
    @property
    def progress(self) -> int: ...
    @property
    def started_at(self) -> float: ...
    @property
    def finished_at(self) -> float | None: ...
    @property
    def from_cache(self) -> bool: ...
    @property
    def result(self) -> Any: ...
    @property
    def error(self) -> BaseException | None: ...
    @property
    def message(self) -> str | None: ...
    @property
    def simulated(self) -> bool: ...

    def subscribe(self, fn: Any) -> None: ...

    def cancel(self) -> str: ...


@dataclass(frozen=True)
class FrozenJob:
    """A finished job's facts without its images: what a view keeps once it is done, so a
    widget (ipywidgets keeps every widget alive) does not pin the job's image bytes."""

    request: GenerationRequest
    task_id: str | None
    state: JobState
    progress: int
    started_at: float
    finished_at: float | None
    from_cache: bool
    error: BaseException | None
    message: str | None
    simulated: bool
    image_count: int
    result: None = None

    @classmethod
    def of(cls, job: JobLike) -> FrozenJob:
        return cls(
            request=job.request,
            task_id=job.task_id,
            state=JobState(job.state),
            progress=int(job.progress or 0),
            started_at=job.started_at,
            finished_at=job.finished_at,
            from_cache=bool(job.from_cache),
            error=job.error,
            message=job.message,
            simulated=bool(job.simulated),
            image_count=image_count(job),
        )

    def subscribe(self, fn: Any) -> None:
        fn(self)

    def cancel(self) -> str:
        return self.message or f"task {self.task_id} is already {self.state}"


def image_count(job: JobLike) -> int:
    result = job.result
    if result is not None:
        return len(result)
    return int(getattr(job, "image_count", 0))


@dataclass(frozen=True)
class Snapshot:
    """One consistent reading of a job's state."""

    state: JobState
    progress: int
    task_id: str
    message: str
    error: str
    hint: str
    done: bool
    finished_at: float | None
    from_cache: bool
    simulated: bool

    @property
    def failed(self) -> bool:
        """Ended with an error (``error`` is "" when there is none, never None: count this)."""
        return self.done and bool(self.error)


def restates_error(message: str, error: BaseException | None) -> bool:
    """True when a job's note only repeats its error (a Job's note on failure is ``str(error)``:
    the message and the hint, which a view shows on lines of their own)."""
    if error is None or not message:
        return False
    return message in (errors.describe(error)[0], errors.redact(str(error)))


def snapshot(job: JobLike) -> Snapshot:
    state = JobState(job.state)
    # A job is over only when it says so (finished_at); the server's "completed" comes
    # first, while the images are still being downloaded.
    running = job.finished_at is None
    if running and state is JobState.COMPLETED:
        state = JobState.DOWNLOADING
    err = job.error
    # A stop the user asked for is not an error: its message says what happened.
    shown_error, hint = errors.describe(err) if err is not None else ("", "")
    if state.stopped_on_request:
        shown_error = hint = ""
    message = job.message or ""
    if shown_error and restates_error(message, err):
        message = ""
    return Snapshot(
        state=state,
        progress=max(0, min(100, int(job.progress or 0))),
        task_id=job.task_id or "",
        message=errors.redact(message),
        error=shown_error,
        hint=hint,
        done=state.terminal and not running,
        finished_at=job.finished_at,
        from_cache=bool(job.from_cache),
        simulated=bool(job.simulated),
    )


def format_elapsed(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} m {secs:02d} s"


def header_text(request: GenerationRequest) -> str:
    """``doubao-seedream-4.5 · group ×4 · 16:9 · 2K · ≈ $0.12`` (``auto → 9:16``, ``price
    unknown`` for a model id the catalog does not know)."""
    return (
        f"{request.model} · {request.count_label()} · {request.ratio_label} · "
        f"{request.resolution} · {request.cost_text()}"
    )


def caption_text(job: JobLike, snap: Snapshot | None = None) -> str:
    """The static gallery's caption (``results.caption``: the cost of what came back once
    images exist), with the job's status."""
    snap = snap or snapshot(job)
    return results.caption(
        job.request,
        images=image_count(job),
        simulated=snap.simulated,
        status=status_line(snap),
        task_id=snap.task_id,
    )


def done_heading(
    title: str, snaps: Sequence[Snapshot], started: float, total: int | None = None
) -> str:
    """``batch of 3: 2 of 3 done, 1 failed · 4.2 s``: the heading of a view of several jobs
    (``total``: how many there will be, when not all have started)."""
    count = len(snaps) if total is None else total
    head = f"{title}: {sum(s.done for s in snaps)} of {count} done"
    failed = sum(s.failed for s in snaps)
    head += f", {failed} failed" if failed else ""
    return f"{head} · {format_elapsed(time.time() - started)}"


def status_line(snap: Snapshot) -> str:
    label = snap.state.label
    if snap.state is JobState.PROCESSING:
        label = f"{label} {snap.progress}%"
    if snap.from_cache:
        label += f" ({results.FROM_CACHE_NOTE})"
    return label


def summary_text(job: JobLike) -> str:
    """The ``text/plain`` fallback: model, status, task id, SIMULATED marker, cost."""
    snap = snapshot(job)
    request = job.request
    mark = f"[{SIMULATED_MARK}] " if snap.simulated else ""
    end = snap.finished_at if snap.finished_at is not None else time.time()
    parts = [status_line(snap), format_elapsed(end - job.started_at)]
    if snap.task_id:
        parts.append(f"task {snap.task_id}")
    count = image_count(job)
    if count:
        parts.append(f"{count} image{'s' if count != 1 else ''}")
    lines = [f"{mark}{header_text(request)}", " · ".join(parts)]
    prompt = request.prompt.strip().replace("\n", " ")
    if len(prompt) > PROMPT_PREVIEW:
        prompt = prompt[: PROMPT_PREVIEW - 1] + "…"
    lines.append(f"prompt: {prompt}")
    if snap.error:
        lines.append(f"error: {snap.error}")
    if snap.hint:
        lines.append(snap.hint)
    if snap.message:
        lines.append(snap.message)
    if snap.simulated:
        lines.append(results.SIMULATED_NOTICE)
    return "\n".join(lines)


def sheet_labels(count: int, simulated: bool) -> list[str] | None:
    if not simulated:
        return None
    return [f"#{i + 1}  {SIMULATED_MARK}" for i in range(count)]
