"""Where an image came from, and making it again.

- ``replay(path, **changes)``: the request behind an image file (its embedded provenance, or
  the history's full record of its task), sent again.
- ``edit`` / ``image2image`` (and their ``a…`` twins): the helpers, plus memory: when the
  input is a Result, one of its images, or a file this package saved, the new Result's
  ``parent_task_id`` names the task it came from, and the history keeps it.
- ``lineage(task)``: the chain of tasks that led to one, newest first (a ``HistoryList``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import catalog
from ..errors import ValidationError
from ..request import GenerationRequest
from ..results import Result, replayed_request
from ..session import session
from ..store import provenance
from .archive import HistoryList, HistoryRecord
from .build import needs_references
from .helpers import run_request


def _read_file(path: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]]:
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValidationError("path", str(path), "no such file")
    meta = provenance.read(file.read_bytes())
    if meta is None:
        raise ValidationError(
            "path",
            str(path),
            "the file carries no seedream-jupyter provenance (only images this package saved "
            "do; a re-encoded copy loses it)",
        )
    return file, meta


def request_of(meta: dict[str, Any]) -> GenerationRequest:
    """The request an image was made from: the history's full record of its task when this
    machine has it (reference images included), else the fields embedded in the file."""
    task_id = meta.get("task_id")
    if isinstance(task_id, str):
        record = session().store().get(task_id)
        if record is not None and record.payload:
            return record.request
    action = str(meta.get("action") or catalog.DEFAULT_ACTION)
    model = meta.get("model")
    if needs_references(action, model if isinstance(model, str) else None):
        raise ValidationError(
            "path",
            task_id,
            f"a {action!r} image: its reference images are not in the file and its task is "
            "not in this history (SEEDREAM_HOME), so it cannot be replayed from here",
        )
    if meta.get("prompt_truncated"):
        raise ValidationError("path", task_id, "the embedded prompt was cut; it cannot be replayed")
    fields = ("prompt", "model", "seed", "aspect_ratio", "resolution")
    values = {k: meta[k] for k in fields if meta.get(k) is not None}
    return GenerationRequest(action=action, **values)


def replay(path: str | os.PathLike[str], **changes: Any) -> Result:
    """Make the image at ``path`` again from its embedded provenance (``changes`` as for
    ``Result.replay``: the history answers only a fixed seed with nothing changed)."""
    _, meta = _read_file(path)
    request = replayed_request(request_of(meta), changes)
    return run_request(request, cache=not changes)


def lineage(task: str | Result) -> HistoryList:
    """``task`` (a task id or a Result) and the tasks it was made from: newest first, like
    ``sj.history()`` (itself, its parent, its parent's parent, ...)."""
    task_id = task.task_id if isinstance(task, Result) else task
    records = session().store().lineage(task_id)
    return HistoryList(HistoryRecord.of(record) for record in reversed(records))
