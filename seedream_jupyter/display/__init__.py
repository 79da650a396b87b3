"""Notebook and terminal display: knows jobs and results, nothing about HTTP.

- ``taskview`` (+ ``taskview.js`` / ``.css``): the live card of one job (anywidget).
- ``static``: what a job looks like without a widget (summary text, snapshots).
- ``gallery``: the static gallery every widget output carries (HTML, JPEG sheet, text).
- ``saving``: the Jupyter Server pre-save hook that writes those static forms to disk.
- ``terminal``: a carriage-return progress line. ``progress``: the helpers' notebook block.
- ``tables``: history, spend and models. ``frontend``: what the session finds at call time.

Everything is imported on first use: terminals never load ipywidgets, and the Jupyter
server loads ``saving`` without the rest of the package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .static import summary_text
    from .taskview import TaskView
    from .terminal import TextProgress

__all__ = ["TaskView", "TextProgress", "summary_text"]

_LAZY = {"TaskView": "taskview", "TextProgress": "terminal", "summary_text": "static"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
