"""What users call: the helpers, jobs, batch and sweep, and the history.

- ``helpers``: ``generate`` / ``image2image`` / ``edit`` / ``reference`` / ``group`` and their
  ``a…`` async twins; ``start`` (a Job in the background).
- ``many``: ``batch`` and ``sweep``. ``build``: helper arguments to a validated request.
- ``presets``: ``preset(...)``, the helpers with defaults bound.
- ``job``: ``Job``, one generation on the private loop; ``state``: ``JobState``.
- ``finish``: a completed task's images to disk and a Result.
- ``archive`` and ``recovery``: the history: list, load, resume, spend, export, prune.
- ``waiting``: progress while a helper blocks, and the SIMULATED notice.
"""

from __future__ import annotations

from .archive import (
    HistoryList,
    HistoryRecord,
    SpendTable,
    export,
    history,
    list_history,
    load,
    prune,
    resume,
    spend,
)
from .build import UNSET, build_request
from .finish import finish
from .helpers import (
    aedit,
    agenerate,
    agroup,
    aimage2image,
    areference,
    default_client,
    edit,
    generate,
    group,
    image2image,
    reference,
    start,
)
from .job import Job, JobListener
from .many import batch, sweep
from .presets import Preset, preset
from .recovery import Resumed
from .state import JobState
from .waiting import SimulatorWarning

__all__ = [
    "UNSET",
    "HistoryList",
    "HistoryRecord",
    "Job",
    "JobListener",
    "JobState",
    "Preset",
    "Resumed",
    "SimulatorWarning",
    "SpendTable",
    "aedit",
    "agenerate",
    "agroup",
    "aimage2image",
    "areference",
    "batch",
    "build_request",
    "default_client",
    "edit",
    "export",
    "finish",
    "generate",
    "group",
    "history",
    "image2image",
    "list_history",
    "load",
    "preset",
    "prune",
    "reference",
    "resume",
    "spend",
    "start",
    "sweep",
]
