"""What a job looks like without a widget front-end.

* ``snapshot(job)``: the plain facts every renderer shows (status, progress, error and
  what to do about it), shared by the widget and the text renderers.
* ``summary_text(job)``: the ``text/plain`` part of a TaskView's mime bundle.
* ``contact_sheet_jpeg(thumbs)``: the ``image/jpeg`` part — small thumbnails side by side,
  so a saved notebook shows its images in GitHub, nbviewer, VS Code and untrusted Lab at
  tens of KB per image.

Jobs are read through ``JobLike`` (the attributes of ``api.Job``); their states are
``api.JobState``, whose labels every view shows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from .. import errors, images, results
from ..api import JobState

if TYPE_CHECKING:
    from ..request import GenerationRequest

SIMULATED_MARK: Final = results.SIMULATED_MARK
SIMULATED_NOTE: Final = (
    "SIMULATED: synthetic images from the seedream-jupyter simulator, not Seedream (no cost). "
    "Set WAVE_API_KEY for real images."
)
STATIC_THUMB_SIDE: Final = 384
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


def hint_for(error: BaseException | None) -> str:
    """What to do about an error, in one sentence: the exception's own ``hint``."""
    if error is None:
        return ""
    if isinstance(error, errors.SeedreamError):
        return error.hint
    return "An unexpected error: the details are in the log (logger 'seedream_jupyter')."


def error_text(error: BaseException | None) -> str:
    if error is None:
        return ""
    if isinstance(error, errors.SeedreamError):
        return error.message  # its hint is shown on a line of its own
    return errors.redact(f"{type(error).__name__}: {error}")


def snapshot(job: JobLike) -> Snapshot:
    state = JobState(job.state)
    # A job is over only when it says so (finished_at); the server's "completed" comes
    # first, while the images are still being downloaded.
    running = job.finished_at is None
    if running and state is JobState.COMPLETED:
        state = JobState.DOWNLOADING
    err = job.error
    # A stop the user asked for is not an error: its message says what happened.
    shown_error = "" if state.stopped_on_request else error_text(err)
    message = job.message or ""
    if message and message == shown_error:
        message = ""
    return Snapshot(
        state=state,
        progress=max(0, min(100, int(job.progress or 0))),
        task_id=job.task_id or "",
        message=errors.redact(message),
        error=shown_error,
        hint="" if not shown_error else hint_for(err),
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


def count_label(request: GenerationRequest) -> str:
    if request.action == "group":
        return f"group ×{request.output_count}"
    return f"{request.action} ×{request.n}" if request.n > 1 else request.action


def header_text(request: GenerationRequest) -> str:
    """``doubao-seedream-4.5 · group ×4 · 16:9 · 2K · ≈ $0.12`` (``auto → 9:16``, ``price
    unknown`` for a model id the catalog does not know)."""
    return (
        f"{request.model} · {count_label(request)} · {request.ratio_label} · "
        f"{request.resolution} · {request.cost_text(2)}"
    )


def caption_text(job: JobLike, snap: Snapshot | None = None) -> str:
    """The static gallery's caption: ``model · group ×3 · 16:9 · 2K · 2560×1440 · ≈ $0.12 ·
    completed · task-…`` (the cost of what came back once images exist)."""
    snap = snap or snapshot(job)
    request = job.request
    width, height = request.pixel_size
    count = image_count(job)
    cost = request.spec.cost(count) if count else request.estimate_cost()
    parts = [
        request.model,
        count_label(request),
        request.aspect_ratio,
        request.resolution,
        f"{width}×{height}",
        f"≈ ${cost:.2f}" + (" (simulated: not billed)" if snap.simulated else ""),
        status_line(snap),
    ]
    if snap.task_id:
        parts.append(snap.task_id)
    return " · ".join(parts)


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
        lines.append(f"{SIMULATED_MARK}: synthetic images from the simulator, not Seedream.")
    return "\n".join(lines)


def contact_sheet_jpeg(
    thumbs: Sequence[bytes],
    *,
    labels: Sequence[str] | None = None,
    thumb_side: int = STATIC_THUMB_SIDE,
    quality: int = STATIC_QUALITY,
) -> bytes:
    """JPEG thumbnails (bytes) as one small JPEG contact sheet."""
    columns = min(len(thumbs), 4) or 1
    sheet = images.contact_sheet(
        list(thumbs), thumb_side=thumb_side, columns=columns, labels=labels
    )
    return images.to_jpeg_bytes(sheet, quality=quality)


def sheet_labels(count: int, simulated: bool) -> list[str] | None:
    if not simulated:
        return None
    return [f"#{i + 1}  {SIMULATED_MARK}" for i in range(count)]
