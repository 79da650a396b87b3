"""One Generate click in the panel: its Job, its TaskView and the controls for its Result."""

from __future__ import annotations

import functools
import keyword
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import ipywidgets as widgets

from ..api import Job
from ..results import Result
from .messages import images_text, message_html, plural

F = TypeVar("F", bound=Callable[..., Any])


class PanelLike(Protocol):
    """What a run needs of its panel (``panel.Panel``)."""

    save_dir: str

    def _safe(self, fn: F, target: widgets.HTML | None = None) -> F: ...
    def _add_result(self, result: Result) -> int: ...
    def remove_run(self, run: PanelRun) -> None: ...


logger = logging.getLogger("seedream_jupyter")


class PanelRun:
    """One Generate click: its Job, its TaskView and the controls for its Result."""

    def __init__(self, panel: PanelLike, job: Job, view: Any) -> None:
        self.panel = panel
        self.job = job
        self.view = view
        self.result: Result | None = None
        self.index: int | None = None  # position in panel.results once completed
        self._lock = threading.Lock()
        self._settled = False

        self.label = widgets.Label("", layout=widgets.Layout(margin="0 16px 0 0"))
        self.label.add_class("sjp-run-label")
        self.variable = widgets.Text(
            placeholder="a name",
            description="variable name",
            style={"description_width": "auto"},
            layout=widgets.Layout(width="230px"),
        )
        self.variable.add_class("sjp-var-name")
        self.to_variable = widgets.Button(
            description="store",
            tooltip="store this Result in a notebook variable of that name",
            layout=widgets.Layout(width="auto"),
        )
        self.to_variable.add_class("sjp-to-var")
        self.save_dir = widgets.Text(
            value=panel.save_dir,
            placeholder="folder",
            description="save to",
            style={"description_width": "auto"},
            layout=widgets.Layout(width="230px", margin="0 0 0 16px"),
        )
        self.save_dir.add_class("sjp-save-dir")
        self.save = widgets.Button(
            description="save",
            tooltip="save the full-size images into this folder",
            layout=widgets.Layout(width="auto"),
        )
        self.save.add_class("sjp-save")
        self.dismiss = widgets.Button(
            description="✕",
            tooltip="remove this run from the panel (its Result stays in panel.results)",
            layout=widgets.Layout(width="32px"),
        )
        self.dismiss.add_class("sjp-dismiss")
        self.message = widgets.HTML("")
        self.message.add_class("sjp-run-message")
        safe = functools.partial(panel._safe, target=self.message)
        self.to_variable.on_click(safe(lambda _b: self.assign(str(self.variable.value))))
        self.save.on_click(safe(lambda _b: self.save_images(str(self.save_dir.value))))
        self.dismiss.on_click(safe(lambda _b: panel.remove_run(self)))

        self.label.value = "running…"
        for w in (self.variable, self.to_variable, self.save_dir, self.save):
            w.disabled = True
        self.controls = widgets.HBox(
            [
                self.label,
                self.variable,
                self.to_variable,
                self.save_dir,
                self.save,
                widgets.Box(layout=widgets.Layout(flex="1")),
                self.dismiss,
            ],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        self.controls.add_class("sjp-run-controls")
        self.box = widgets.VBox(
            [view, self.controls, self.message], layout=widgets.Layout(margin="0 0 10px 0")
        )
        self.box.add_class("sjp-run")
        job.subscribe(self._on_job)

    @property
    def state(self) -> str:
        return str(self.job.state)

    def _on_job(self, job: Job) -> None:
        """Called on the loop thread at every change; acts once, when the job ends."""
        with self._lock:
            if self._settled or (job.result is None and job.error is None):
                return
            self._settled = True
        try:
            if job.result is not None:
                self.result = job.result
                self.index = self.panel._add_result(job.result)
                self.label.value = f"{images_text(len(job.result))} · panel.results[{self.index}]"
                for w in (self.variable, self.to_variable, self.save_dir, self.save):
                    w.disabled = False
            else:
                self.label.value = f"{job.state}: no images"
        except Exception:  # a listener must never break the job
            logger.exception("panel: recording a result failed")

    def assign(self, name: str) -> None:
        """Store this run's Result in the notebook namespace as ``name``."""
        name = name.strip()
        if self.result is None:
            self.message.value = message_html("No result yet: wait for the run to complete.")
            return
        if not name.isidentifier() or keyword.iskeyword(name):
            self.message.value = message_html(
                f"{name!r} is not a valid Python variable name.", "error"
            )
            return
        from IPython.core.getipython import get_ipython

        shell = get_ipython()  # type: ignore[no-untyped-call,unused-ignore]
        if shell is None:
            self.message.value = message_html("No IPython shell: use panel.results.", "error")
            return
        shell.user_ns[name] = self.result
        self.message.value = message_html(
            f"{name} = panel.results[{self.index}] ({images_text(len(self.result))})", "ok"
        )

    def save_images(self, directory: str) -> list[Path]:
        """Save this run's full-size images into ``directory``."""
        if self.result is None:
            self.message.value = message_html("No result yet: wait for the run to complete.")
            return []
        directory = directory.strip() or self.panel.save_dir
        paths = self.result.save(directory)
        where = paths[0].parent.resolve() if paths else Path(directory).resolve()
        self.message.value = message_html(f"saved {plural(len(paths), 'file')} to {where}", "ok")
        return paths
