"""The history, from the user's side: list, load, spend, export, prune (and resume).

    import seedream_jupyter as sj
    sj.history(10)                 # the last ten tasks (a table in a notebook)
    sj.history()[0].to_result()    # a Result from the files on disk
    sj.load("task-wave…")          # the same, by task id
    sj.resume()                    # finish every task a timeout, interrupt or restart left
    sj.spend(days=7)               # estimated spend by day and model, real vs simulated
    sj.export("out/", limit=20)    # image files + manifest.jsonl
    sj.history.prune(older_than_days=30)   # free disk space

``sj.history`` is a callable object: ``sj.history(5)`` lists, and ``sj.history.load``,
``.resume``, ``.spend``, ``.export`` and ``.prune`` are the functions of this module. The
tables' HTML is drawn by the front-end (``display.tables``); here they are data.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

from .. import catalog
from ..errors import SeedreamError, ValidationError
from ..results import Result
from ..session import session
from ..store import INPUT_SCHEME, PruneReport, SpendRow, Store, TaskRecord
from ..store.files import write_atomic
from . import checks
from .recovery import Resumed, result_from, resume

__all__ = [
    "HistoryList",
    "HistoryRecord",
    "PruneReport",
    "Resumed",
    "SpendTable",
    "export",
    "history",
    "list_history",
    "load",
    "prune",
    "resume",
    "spend",
]

MANIFEST: Final = "manifest.jsonl"


def _store(store: Store | None) -> Store:
    return store if store is not None else session().store()


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return _dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return _dt.datetime.fromtimestamp(timestamp, _dt.timezone.utc).isoformat()


def _rich_html(value: object) -> str | None:
    frontend = session().frontend()
    render = getattr(frontend, "rich_html", None)
    return render(value) if callable(render) else None


@dataclass(frozen=True)
class HistoryRecord(TaskRecord):
    """A TaskRecord that can become a Result."""

    def to_result(self) -> Result:
        """The Result, from the image files on disk."""
        return result_from(self, session().store(self.home))

    @classmethod
    def of(cls, record: TaskRecord) -> HistoryRecord:
        return cls(**{f.name: getattr(record, f.name) for f in fields(TaskRecord)})


class HistoryList(list[HistoryRecord]):
    """Task records, newest first; a table (with small thumbnails) in a notebook."""

    thumbnail_rows: int = 50  # rows beyond this show no thumbnail (keeps notebooks small)
    thumbnail_side: int = 64
    html_rows: int = 200

    def results(self) -> list[Result]:
        """Results of the completed tasks, from their images on disk (tasks with none on
        disk are left out; ``load`` says why)."""
        store_of: dict[Path, Store] = {}
        out: list[Result] = []
        for record in self:
            if record.status == "completed" and record.paths:
                store = store_of.setdefault(record.home, session().store(record.home))
                out.append(result_from(record, store, fetch=False))
        return out

    def _row_text(self, rec: HistoryRecord) -> str:
        prompt = (rec.prompt or "").replace("\n", " ")
        prompt = prompt if len(prompt) <= 50 else prompt[:47] + "..."
        sim = " SIM" if rec.simulated else ""
        return (
            f"{when(rec.created_at)}  {rec.task_id:<28} {rec.status_text:<10} "
            f"{rec.model or '?':<25} {len(rec.kept)} img  "
            f"{catalog.format_usd(rec.cost_usd)}{sim}  {prompt}"
        )

    def __repr__(self) -> str:
        if not self:
            return "<HistoryList: no tasks>"
        lines = [f"<HistoryList: {len(self)} task(s), newest first>"]
        lines += [self._row_text(rec) for rec in self[:50]]
        if len(self) > 50:
            lines.append(f"... {len(self) - 50} more")
        return "\n".join(lines)

    def _repr_html_(self) -> str | None:
        return _rich_html(self)


# -- the functions --------------------------------------------------------------------------------
def list_history(
    limit: int | None = None, status: str | None = None, *, store: Store | None = None
) -> HistoryList:
    """Tasks from the history, newest first.

    ``status`` filters: ``"completed"``, ``"failed"``, ``"cancelled"``, ``"lost"``,
    ``"unconfirmed"`` (submits whose task id never arrived: they may be billed, check the
    provider's console), ``"queued"``, ``"processing"``, or ``"pending"`` (any unfinished state).
    Each record's ``.to_result()`` gives a Result from the files on disk.
    """
    limit, status = checks.count("limit", limit), checks.status(status)
    records = _store(store).history(limit=limit, status=status)
    return HistoryList(HistoryRecord.of(record) for record in records)


def load(task_id: str, *, store: Store | None = None) -> Result:
    """The Result of a completed task, from disk (links not needed)."""
    db = _store(store)
    record = db.get(task_id)
    if record is None:
        raise SeedreamError(
            f"no task {task_id!r} in the history at {db.home}; list the known tasks with "
            "sj.history()"
        )
    return result_from(record, db)


# -- money ----------------------------------------------------------------------------------------
class SpendTable(list[SpendRow]):
    """Estimated spend by day, model and kind; totals as attributes; a table in a notebook."""

    def __init__(
        self,
        rows: Iterable[SpendRow],
        budget_usd: float | None = None,
        budget_spent_usd: float | None = None,
    ) -> None:
        super().__init__(rows)
        self.budget_usd = budget_usd
        # what the budget check counts: all real spend, not only these rows
        self.budget_spent_usd = budget_spent_usd

    @property
    def real_usd(self) -> float:
        return round(sum(r.cost_usd for r in self if not r.simulated), 6)

    @property
    def simulated_usd(self) -> float:
        return round(sum(r.cost_usd for r in self if r.simulated), 6)

    def _budget_line(self) -> str:
        if self.budget_usd is None:
            return ""
        spent = self.real_usd if self.budget_spent_usd is None else self.budget_spent_usd
        left = max(0.0, self.budget_usd - spent)
        return f"; budget ${self.budget_usd:.2f}, {catalog.format_usd(left)} left"

    def __repr__(self) -> str:
        lines = [
            f"<SpendTable: real ≈ ${self.real_usd:.4f}, simulated (free) ≈ "
            f"${self.simulated_usd:.4f}{self._budget_line()}>"
        ]
        for r in self:
            kind = "simulated" if r.simulated else "real"
            lines.append(
                f"{r.day}  {r.model:<25} {kind:<9} {r.tasks:>4} tasks {r.images:>4} images  "
                f"${r.cost_usd:.4f}"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str | None:
        return _rich_html(self)


def spend(
    days: float | None = None,
    *,
    since: float | None = None,
    simulated: bool | None = None,
    model: str | None = None,
    store: Store | None = None,
    budget_usd: float | None = None,
) -> SpendTable:
    """Estimated spend by local day and model, real and simulated apart (failed and
    cancelled tasks excluded; lost ones count, as they may have been billed). ``days`` limits
    to the last N days; ``since`` is a timestamp. The budget line (``budget_usd``, else
    %config SeedreamMagic.budget_usd, else SEEDREAM_BUDGET_USD) counts all real spend, as the
    submit check does, whatever the filters."""
    days = checks.days("days", days)
    if days is not None:
        since = max(since or 0.0, time.time() - days * 86400)
    db = _store(store)
    rows = db.spend(since=since, simulated=simulated, model=model)
    return SpendTable(rows, session().budget_usd(budget_usd), db.spent_usd(simulated=False))


# -- export and prune -----------------------------------------------------------------------------
def _light_params(payload: Any) -> Any:
    """The stored payload, input-image references shown as their sha256."""
    if not isinstance(payload, dict):
        return payload
    urls = payload.get("image_urls")
    if not isinstance(urls, list):
        return payload
    shown = []
    for url in urls:
        if isinstance(url, str) and url.startswith(INPUT_SCHEME):
            shown.append("sha256:" + Path(url[len(INPUT_SCHEME) :].partition("#")[0]).stem)
        else:
            shown.append(url)
    return {**payload, "image_urls": shown}


def export(
    directory: str | os.PathLike[str],
    *,
    task_ids: Sequence[str] | None = None,
    limit: int | None = None,
    status: str | None = "completed",
    store: Store | None = None,
) -> list[Path]:
    """Copy images from the history into ``directory`` with a ``manifest.jsonl``.

    One JSON object per image: file, task_id, index, prompt, model, action, seed, params
    (the request sent), simulated, created, completed, sha256, width, height. Exporting into
    the same directory again updates the manifest. Returns the image files written.
    """
    task_ids, limit = checks.ids("task_ids", task_ids), checks.count("limit", limit)
    db = _store(store)
    out = Path(directory).expanduser()
    if out.exists() and not out.is_dir():
        raise ValidationError("directory", str(out), "a folder (this is a file)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(
            "directory", str(out), f"a folder that can be made ({exc.strerror})"
        ) from None
    if task_ids is not None:
        records = [r for r in (db.get(t) for t in task_ids) if r is not None]
        if status is not None:
            records = [r for r in records if r.status == status]
        records = records[:limit] if limit is not None else records
    else:
        records = db.history(limit=limit, status=status)
    manifest = out / MANIFEST
    entries: dict[str, dict[str, Any]] = {}
    if manifest.exists():
        for line in manifest.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("file"), str):
                entries[entry["file"]] = entry
    written: list[Path] = []
    for record in records:
        for image in record.images:
            if image.path is None or not image.path.is_file():
                continue
            target = out / f"{record.task_id}-{image.index + 1}{image.path.suffix}"
            shutil.copyfile(image.path, target)
            written.append(target)
            entries[target.name] = {
                "file": target.name,
                "task_id": record.task_id,
                "index": image.index,
                "prompt": record.prompt,
                "model": record.model,
                "action": record.action,
                "seed": record.seed,
                "params": _light_params(record.payload),
                "simulated": record.simulated,
                "created": _iso(record.created_at),
                "completed": _iso(record.completed_at),
                "sha256": image.sha256,
                "width": image.width,
                "height": image.height,
            }
    text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries.values())
    write_atomic(manifest, text.encode("utf-8"))
    return written


def prune(
    *,
    older_than_days: float | None = None,
    keep_last: int | None = None,
    simulated_only: bool = False,
    status: str | None = None,
    task_ids: Sequence[str] | None = None,
    dry_run: bool = False,
    store: Store | None = None,
) -> PruneReport:
    """Forget finished tasks matching every filter given and delete the files no task uses.

    ``older_than_days``: created before then; ``keep_last``: all but the newest N;
    ``simulated_only``: simulator tasks only; ``status``: e.g. ``"failed"``. Pending tasks
    are never pruned. With no filter only orphaned files are removed. ``dry_run`` reports
    without deleting.
    """
    return _store(store).prune(
        older_than_days=checks.days("older_than_days", older_than_days),
        keep_last=checks.count("keep_last", keep_last),
        simulated_only=simulated_only,
        status=checks.status(status),
        task_ids=checks.ids("task_ids", task_ids),
        dry_run=dry_run,
    )


# -- ``sj.history``: callable, with the other functions as attributes ------------------------------
class _History:
    """``sj.history(limit=None, status=None)`` lists tasks (newest first);
    ``sj.history.load / resume / spend / export / prune`` do the rest."""

    load = staticmethod(load)
    resume = staticmethod(resume)
    spend = staticmethod(spend)
    export = staticmethod(export)
    prune = staticmethod(prune)

    def __call__(
        self, limit: int | None = None, status: str | None = None, *, store: Store | None = None
    ) -> HistoryList:
        return list_history(limit, status, store=store)

    def __dir__(self) -> list[str]:
        return sorted(set(__all__) | {"load", "resume", "spend", "export", "prune"})

    def __repr__(self) -> str:
        return (
            "<sj.history: call sj.history(limit=None, status=None) for the task list; "
            "also .load(task_id), .resume(), .spend(), .export(dir), .prune(...)>"
        )


history = _History()
