"""Progress on a terminal: a one-line, carriage-return progress display for a job."""

from __future__ import annotations

import sys
import threading
import time
from typing import Final, TextIO

from ..api import JobState
from .static import (
    SIMULATED_MARK,
    SIMULATED_NOTE,
    JobLike,
    Snapshot,
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


class TextProgress:
    """A carriage-return progress line for a job, then a summary (terminal IPython).

    Updates come from the job's thread; they are throttled to ``min_interval`` seconds
    except on state changes.
    """

    def __init__(
        self, job: JobLike, *, stream: TextIO | None = None, min_interval: float = 0.1
    ) -> None:
        self.job = job
        self.stream = stream if stream is not None else sys.stdout
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._last_state: str | None = None
        self._last_time = 0.0
        self._width = 0
        self._finished = False
        job.subscribe(self._update)

    def _update(self, job: JobLike) -> None:
        snap = snapshot(job)
        now = time.monotonic()
        with self._lock:
            if self._finished:
                return
            changed = snap.state != self._last_state
            if not changed and not snap.done and now - self._last_time < self.min_interval:
                return
            self._last_state, self._last_time = snap.state, now
            line = job_line(self.job, snap)
            pad = max(0, self._width - len(line))
            self._width = len(line)
            self.stream.write("\r" + line + " " * pad)
            if snap.done:
                self._finished = True
                self.stream.write("\n")
                if snap.error:
                    self.stream.write(f"error: {snap.error}\n")
                    if snap.hint:
                        self.stream.write(snap.hint + "\n")
                elif snap.message and not snap.state.stopped_on_request:
                    # a stop is reported once, by whoever stopped the job (the magic's
                    # "Interrupted: ..." line)
                    self.stream.write(snap.message + "\n")
            self.stream.flush()

    def summary(self) -> str:
        return summary_text(self.job)


class TerminalProgress:
    """The helpers' progress on a terminal: one line redrawn in place, then left standing.

    One job: its line (model, bar, status, elapsed, task id). Several (a batch): how many
    are done, and the line of the newest running one.
    """

    def __init__(self, title: str, *, stream: TextIO) -> None:
        self.title = title
        self.stream = stream
        self.jobs: list[JobLike] = []
        self._started = time.time()
        self._width = 0
        self._last = ""
        self._closed = False

    def add(self, job: JobLike) -> None:
        self.jobs.append(job)
        self.refresh()

    def _line(self) -> str:
        snaps = [snapshot(job) for job in self.jobs]
        if len(self.jobs) == 1:
            return job_line(self.jobs[0], snaps[0])
        done = sum(snap.done for snap in snaps)
        failed = sum(snap.failed for snap in snaps)
        head = f"{self.title}: {done} of {len(self.jobs)} done"
        head += f", {failed} failed" if failed else ""
        head += f" · {format_elapsed(time.time() - self._started)}"
        running = [job for job, snap in zip(self.jobs, snaps) if not snap.done]
        return head if not running else f"{head} · {job_line(running[-1])}"

    def refresh(self) -> None:
        if self._closed or not self.jobs:
            return
        line = self._line()
        if line == self._last:
            return
        self._last = line
        pad = max(0, self._width - len(line))
        self._width = len(line)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()

    def close(self) -> None:
        if self._closed:
            return
        self.refresh()
        self._closed = True
        if self.jobs:
            self.stream.write("\n")
            if any(snapshot(job).simulated for job in self.jobs):
                self.stream.write(SIMULATED_NOTE + "\n")
            self.stream.flush()
