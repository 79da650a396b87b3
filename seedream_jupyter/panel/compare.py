"""The panel's compare mode: the form's ``vary`` field (``model=4.0,4.5; seed=1,2``) turns
Generate into a small sweep, run in the background and shown as a labelled grid.

The form's other fields are fixed for every combination (a varied field wins over its
widget); the prompt is the sweep's template, so ``{style}`` is filled from ``style=...``.
A billed sweep above ``confirm_above_usd`` is not sent on the first click: the panel says
what it costs and sends it on the second click of the same sweep.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Final

import ipywidgets as widgets

from .. import api, images
from ..results import Sweep
from .messages import describe_error, message_html

if TYPE_CHECKING:
    from ..api import Job, SweepPlan
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

    def __init__(self, plan: SweepPlan, on_done: Any) -> None:
        from ..display.grid import layout_of

        self.plan = plan
        self.sweep: Sweep | None = None
        self.error: BaseException | None = None
        self._layout = layout_of(plan)
        self._numbers = [i for i, c in enumerate(plan.combinations) if c.request is not None]
        self._jobs: list[Job | None] = [None] * len(plan.combinations)
        self._thumbs: dict[int, list[str]] = {}
        self._lock = threading.Lock()
        self._on_done = on_done
        self._last = 0.0
        self.live = widgets.HTML("")
        self.message = widgets.HTML(message_html(plan.describe()))
        self.sheet = widgets.Image(format="jpeg", layout=widgets.Layout(max_width="100%"))
        self.sheet.layout.display = "none"
        self.box = widgets.VBox([self.message, self.live, self.sheet])
        self.box.add_class("sjp-compare-run")
        self._redraw()
        self._thread = threading.Thread(target=self._run, name="seedream-compare", daemon=True)
        self._thread.start()

    def _add(self, job: Job) -> None:
        with self._lock:
            number = self._numbers[sum(j is not None for j in self._jobs)]
            self._jobs[number] = job
        job.subscribe(lambda _j: self._redraw())

    def _redraw(self, force: bool = False) -> None:
        from ..display.grid import _thumb_uris, grid_html

        now = time.monotonic()
        with self._lock:
            if not force and now - self._last < REFRESH_SECONDS:
                return
            self._last = now
            for number, job in enumerate(self._jobs):
                if job is not None and job.result is not None and number not in self._thumbs:
                    self._thumbs[number] = _thumb_uris(job)
            self.live.value = grid_html(self._layout, self._jobs, self._thumbs)

    def _run(self) -> None:
        try:
            sweep = self.plan.run(
                confirm=True, on_job=self._add, show_progress=False, announce=False
            )
            self.sweep = sweep
            sheet = sweep.grid(thumb_side=GRID_SIDE)
            self.sheet.value = images.to_jpeg_bytes(sheet, 80)
            self.sheet.layout.display = ""
            self.live.value = ""
            self.message.value = message_html(sweep.summary().splitlines()[0], "ok")
        except Exception as exc:
            self.error = exc
            self._redraw(force=True)
            self.message.value = message_html(describe_error(exc), "error")
        finally:
            try:
                self._on_done(self)
            except Exception:
                logger.exception("panel: finishing a compare run failed")
