"""A sweep's grid, live: the labelled table fills in as each combination's images arrive.

``GridState`` is what a live grid knows (the plan's layout, each combination's job, their
thumbnails) and draws (``grid_html``: row headers on the left, column headers on top, in each
cell its thumbnails once done, else its status line). It is a progress view's state: ``add``
and ``table`` are called from the thread that waits for the jobs (``api.waiting``), never from
a job's listener, which runs on the package's loop thread — making thumbnails decodes images.

``LiveGrid`` is the notebook's progress view of a sweep (``add`` / ``refresh`` / ``close``, like
``NotebookProgress``): the table updated in place through a display id, no widget front-end
needed. ``finish(sweep)`` replaces it with the labelled grid as a small JPEG and the sweep's
summary, so a saved notebook shows the comparison sheet anywhere. The panel's compare mode
shows the same state in a widget.
"""

from __future__ import annotations

import base64
import html
import threading
import time
from collections.abc import Sequence
from typing import Any, Final

from .. import images
from ..api import JobState, SweepPlan
from ..results import SIMULATED_NOTICE, Sweep
from . import gallery, static
from .static import JobLike, Snapshot
from .terminal import job_line

LIVE_THUMB_SIDE: Final = 160
FINAL_THUMB_SIDE: Final = 256
MIN_INTERVAL: Final = 0.5  # seconds between redraws while only progress changes


def layout_of(plan: SweepPlan) -> Sweep:
    """An empty Sweep with the plan's axes: it knows the rows, columns and labels."""
    return Sweep(plan.template, plan.axes, plan.combinations, {}, rows=plan.rows, cols=plan.cols)


def _thumb_uris(job: JobLike) -> list[str]:
    result = job.result
    if result is None:
        return []
    return [
        "data:image/jpeg;base64,"
        + base64.b64encode(images.thumbnail_jpeg(source, LIVE_THUMB_SIDE, 70)).decode("ascii")
        for source in result.sources()
    ]


