"""The panel's prompt box: a multi-line text area where Ctrl/Cmd+Enter generates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import anywidget
import traitlets

_HERE: Final = Path(__file__).parent


class PromptArea(anywidget.AnyWidget):
    """A multi-line prompt box; Ctrl/Cmd+Enter sends a ``submit`` message to Python."""

    _esm = _HERE / "prompt.js"
    _css = _HERE / "prompt.css"
    value = traitlets.Unicode("").tag(sync=True)
    placeholder = traitlets.Unicode("Describe the image… (Ctrl/Cmd+Enter generates)").tag(sync=True)
    rows = traitlets.Int(4).tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._submit_handlers: list[Callable[[], object]] = []
        self.on_msg(self._on_custom_msg)

    def on_submit(self, fn: Callable[[], object]) -> None:
        self._submit_handlers.append(fn)

    def submit(self) -> None:
        for fn in list(self._submit_handlers):
            fn()

    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "submit":
            self.submit()
