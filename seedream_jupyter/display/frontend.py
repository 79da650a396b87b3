"""The front-ends the session finds at call time: a Jupyter kernel's notebook views, a
terminal's text line, or none (a script whose output is not a terminal stays quiet).

``session.Session.frontend`` imports this module by name and calls ``detect()`` each time it
needs a front-end, so progress appears however the helpers were imported. Nothing here
imports IPython or widgets until a kernel is actually found.
"""

from __future__ import annotations

import sys
from typing import Any

from ..session import ProgressView


def _kernel_shell() -> Any:
    """The running IPython kernel shell, or None (never imports IPython itself)."""
    if "IPython" not in sys.modules:
        return None
    try:
        from IPython.core.getipython import get_ipython

        shell = get_ipython()  # type: ignore[no-untyped-call,unused-ignore]
    except Exception:
        return None
    return shell if shell is not None and hasattr(shell, "kernel") else None


class NotebookFrontend:
    """Views in a Jupyter cell: an HTML progress block, styled notices, rich tables, and
    results as an HTML gallery with a header (``formatters``)."""

    def __init__(self, shell: Any = None) -> None:
        if shell is not None:
            from .formatters import register

            register(shell)

    def progress(self, title: str) -> ProgressView | None:
        from .progress import NotebookProgress

        return NotebookProgress(title)

    def sweep_progress(self, plan: Any) -> ProgressView | None:
        """A sweep's live grid (``display.grid``), filled in as images arrive."""
        from .grid import LiveGrid

        return LiveGrid(plan)

    def notice(self, text: str) -> None:
        from IPython.core.display import HTML
        from IPython.display import display

        from .gallery import notice_html

        display(HTML(notice_html(text)), metadata={"text/plain": text})  # type: ignore[no-untyped-call,unused-ignore]

    def rich_html(self, value: object) -> str | None:
        from ..api import HistoryList, SpendTable
        from . import tables

        if isinstance(value, HistoryList):
            return tables.history_html(value)
        if isinstance(value, SpendTable):
            return tables.spend_html(value)
        return None


class TerminalFrontend:
    """A carriage-return progress line on a terminal; notices as one plain line."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def progress(self, title: str) -> ProgressView | None:
        from .terminal import TerminalProgress

        return TerminalProgress(title, stream=self.stream)

    def notice(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def rich_html(self, value: object) -> str | None:
        return None


def detect() -> NotebookFrontend | TerminalFrontend | None:
    """The front-end for the caller's situation right now."""
    shell = _kernel_shell()
    if shell is not None:
        return NotebookFrontend(shell)
    stream = sys.stderr
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        return TerminalFrontend(stream)
    return None
