"""The panel's compare mode: the form's ``vary`` field (``model=4.0,4.5; seed=1,2``) turns
Generate into a small sweep, run in the background and shown as a labelled grid.

The form's other fields are fixed for every combination (a varied field wins over its
widget); the prompt is the sweep's template, so ``{style}`` is filled from ``style=...``.
A billed sweep above ``confirm_above_usd`` is not sent on the first click: the panel says
what it costs and sends it on the second click of the same sweep.

A run is the sweep's progress view (``display.grid.GridState`` in a widget): the sweep's own
thread feeds and redraws it while it waits, so thumbnails are never made on the package's
loop thread. Its Cancel starts no other combination and cancels its jobs (a queued task is
cancelled on the server and refunded; a started one is no longer waited for).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import ipywidgets as widgets

from .. import api, images
from ..display import static
from ..display.grid import GridState
from ..results import Sweep
from .messages import describe_error, message_html

if TYPE_CHECKING:
    from ..api import SweepPlan
    from ..display.static import JobLike
    from .form import PanelForm

logger = logging.getLogger("seedream_jupyter")
REFRESH_SECONDS: Final = 0.5
GRID_SIDE: Final = 224


def plan_from_form(form: PanelForm, *, client: Any, timeout: Any, cache: Any) -> SweepPlan:
    """The sweep the form describes (ValidationError names what to fix)."""
    axes = api.parse_axes(str(form.vary.value))
    fixed = {k: v for k, v in form.params().items() if k not in axes and v is not None}
    if "model" in axes and "output_format" in fixed and fixed["output_format"] == "jpeg":
        fixed.pop("output_format")  # jpeg is every model's default
    values: dict[str, Any] = {**fixed, **axes, "client": client, "timeout": timeout}
    return api.plan_sweep(
        str(form.prompt.value), cols=next(iter(axes), None), cache=cache, **values
    )


class CompareRun:
    """One compare-mode click: a live grid (HTML) while it runs, then the labelled sheet."""

    def __init__(self, plan: SweepPlan, on_done: Callable[[CompareRun], None]) -> None:
        self.plan = plan
        self.sweep: Sweep | None = None
        self.error: BaseException | None = None
        self.state = GridState(plan)
        self._stop = threading.Event()
        self._on_done = on_done
        self._last = 0.0
        self.live = widgets.HTML("")
        self.message = widgets.HTML(message_html(plan.describe()))
        self.sheet = widgets.Image(format="jpeg", layout=widgets.Layout(max_width="100%"))
        self.sheet.layout.display = "none"
        self.cancel_button = widgets.Button(
            description="Cancel",
            tooltip="start no other combination; cancel the queued tasks (refunded) and stop "
            "waiting for the started ones",
            layout=widgets.Layout(width="auto"),
        )
        self.cancel_button.add_class("sjp-compare-cancel")
        self.cancel_button.on_click(lambda _button: self.cancel())
        self.box = widgets.VBox([self.message, self.live, self.sheet, self.cancel_button])
        self.box.add_class("sjp-compare-run")
        self.refresh(force=True)
        self._thread = threading.Thread(target=self._run, name="seedream-compare", daemon=True)
        self._thread.start()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    # -- the sweep's progress view (called from the sweep's thread) --------------------------
    def add(self, job: JobLike) -> None:
        self.state.add(job)
        if self._stop.is_set():  # started just as Cancel was clicked
            self._cancel_jobs([job])
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < REFRESH_SECONDS:
            return
        self._last = now
        snaps = [static.snapshot(job) for job in self.state.started_jobs()]
        self.live.value = self.state.table(title=self.state.heading(snaps))

    def close(self) -> None:
        self.refresh(force=True)

    def finish(self, sweep: Sweep) -> None:
        """The labelled sheet replaces the live table."""
        self.sheet.value = images.to_jpeg_bytes(sweep.grid(thumb_side=GRID_SIDE), 80)
        self.sheet.layout.display = ""
        self.live.value = ""

    # -- control ---------------------------------------------------------------------------
    def cancel(self) -> None:
        """Start no other combination; cancel (or stop waiting for) the jobs in flight."""
        if self.done or self._stop.is_set():
            return
        self._stop.set()
        self.cancel_button.disabled = True
        self.message.value = message_html(
            "cancelling: no other combination is sent; queued tasks are cancelled (refunded), "
            "started ones are no longer waited for (their images are saved when they complete)"
        )
        jobs = self.state.started_jobs()
        # off the kernel's thread: each cancel may wait for the server's answer
        threading.Thread(
            target=self._cancel_jobs, args=(jobs,), name="seedream-cancel", daemon=True
        ).start()

    @staticmethod
    def _cancel_jobs(jobs: Sequence[JobLike]) -> None:
        for job in jobs:
            if job.finished_at is None:
                try:
                    job.cancel()
                except Exception:
                    logger.exception("panel: cancelling a compare job failed")

    def _run(self) -> None:
        try:
            sweep = self.plan.run(confirm=True, view=self, announce=False, stop=self._stop.is_set)
            self.sweep = sweep
            first = sweep.summary().splitlines()[0]
            if self._stop.is_set():
                self.message.value = message_html(f"cancelled: {first}")
            else:
                self.message.value = message_html(first, "ok")
        except Exception as exc:
            self.error = exc
            self.refresh(force=True)
            self.message.value = message_html(describe_error(exc), "error")
        finally:
            self.cancel_button.layout.display = "none"
            try:
                self._on_done(self)
            except Exception:
                logger.exception("panel: finishing a compare run failed")
