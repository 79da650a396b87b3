"""Notebook and terminal display: knows jobs and results, nothing about HTTP.

- ``taskview`` (+ ``taskview.js`` / ``.css``): the live card of one job (anywidget).
- ``static``: what a job looks like without a widget (summary text, the JPEG fallback).
- ``terminal``: a carriage-return progress line. ``progress``: the helpers' notebook block.
- ``tables``: history and spend as HTML. ``frontend``: what the session finds at call time.

``TaskView`` is imported on first use so that terminals never load ipywidgets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .static import summary_text
from .terminal import TextProgress

if TYPE_CHECKING:
    from .taskview import TaskView

__all__ = ["TaskView", "TextProgress", "summary_text"]


def __getattr__(name: str) -> Any:
    if name == "TaskView":
        from .taskview import TaskView

        return TaskView
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
