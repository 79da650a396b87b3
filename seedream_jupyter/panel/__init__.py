"""The widget panel: a catalog-driven form above a stack of live runs.

- ``panel``: ``Panel``; ``run``: ``PanelRun`` (one Generate click); ``form``: the inputs.
- ``choices``: option rows that know which model offers what; ``prompt`` (+ .js / .css).
- ``record``: what a saved notebook shows of the runs. ``messages``: what the panel says.
"""

from __future__ import annotations

from .panel import Panel
from .run import PanelRun

__all__ = ["Panel", "PanelRun"]
