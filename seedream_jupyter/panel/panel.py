"""Panel: a form (``form``) above a stack of TaskViews, newest first.

    panel = sj.Panel()
    panel                 # shows the form; fill it in and click Generate (or Ctrl/Cmd+Enter)
    panel.results         # every Result this panel produced, in completion order
    panel.last            # the most recent one

Generate never blocks the kernel: ``api.start`` hands the job to the package's loop
thread and returns at once, so the form stays usable and several runs can be in
flight, each with its own TaskView (live progress and a Cancel button that works:
the panel's cell has long returned, so the click reaches the kernel at once). A run's
outcome arrives on the loop thread through ``Job.subscribe``; its Result is appended
to ``panel.results`` and its controls ("variable name" + store, "save to" + save) come
alive. Under the panel sits its record (``record``): what a saved notebook shows of the runs.

Nothing raised by a click escapes into the void: every handler reports its error in
the panel (validation, auth, balance, failed task...), and the panel keeps working.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

import ipywidgets as widgets

from .. import api
from ..api import Job
from ..api.build import UNSET, Unset
from ..display.gallery import marked
from ..errors import SeedreamError, ValidationError
from ..request import GenerationRequest
from ..results import Result, Sweep
from ..session import SIMULATOR_NOTICE, session
from .advanced import warnings_text
from .choices import quiet_html
from .compare import CompareRun, plan_from_form
from .form import PanelForm, close_tree
from .messages import describe_error, message_html
from .record import PanelRecord
from .run import PanelRun

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["Panel", "PanelRun"]

logger = logging.getLogger("seedream_jupyter")
DEFAULT_SAVE_DIR: Final = "seedream-images"
DOUBLE_CLICK_SECONDS: Final = 2.0  # the same request again this soon, unsent yet: a double click
F = TypeVar("F", bound=Callable[..., Any])


class Panel:
    """A form that generates without blocking, above a stack of runs (newest first)."""

    def __init__(
        self,
        prompt: str = "",
        *,
        model: str | None = None,
        client: Client | None = None,
        timeout: float | Unset | None = UNSET,
        cache: bool | Unset = UNSET,
        thumb_size: int | None = None,
        save_dir: str = DEFAULT_SAVE_DIR,
        budget_usd: float | None = None,
    ) -> None:
        # unset: the session's settings at each Generate (%config SeedreamMagic.*, the env)
        self.client = client
        self.timeout = timeout
        self.cache = cache
        self.budget_usd = budget_usd  # None: %config SeedreamMagic.budget_usd, then the env
        self.thumb_size = thumb_size
        self.save_dir = save_dir
        self.results: list[Result] = []
        self.runs: list[PanelRun] = []
        self.sweeps: list[Sweep] = []  # compare-mode runs, in completion order
        self._asked: str | None = None
        self._lock = threading.Lock()
        self.record = PanelRecord(self._runs_snapshot)

        self.form = PanelForm(prompt=prompt, model=model)
        self.generate_button = widgets.Button(
            description="Generate",
            button_style="primary",
            tooltip="generate (Ctrl/Cmd+Enter in the prompt)",
            layout=widgets.Layout(width="120px"),
        )
        self.generate_button.add_class("sjp-generate")
        self.show_request = widgets.ToggleButton(
            value=False,
            description="show request",
            tooltip="the JSON that Generate would send",
            layout=widgets.Layout(width="auto"),
        )
        self.show_request.add_class("sjp-show-request")
        self.message = widgets.HTML("")
        self.message.add_class("sjp-message")
        self.request_view = widgets.HTML("")
        self.request_view.add_class("sjp-request")
        self.banner = widgets.HTML("")
        self.banner.add_class("sjp-banner")
        self.runs_box = widgets.VBox([])
        self.runs_box.add_class("sjp-runs")

        self.generate_button.on_click(self._safe(lambda _b: self.generate()))
        self.form.prompt.on_submit(self._safe(self.generate))
        self.show_request.observe(self._safe(lambda _c: self._refresh_request()), names="value")
        self.form.observe(self._safe(self._on_form_change))
        self.form.prompt.observe(self._safe(lambda _c: self._on_form_change()), names="value")

        self._update_banner()
        actions = widgets.HBox(
            [self.generate_button, self.show_request, self.form.cost],
            layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
        )
        self.widget = widgets.VBox(
            [self.banner, self.form.box, actions, self.message, self.request_view, self.runs_box],
            layout=widgets.Layout(max_width="980px"),
        )
        self.widget.add_class("sjp-panel")

    # -- public --------------------------------------------------------------------------
    @property
    def last(self) -> Result | None:
        """The most recently completed Result, or None."""
        with self._lock:
            return self.results[-1] if self.results else None

    @property
    def simulated(self) -> bool:
        if self.client is not None:
            return bool(self.client.simulated)
        return session().target().simulated

    def request(self) -> GenerationRequest:
        """The validated request the form describes (ValidationError names what to fix)."""
        return self.form.request()

    def request_json(self) -> str:
        """The JSON Generate would send (long data: URIs shortened)."""
        return json.dumps(self.request().describe_payload(), indent=2, ensure_ascii=False)

    def generate(self) -> PanelRun | None:
        """Validate the form and start a run; returns it (None when the form is invalid)."""
        if str(self.form.vary.value).strip():
            self._compare()
            return None
        try:
            request = self.request()
        except ValidationError as exc:
            self.message.value = message_html(describe_error(exc), "error")
            self._refresh_request()  # the error is said once, here: not again in the request
            return None
        newest = self.runs[-1] if self.runs else None
        if (  # a double click: the same request, still being sent, is not paid for twice
            newest is not None
            and newest.job.request == request
            and newest.job.task_id is None
            and not newest.job.done
            and time.time() - newest.job.started_at < DOUBLE_CLICK_SECONDS
        ):
            self.message.value = message_html("already sending this request (a double click?)")
            return None
        job = api.start(
            request,
            client=self.client,
            timeout=self.timeout,
            cache=self.cache,
            budget_usd=self.budget_usd,
        )
        try:
            run = PanelRun(self, job, self._make_view(job))
        except Exception:
            job.cancel()  # a run nobody can see must not go on to be billed
            raise
        with self._lock:
            self.runs.append(run)
        self.runs_box.children = (run.box, *self.runs_box.children)
        on_done = getattr(run.view, "on_done", None)
        if callable(on_done):  # images in the gallery: time to update the saved record
            on_done(lambda _view: self.record.refresh())
        # what is sent anyway (an unknown model id, a limit only upstream states), or nothing
        self.message.value = message_html(warnings_text(request))
        self._update_banner()
        return run

    def _compare(self) -> CompareRun | None:
        """Compare mode: the ``vary`` field's sweep, in the background, as a labelled grid."""
        try:
            plan = plan_from_form(
                self.form, client=self.client, timeout=self.timeout, cache=self.cache
            )
        except ValidationError as exc:
            self.message.value = message_html(describe_error(exc), "error")
            return None
        text = plan.describe()
        if plan.needs_confirmation and self._asked != text:
            self._asked = text  # the same sweep clicked again is the confirmation
            limit = session().get("confirm_above_usd")
            self.message.value = message_html(
                f"{text}: above ${float(limit):.2f} (confirm_above_usd). Click Generate again "
                "to send it.",
                "error",
            )
            return None
        self._asked = None
        run = CompareRun(plan, lambda r: self.sweeps.append(r.sweep) if r.sweep else None)
        self.runs_box.children = (run.box, *self.runs_box.children)
        self.message.value = ""
        return run

    def remove_run(self, run: PanelRun) -> None:
        """Take a finished run off the panel (its Result, if any, stays in ``results``)."""
        if not run.job.done:
            run.message.value = message_html("still running: Cancel it first, or wait", "error")
            return
        self.runs_box.children = tuple(c for c in self.runs_box.children if c is not run.box)
        with self._lock:
            if run in self.runs:
                self.runs.remove(run)
        close_tree(run.box)
        self.record.refresh()

    def _make_view(self, job: Job) -> Any:
        from ..display import TaskView

        # the newest run appears at the top of the stack: bring it into sight
        size = int(session().get("thumbnail_size", self.thumb_size))
        return TaskView(job, thumb_size=size, scroll_on_show=True)

    def _runs_snapshot(self) -> list[PanelRun]:
        with self._lock:
            return list(self.runs)

    def _add_result(self, result: Result) -> int:
        with self._lock:
            self.results.append(result)
            return len(self.results) - 1

    # -- handlers ------------------------------------------------------------------------
    def _safe(self, fn: F, target: widgets.HTML | None = None) -> F:
        """Wrap a UI handler so that any error is shown in the panel instead of lost."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                # the readable message is in the panel; an unexpected one's traceback in the log
                level = logging.DEBUG if isinstance(exc, SeedreamError) else logging.WARNING
                logger.log(
                    level, "panel: %s failed", getattr(fn, "__name__", "handler"), exc_info=True
                )
                (target or self.message).value = message_html(describe_error(exc), "error")
                return None

        return wrapper  # type: ignore[return-value]

    def _on_form_change(self) -> None:
        if self.message.value and "sjp-error" in self.message.value:
            try:  # a fixed form clears the error it had
                self.request()
            except ValidationError as exc:
                self.message.value = message_html(describe_error(exc), "error")
            else:
                self.message.value = ""
        if self.show_request.value:
            self._refresh_request()

    def _refresh_request(self) -> None:
        if not self.show_request.value:
            self.request_view.value = ""
            return
        try:
            text = self.request_json()
        except ValidationError as exc:
            # One place for the error: the message line above (not here as well).
            self.message.value = message_html(describe_error(exc), "error")
            self.request_view.value = message_html("no request until the form is fixed", "info")
            return
        self.request_view.value = (
            '<pre class="sjp-json mathjax_ignore tex2jax_ignore" style="margin: 4px 0; '
            "padding: 6px 8px; "
            "background: var(--jp-layout-color2, #f5f5f5); "
            "color: var(--jp-content-font-color1, inherit); "
            'white-space: pre-wrap; word-break: break-all">'
            f"POST /v1/tasks\n{html.escape(text)}</pre>"
        )

    def _update_banner(self) -> None:
        try:
            simulated = self.simulated
        except Exception:  # settings errors surface on Generate
            simulated = False
        # Theme colours only: the text colour of the theme on its second layout colour (a
        # light tint with light text was unreadable in the dark theme).
        self.banner.value = (
            quiet_html(
                SIMULATOR_NOTICE,
                "sjp-sim",
                "padding: 4px 8px; margin-bottom: 4px; line-height: 1.4; "
                "border-left: 4px solid var(--jp-warn-color1, #f57c00); "
                "background: var(--jp-layout-color2, transparent); "
                "color: var(--jp-ui-font-color1, inherit)",
            )
            if simulated
            else ""
        )

    # -- display -------------------------------------------------------------------------
    def summary(self) -> str:
        # shown where widgets are not (a saved notebook): counts would be stale there
        return (
            "Seedream panel (a live widget: run the cell to use it); its results are in "
            "panel.results and in sj.history()"
        )

    def __repr__(self) -> str:
        return f"<Panel {len(self.runs)} runs, {len(self.results)} results>"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The live widget, with a one-line note as its saved form (see ``display.saving``:
        the widget view is not written to disk; the panel's record, below it, has the images)."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data or {})
        data["text/plain"] = self.summary()
        data["text/html"] = quiet_html(
            self.summary(),
            "sjp-saved-note",
            "color: var(--jp-ui-font-color2, #666); font-style: italic; margin: 2px 0",
        )
        return data, marked(dict(metadata or {}))

    def _ipython_display_(self) -> None:
        """The panel, then its record: what a saved notebook shows of the runs (see
        ``record``)."""
        from IPython.display import display

        data, metadata = self._repr_mimebundle_()
        display(data, raw=True, metadata=metadata)  # type: ignore[no-untyped-call,unused-ignore]
        try:
            self.record.show()
        except Exception:  # the saved-notebook record must never cost the user the panel
            logger.warning("panel: could not show the saved-notebook record", exc_info=True)
