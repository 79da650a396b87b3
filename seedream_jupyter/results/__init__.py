"""What a generation gives back: ``Result`` (one task), ``ResultSet`` (a batch) and ``Sweep``
(a cartesian product, with its axes and a labelled grid).

- ``result``: Result — lazy PIL images, save, provenance and JSON, ratings and tags, replay.
- ``resultset``: ResultSet — a list of Results as a contact sheet, records, a DataFrame, scores.
- ``sweep``: Sweep — the axes, and the labelled comparison grid (drawn by ``grid``).
- ``hooks``: what the layers above hand down (the session's history, how to replay).
"""

from __future__ import annotations

from .hooks import connect
from .result import (
    FROM_CACHE_NOTE,
    GENERATOR,
    INFO_INDEX,
    INFO_TASK_ID,
    SIMULATED_MARK,
    Result,
)
from .resultset import PANDAS_HINT, ResultSet, Scorer
from .sweep import Combination, Sweep

__all__ = [
    "FROM_CACHE_NOTE",
    "GENERATOR",
    "INFO_INDEX",
    "INFO_TASK_ID",
    "PANDAS_HINT",
    "SIMULATED_MARK",
    "Combination",
    "Result",
    "ResultSet",
    "Scorer",
    "Sweep",
    "connect",
]
