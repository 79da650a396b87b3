"""The panel's record in the saved notebook: a contact sheet and a summary of its runs.

The panel is a live widget, and its runs come in after its cell has returned. Re-displaying
the panel on every run would rebuild its view (and lose what the user is typing), so a second
output sits under it: in live Jupyter it is hidden (a widget view with an empty model id, which
the widget renderer hides, as it does for a closed widget). It also carries the static gallery
of the runs (``display.gallery``: HTML, a JPEG contact sheet, text) and the mark that makes the
pre-save hook (``display.saving``) write it to disk without the widget view: a reopened
notebook shows the runs' images in JupyterLab and Notebook 7 too, and GitHub, nbviewer,
VS Code and nbconvert show them as before. Every run that ends, or is dismissed, updates it
through its display id; JupyterLab and Notebook 7 apply such updates to the output even after
the cell has returned (while the page that ran the cell is open).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

from ..display import gallery, static

logger = logging.getLogger("seedream_jupyter")

WIDGET_MIME: Final = "application/vnd.jupyter.widget-view+json"
MAX_SHEET_IMAGES: Final = 24
MAX_LISTED_RUNS: Final = 20

__all__ = ["PanelRecord", "RecordedRun", "record_bundle"]


class RecordedRun(Protocol):
    """What the record needs of a run (``panel.PanelRun``)."""

    @property
    def job(self) -> static.JobLike: ...
    @property
    def view(self) -> Any: ...
    @property
    def index(self) -> int | None: ...


def _thumbnails(run: RecordedRun) -> list[bytes]:
    """The run's gallery thumbnails; none when they cannot be made (its text still counts)."""
    get = getattr(run.view, "thumbnail_bytes", None)
    if not callable(get) or run.job.result is None:
        return []
    try:
        return list(get())
    except Exception:  # e.g. an image file deleted since: one run must not stop the record
        logger.debug("panel record: no thumbnails for %s", run.job.task_id, exc_info=True)
        return []


def record_bundle(runs: Sequence[RecordedRun]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The record's mime bundle for ``runs`` (oldest first, as in ``panel.runs``)."""
    hidden = {WIDGET_MIME: {"version_major": 2, "version_minor": 0, "model_id": ""}}
    newest_first = list(reversed(runs))
    if not newest_first:
        return {**hidden, "text/plain": ""}, {}
    thumbs: list[bytes] = []
    sizes: list[list[int]] = []
    labels: list[str] = []
    alts: list[str] = []
    simulated = False
    for run in newest_first:
        simulated = simulated or bool(run.job.simulated)
        run_sizes = list(getattr(run.view, "image_sizes", []) or [])
        for i, thumb in enumerate(_thumbnails(run)):
            if len(thumbs) < MAX_SHEET_IMAGES:
                thumbs.append(thumb)
                sizes.append(run_sizes[i] if i < len(run_sizes) else list(images_size(thumb)))
                mark = f"  {static.SIMULATED_MARK}" if run.job.simulated else ""
                labels.append(f"panel.results[{run.index}] #{i + 1}{mark}")
                alts.append(
                    f"{static.SIMULATED_MARK + ' ' if run.job.simulated else ''}panel.results"
                    f"[{run.index}] image {i + 1}: {run.job.request.prompt[:100]}"
                )
    count = sum(static.image_count(run.job) for run in newest_first)
    head = (
        f"Seedream panel: {len(runs)} run{'s' if len(runs) != 1 else ''}, "
        f"{count} image{'s' if count != 1 else ''}, newest first"
        + (f" (the sheet shows {len(thumbs)})" if len(thumbs) < count else "")
        + ". Results: panel.results and sj.history()."
    )
    listed = [static.summary_text(run.job) for run in newest_first[:MAX_LISTED_RUNS]]
    if len(newest_first) > MAX_LISTED_RUNS:
        listed.append(f"… and {len(newest_first) - MAX_LISTED_RUNS} older runs")
    captions = [static.caption_text(run.job) for run in newest_first[:MAX_LISTED_RUNS]]
    data, metadata = gallery.static_bundle(
        text="\n\n".join([head, *listed]),
        caption=head,
        sources=thumbs,
        sizes=sizes,
        alts=alts,
        simulated=simulated,
        notes=captions,
        sheet_labels=labels,
    )
    if "image/jpeg" in metadata:
        alt = head if not simulated else f"[{static.SIMULATED_MARK}] {head}"
        metadata["image/jpeg"] = {"alt": alt}
    return {**hidden, **data}, metadata


def images_size(thumb: bytes) -> tuple[int, int]:
    from ..images import size_of

    return size_of(thumb)


class PanelRecord:
    """One display id; ``show`` puts the record in the cell, ``refresh`` brings it up to date.

    Refreshes are coalesced on one worker thread: building the sheet decodes thumbnails, which
    must not hold up the client's loop thread, and updates must go out in order.
    """

    def __init__(self, runs: Callable[[], Sequence[RecordedRun]]) -> None:
        self.display_id = f"seedream-panel-record-{uuid.uuid4().hex}"
        self._runs = runs
        self._lock = threading.Lock()
        self._shown = False
        self._dirty = False
        self._worker: threading.Thread | None = None

    def show(self) -> None:
        from IPython.display import display

        # Empty first, then a refresh in order with any other: a run that ends meanwhile
        # is not missed, and an older bundle never lands after a newer one.
        data, metadata = record_bundle([])
        display(data, raw=True, metadata=metadata, display_id=self.display_id)  # type: ignore[no-untyped-call,unused-ignore]
        with self._lock:
            self._shown = True
        if self._runs():
            self.refresh()

    def refresh(self) -> None:
        with self._lock:
            if not self._shown:
                return
            self._dirty = True
            if self._worker is not None:
                return  # the running worker picks the change up
            self._worker = threading.Thread(
                target=self._work, name="seedream-panel-record", daemon=True
            )
            self._worker.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait until pending refreshes have been sent."""
        with self._lock:
            worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._dirty:
                    self._worker = None
                    return
                self._dirty = False
            try:
                from IPython.display import update_display

                data, metadata = record_bundle(self._runs())
                update_display(data, raw=True, metadata=metadata, display_id=self.display_id)  # type: ignore[no-untyped-call,unused-ignore]
            except Exception:  # the saved record is a courtesy; the live panel goes on
                logger.warning("panel: updating the saved-notebook record failed", exc_info=True)
