"""Progress for the blocking helpers (``sj.generate``, ``sj.batch``, ``sj.sweep``) in a notebook.

One small HTML block per call, updated in place through a display id, tqdm-style: the
helper refreshes it from the thread that waits (the cell's own), so every update lands
in the right cell and needs no widget front-end. The Result is the cell's value and
shows the images, so this block shows only progress.
"""

from __future__ import annotations

import html
import time
from typing import Any

from ..api import JobState
from ..config import SIMULATED_NOTICE
from . import gallery, static
from .static import JobLike
from .terminal import job_line

_MAX_LINES = 12  # a long batch shows its running and latest jobs, not all of them


def _bundle(
    title: str, jobs: list[JobLike], started: float, *, final: bool = False
) -> dict[str, str]:
    snaps = [static.snapshot(job) for job in jobs]
    # one bar per job: the HTML <progress>; the text bar only in text/plain
    lines = [job_line(job, snap, bar=False) for job, snap in zip(jobs, snaps)]
    text_lines = [job_line(job, snap) for job, snap in zip(jobs, snaps)]
    rows = list(zip(lines, snaps))
    if len(jobs) > 1:
        head = static.done_heading(title, snaps, started)
        running = [row for row in rows if not row[1].done]
        rows = (running + [row for row in rows if row[1].done][::-1])[:_MAX_LINES]
    else:
        head = ""
    by_line = dict(zip(lines, text_lines))
    shown = [by_line.get(line, line) for line, _ in rows]
    text = "\n".join([head, *shown] if head else shown)
    bars = []
    for line, snap in rows:
        value = 100 if snap.state in (JobState.COMPLETED, JobState.DOWNLOADING) else snap.progress
        ended = snap.done and snap.state is not JobState.COMPLETED
        meter = (
            ""
            if ended
            else f'<progress max="100" value="{value}" style="width:10em;vertical-align:middle">'
            "</progress> "
        )
        bars.append(f"<div>{meter}{html.escape(line)}</div>")
    heading = f"<div><b>{html.escape(head)}</b></div>" if head else ""
    note = ""
    if final and any(snap.simulated for snap in snaps):  # said once, where the images are
        text += f"\n{SIMULATED_NOTICE}"
        note = gallery.notice_html(SIMULATED_NOTICE)
    markup = (
        '<div class="seedream-progress" style="font-family:var(--jp-code-font-family,monospace);'
        f'font-size:12px;line-height:1.6">{heading}{"".join(bars)}{note}</div>'
    )
    return {"text/plain": text, "text/html": markup}


class NotebookProgress:
    """A live progress block for one helper call; ``refresh`` sends only what changed."""

    def __init__(self, title: str) -> None:
        from IPython.display import display

        self.title = title
        self.jobs: list[JobLike] = []
        self._started = time.time()
        self._last: dict[str, str] | None = None
        placeholder = {"text/plain": f"{title}: starting"}
        self._handle: Any = display(placeholder, raw=True, display_id=True)  # type: ignore[no-untyped-call,unused-ignore]

    def add(self, job: JobLike) -> None:
        self.jobs.append(job)
        self.refresh()

    def refresh(self) -> None:
        bundle = _bundle(self.title, self.jobs, self._started)
        if bundle != self._last:
            self._last = bundle
            self._handle.update(bundle, raw=True)

    def close(self) -> None:
        bundle = _bundle(self.title, self.jobs, self._started, final=True)
        if bundle != self._last:
            self._last = bundle
            self._handle.update(bundle, raw=True)
