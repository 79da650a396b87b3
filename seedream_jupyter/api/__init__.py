"""What users call: the helpers, jobs, batch and sweep, and the history.

- ``helpers``: ``generate`` / ``image2image`` / ``edit`` / ``reference`` / ``group`` and their
  ``a…`` async twins; ``start`` (a Job in the background); ``run_request`` (one validated
  request waited for, with progress: every sync helper and every replay).
- ``many``: ``batch``. ``build``: helper arguments to a validated request.
- ``experiments``: ``sweep`` (planned and priced before sending: ``plan_sweep``);
  ``comparison``: ``compare``.
- ``origins``: ``replay(path)``, ``lineage``. ``inputs``: a Result as input, and its parent.
- ``presets``: ``preset(...)``, the helpers with defaults bound.
- ``job``: ``Job``, one generation on the private loop; ``state``: ``JobState``.
- ``finish``: a completed task's images to disk and a Result.
- ``archive`` and ``recovery``: the history: list, load, resume, spend, export, prune.
- ``waiting``: progress while a helper blocks, and the SIMULATED notice.
- ``history_writes``: every history write of a job, a load or a resume, on the writer thread.
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
from .comparison import compare, plan_compare
from .experiments import SweepPlan, parse_axes, plan_sweep, sweep
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
from .many import batch
from .origins import lineage, replay
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
    "SweepPlan",
    "aedit",
    "agenerate",
    "agroup",
    "aimage2image",
    "areference",
    "batch",
    "build_request",
    "compare",
    "default_client",
    "edit",
    "export",
    "finish",
    "generate",
    "group",
    "history",
    "image2image",
    "lineage",
    "list_history",
    "load",
    "parse_axes",
    "plan_compare",
    "plan_sweep",
    "preset",
    "prune",
    "reference",
    "replay",
    "resume",
    "spend",
    "start",
    "sweep",
]
