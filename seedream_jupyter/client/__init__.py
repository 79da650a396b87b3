"""The HTTP client for the QWave task API: knows nothing of notebooks, never starts a simulator.

- ``AsyncClient`` (``aclient``): all I/O, on one pooled ``httpx.AsyncClient``.
- ``Client`` (``sync``): the same calls, blocking, run on the package's private loop thread.
- ``retry``: the one retry engine (attempt counter + total ``Deadline``).
- ``polling``: when to look at a task again; ``durations``: how long tasks took, per shape.
- ``http``: reading answers and errors.
- ``downloads``: which image links may be fetched, and a streamed, size-capped fetch.
"""

from __future__ import annotations

from .aclient import USER_AGENT, AsyncClient, ProgressCallback, Timeout
from .polling import PollPolicy
from .retry import Deadline
from .sync import Client

__all__ = [
    "USER_AGENT",
    "AsyncClient",
    "Client",
    "Deadline",
    "PollPolicy",
    "ProgressCallback",
    "Timeout",
]
