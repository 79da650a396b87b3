"""What a generation gives back: ``Result`` (one task), ``ResultSet`` (a batch) and ``Sweep``
(a cartesian product, with its axes and a labelled grid).

- ``result``: Result — lazy PIL images, save, provenance and JSON, ratings and tags, replay.
- ``resultset``: ResultSet — a list of Results as a contact sheet, records, a DataFrame, scores.
- ``sweep``: Sweep — the axes, and the labelled comparison grid (drawn by ``grid``).
- ``caption``: the caption, the SIMULATED notice and the contact sheet every view shows.
- ``hooks``: what the layers above hand down (the session's history, how to replay).

Every view names a generation with ``caption`` (cost through ``ModelSpec.cost_text``) and says
simulated images are synthetic with ``SIMULATED_NOTICE``: the display layer has no text of its
own for either.
"""

from __future__ import annotations

from .caption import (
    FROM_CACHE_NOTE,
    NOT_BILLED_NOTE,
    SIMULATED_MARK,
    SIMULATED_NOTICE,
    caption,
)
from .hooks import connect
from .result import GENERATOR, INFO_INDEX, INFO_TASK_ID, Result, replayed_request
from .resultset import PANDAS_HINT, ResultSet, Scorer
from .sweep import Combination, Sweep

__all__ = [
    "FROM_CACHE_NOTE",
    "GENERATOR",
    "INFO_INDEX",
    "INFO_TASK_ID",
    "NOT_BILLED_NOTE",
    "PANDAS_HINT",
    "SIMULATED_MARK",
    "SIMULATED_NOTICE",
    "Combination",
    "Result",
    "ResultSet",
    "Scorer",
    "Sweep",
    "caption",
    "connect",
    "replayed_request",
]
