"""Notebook display: ``TaskView`` (live widget) and the static / text fallbacks.

``TaskView`` is imported on first use so that ``display.static`` (used in terminals)
does not pull in ipywidgets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .static import TextProgress, summary_text

if TYPE_CHECKING:
    from .taskview import TaskView

__all__ = ["TaskView", "TextProgress", "summary_text"]


def __getattr__(name: str) -> Any:
    if name == "TaskView":
        from .taskview import TaskView

        return TaskView
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
