"""JobState: every state a generation can be in, with what each one means for a view.

The one home of these words: the Job sets them, the text and widget views read ``label``,
``active`` and ``terminal`` (the widget receives them as traits, not as a table of its own).
"""

from __future__ import annotations

import enum

from ..task import TaskStatus


class JobState(str, enum.Enum):
    SUBMITTING = "submitting"
    QUEUED = "queued"
    PROCESSING = "processing"
    DOWNLOADING = "downloading"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DETACHED = "detached"
    TIMEOUT = "timeout"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        """How a view says it: ``downloading images``, ``timed out``, ..."""
        return _LABELS.get(self, self.value)

    @property
    def active(self) -> bool:
        """Still going: the server or the downloads are working on it."""
        return self in _ACTIVE

    @property
    def on_server(self) -> bool:
        """The server holds it (submitting, queued, processing): what a batch's concurrency
        counts. Its downloads hold no slot."""
        return self in _ACTIVE and self is not JobState.DOWNLOADING

    @property
    def terminal(self) -> bool:
        return not self.active

    @property
    def stopped_on_request(self) -> bool:
        """Ended because someone asked (Cancel, an interrupt): not an error to show."""
        return self in (JobState.CANCELLED, JobState.DETACHED)

    @classmethod
    def of_task(cls, status: TaskStatus) -> JobState:
        """The job state while the server reports ``status`` ("completed" waits for the images)."""
        if status is TaskStatus.COMPLETED:
            return cls.DOWNLOADING
        return cls(status.value)


_ACTIVE = frozenset(
    {JobState.SUBMITTING, JobState.QUEUED, JobState.PROCESSING, JobState.DOWNLOADING}
)
_LABELS = {
    JobState.SUBMITTING: "submitting",
    JobState.DOWNLOADING: "downloading images",
    JobState.TIMEOUT: "timed out",
}
