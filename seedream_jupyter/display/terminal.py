"""Progress on a terminal: one line redrawn in place with a carriage return.

``TerminalProgress`` is the one line: a job's (model, bar, status, elapsed, task id), or for
several jobs (a batch) how many are done and the newest running one. The helpers drive it as
their progress view (``add`` / ``refresh`` / ``close``, from the waiting thread, on stderr);
``TextProgress`` is the same line for the magic's one job, redrawn from the job's own
updates on stdout, and ends with the outcome (the error and what to do, or the job's note).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Final, TextIO

from ..api import JobState
from ..config import SIMULATED_NOTICE
from .static import (
    SIMULATED_MARK,
    JobLike,
    Snapshot,
    done_heading,
    format_elapsed,
    snapshot,
    status_line,
    summary_text,
)

_BAR_WIDTH: Final = 24


def progress_bar(snap: Snapshot) -> str:
    if snap.state in (JobState.COMPLETED, JobState.DOWNLOADING):  # the server's work is done
        filled = _BAR_WIDTH
    elif snap.state is JobState.PROCESSING:
        filled = round(_BAR_WIDTH * snap.progress / 100)
    else:
        filled = 0
    return "█" * filled + "░" * (_BAR_WIDTH - filled)


def job_line(job: JobLike, snap: Snapshot | None = None, *, bar: bool = True) -> str:
    """One line: ``[SIMULATED] model · ███░░ · processing 40% · 3.2 s · task-id``.

    A job that ended without images (cancelled, stopped, failed) shows no bar: an empty one
    would read as "nothing happened" rather than as the state it ended in."""
    snap = snap or snapshot(job)
    mark = f"[{SIMULATED_MARK}] " if snap.simulated else ""
    end = snap.finished_at if snap.finished_at is not None else time.time()
    ended_without_images = snap.done and snap.state is not JobState.COMPLETED
    parts = [f"{mark}{job.request.model}"]
    if bar and not ended_without_images:
        parts.append(progress_bar(snap))
    parts += [status_line(snap), format_elapsed(end - job.started_at)]
    if snap.task_id:
        parts.append(snap.task_id)
    return " · ".join(parts)


class TerminalProgress:
    """The helpers' progress on a terminal: one line redrawn in place, then left standing
    (with the SIMULATED notice when the simulator answered)."""

    def __init__(self, title: str, *, stream: TextIO) -> None:
        self.title = title
        self.stream = stream
        self.jobs: list[JobLike] = []
        self._started = time.time()
        self._width = 0
        self._last = ""
        self._closed = False
        self._draw_lock = threading.Lock()

    def add(self, job: JobLike) -> None:
        self.jobs.append(job)
        self.refresh()

    def _line(self, snaps: list[Snapshot] | None = None) -> str:
        snaps = snaps if snaps is not None else [snapshot(job) for job in self.jobs]
        if len(self.jobs) == 1:
            return job_line(self.jobs[0], snaps[0])
        head = done_heading(self.title, snaps, self._started)
        running = [job for job, snap in zip(self.jobs, snaps) if not snap.done]
        return head if not running else f"{head} · {job_line(running[-1])}"

    def _draw(self, line: str) -> bool:
        """Redraw the line (padded over a longer previous one); False when nothing changed."""
        with self._draw_lock:
            if line == self._last:
                return False
            self._last = line
            pad = max(0, self._width - len(line))
            self._width = len(line)
            self.stream.write("\r" + line + " " * pad)
            self.stream.flush()
            return True

    def refresh(self) -> None:
        if self._closed or not self.jobs:
            return
        self._draw(self._line())

    def close(self) -> None:
        if self._closed:
            return
        self.refresh()
        self._closed = True
        if self.jobs:
            self.stream.write("\n")
            if any(snapshot(job).simulated for job in self.jobs):
                self.stream.write(SIMULATED_NOTICE + "\n")
            self.stream.flush()


class TextProgress(TerminalProgress):
    """The magic's one job on a terminal (stdout by default): the line, redrawn as the job
    changes (throttled to ``min_interval`` seconds except on state changes), then its outcome.
    """

    def __init__(
        self, job: JobLike, *, stream: TextIO | None = None, min_interval: float = 0.1
    ) -> None:
        super().__init__(job.request.prompt, stream=stream if stream is not None else sys.stdout)
        self.job = job
        self.jobs = [job]
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._last_state: str | None = None
        self._last_time = 0.0
        job.subscribe(self._update)

    def _update(self, job: JobLike) -> None:
        snap = snapshot(job)
        now = time.monotonic()
        with self._lock:
            if self._closed:
                return
            changed = snap.state != self._last_state
            if not changed and not snap.done and now - self._last_time < self.min_interval:
                return
            self._last_state, self._last_time = snap.state, now
            self._draw(self._line([snap]))
            if snap.done:
                self._closed = True
                self.stream.write("\n" + self._outcome(snap))
                self.stream.flush()

    @staticmethod
    def _outcome(snap: Snapshot) -> str:
        if snap.error:
            return f"error: {snap.error}\n" + (f"{snap.hint}\n" if snap.hint else "")
        if snap.message and not snap.state.stopped_on_request:
            # a stop is reported once, by whoever stopped the job (the magic's
            # "Interrupted: ..." line)
            return snap.message + "\n"
        return ""

    def summary(self) -> str:
        return summary_text(self.job)