def grid_html(
    layout: Sweep,
    jobs: Sequence[JobLike | None],
    thumbs: dict[int, list[str]],
    *,
    title: str = "",
) -> str:
    """The live table: ``jobs[i]`` runs combination ``i`` (None: skipped or not started);
    ``thumbs[i]`` holds its thumbnails as data: URIs once done."""
    row_names, col_names = layout.layout()
    inner = [n for n in layout.axes if n not in row_names and n not in col_names]
    row_keys, col_keys = layout._keys(row_names), layout._keys(col_names)
    cells: dict[tuple[int, int], list[str]] = {}
    for number, combo in enumerate(layout.combinations):
        where = (
            row_keys.index(tuple(combo.indices[n] for n in row_names)),
            col_keys.index(tuple(combo.indices[n] for n in col_names)),
        )
        tag = " · ".join(f"{n} {combo.values[n]}" for n in inner)
        caption = f'<div class="sj-grid-inner">{html.escape(tag)}</div>' if tag else ""
        job = jobs[number] if number < len(jobs) else None
        if combo.skipped:
            body = f'<div class="sj-grid-note">skipped: {html.escape(combo.skipped)}</div>'
        elif thumbs.get(number):
            body = "".join(
                f'<img src="{uri}" alt="{html.escape(combo.label)}" '
                f'style="max-width:{LIVE_THUMB_SIDE}px;max-height:{LIVE_THUMB_SIDE}px;'
                'margin:1px;vertical-align:top">'
                for uri in thumbs[number]
            )
        elif job is None:
            body = '<div class="sj-grid-note">waiting</div>'
        else:
            snap = static.snapshot(job)
            value = 100 if snap.state is JobState.COMPLETED else snap.progress
            line = static.status_line(snap) + (f": {snap.error}" if snap.error else "")
            body = (
                f'<progress max="100" value="{value}" style="width:8em"></progress>'
                f'<div class="sj-grid-note">{html.escape(line)}</div>'
            )
        cells.setdefault(where, []).append(
            f'<div style="display:inline-block">{body}{caption}</div>'
        )
    th = 'style="padding:4px 8px;text-align:center;font-weight:600"'
    head = "".join(f"<th {th}>{html.escape(layout._label(col_names, k))}</th>" for k in col_keys)
    corner = html.escape(" · ".join(row_names) + (" \\ " if row_names and col_names else ""))
    corner += html.escape(" · ".join(col_names))
    rows = []
    for r, key in enumerate(row_keys):
        label = html.escape(layout._label(row_names, key)) if row_names else ""
        tds = "".join(
            '<td style="padding:4px;vertical-align:top;background:var(--jp-layout-color2,#eee)">'
            + "".join(cells.get((r, c), []))
            + "</td>"
            for c in range(len(col_keys))
        )
        rows.append(f'<tr><th {th} style="text-align:left">{label}</th>{tds}</tr>')
    caption = f"<caption style='text-align:left'>{html.escape(title)}</caption>" if title else ""
    return (
        '<table class="sj-sweep-grid" style="border-collapse:separate;border-spacing:4px;'
        'font-family:var(--jp-ui-font-family,sans-serif);font-size:12px">'
        f"{caption}<thead><tr><th {th}>{corner}</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def final_bundle(sweep: Sweep) -> tuple[dict[str, Any], dict[str, Any]]:
    """The finished sweep for a saved notebook: the labelled grid (JPEG, with alt text) and
    its summary, as (data, metadata)."""
    text = sweep.summary()
    bundle: dict[str, Any] = {"text/plain": text}
    metadata: dict[str, Any] = {}
    if sweep.combinations:
        sheet = sweep.grid(thumb_side=FINAL_THUMB_SIDE)
        jpeg = images.to_jpeg_bytes(sheet, static.STATIC_QUALITY)
        encoded = base64.b64encode(jpeg).decode("ascii")
        alt = text.splitlines()[0]
        bundle["image/jpeg"] = encoded
        metadata["image/jpeg"] = {"alt": alt}
        # JupyterLab prefers HTML and ignores an image's alt metadata: carry it in the markup
        bundle["text/html"] = (
            f'<img src="data:image/jpeg;base64,{encoded}" alt="{html.escape(alt, quote=True)}" '
            f'width="{sheet.width}" style="max-width:100%;height:auto">'
        )
    return bundle, metadata


class GridState:
    """A sweep's jobs as its grid shows them (see the module): fed and drawn from the thread
    that waits for the jobs."""

    def __init__(self, plan: SweepPlan) -> None:
        self.plan = plan
        self.layout = layout_of(plan)
        # combination number of each request, in the order run_all starts them
        self._numbers = [i for i, c in enumerate(plan.combinations) if c.request is not None]
        self.jobs: list[JobLike | None] = [None] * len(plan.combinations)
        self._thumbs: dict[int, list[str]] = {}
        self._added = 0
        self.started = time.time()
        self._lock = threading.Lock()

    def add(self, job: JobLike) -> None:
        with self._lock:
            self.jobs[self._numbers[self._added]] = job
            self._added += 1

    def started_jobs(self) -> list[JobLike]:
        with self._lock:
            return [job for job in self.jobs if job is not None]

    def finished(self) -> int:
        return sum(1 for job in self.started_jobs() if job.finished_at is not None)

    def heading(self, snaps: list[Snapshot]) -> str:
        """``sweep: 2 of 4 done, 1 failed · 3.1 s`` (of every request the plan sends)."""
        return static.done_heading(self.plan.kind, snaps, self.started, total=len(self._numbers))

    def table(self, title: str = "") -> str:
        """The live table, with the thumbnails of every job done by now (made here, once)."""
        with self._lock:
            jobs = list(self.jobs)
        for number, job in enumerate(jobs):
            if job is not None and number not in self._thumbs and job.result is not None:
                self._thumbs[number] = _thumb_uris(job)
        return grid_html(self.layout, jobs, self._thumbs, title=title)


class LiveGrid:
    """The sweep's grid in a notebook cell, filled in as images arrive (see the module)."""

    def __init__(self, plan: SweepPlan) -> None:
        from IPython.display import display

        self.plan = plan
        self.state = GridState(plan)
        self._finished = 0
        self._last: dict[str, str] | None = None
        self._last_at = 0.0
        placeholder = {"text/plain": f"{plan.kind}: starting"}
        self._handle: Any = display(placeholder, raw=True, display_id=True)  # type: ignore[no-untyped-call,unused-ignore]

    def add(self, job: JobLike) -> None:
        self.state.add(job)
        self.refresh(force=True)

    def _bundle(self, final: bool = False) -> dict[str, str]:
        started = self.state.started_jobs()
        snaps = [static.snapshot(j) for j in started]
        head = self.state.heading(snaps)
        table = self.state.table(title=head)
        lines = [head] + [job_line(j) for j in started if not j.finished_at]
        simulated = final and any(s.simulated for s in snaps)
        note = gallery.notice_html(SIMULATED_NOTICE) if simulated else ""
        return {"text/plain": "\n".join(lines), "text/html": table + note}

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        finished = self.state.finished()
        if not force and now - self._last_at < MIN_INTERVAL and finished == self._finished:
            return
        self._finished = finished
        bundle = self._bundle()
        if bundle != self._last:
            self._last, self._last_at = bundle, now
            self._handle.update(bundle, raw=True)

    def close(self) -> None:
        bundle = self._bundle(final=True)
        if bundle != self._last:
            self._last = bundle
            self._handle.update(bundle, raw=True)

    def finish(self, sweep: Sweep) -> None:
        """Leave the labelled grid (JPEG) in the cell: what a saved notebook shows."""
        data, metadata = final_bundle(sweep)
        self._handle.update(data, metadata=metadata, raw=True)
