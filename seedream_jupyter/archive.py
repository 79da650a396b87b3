"""The history, from the user's side: list, load, resume, spend, export, prune.

    import seedream_jupyter as sj
    sj.history(10)                 # the last ten tasks, as a table in a notebook
    sj.history()[0].to_result()    # a Result from the files on disk
    sj.load("task-wave…")          # the same, by task id
    sj.resume()                    # finish every task a timeout, interrupt or restart left
    sj.spend(days=7)               # estimated spend by day and model, real vs simulated
    sj.export("out/", limit=20)    # image files + manifest.jsonl
    sj.history.prune(older_than_days=30)   # free disk space

``sj.history`` is a callable object: ``sj.history(5)`` lists, and ``sj.history.load``,
``.resume``, ``.spend``, ``.export`` and ``.prune`` are the functions of this module.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as _dt
import functools
import html
import io
import json
import os
import shutil
import socket
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from . import _loop, api, config
from .client import AsyncClient, Client
from .errors import (
    ImageDownloadError,
    NotFoundError,
    SeedreamError,
    TaskCancelledError,
    TaskFailedError,
    TaskTimeoutError,
)
from .results import Result
from .store import (
    INPUT_SCHEME,
    PruneReport,
    SpendRow,
    Store,
    TaskRecord,
    default_store,
    open_store,
    server_of,
)
from .task import Task, TaskStatus

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
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def _store(store: Store | None) -> Store:
    return store if store is not None else default_store()


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return _dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return _dt.datetime.fromtimestamp(timestamp, _dt.timezone.utc).isoformat()


# -- records and Results ------------------------------------------------------------------------
def _result_from(record: TaskRecord, store: Store, *, fetch: bool = True) -> Result:
    """A Result from a record's files; missing files are fetched while their links work."""
    if record.status == "completed":
        paths = record.paths
        if record.images and len(paths) == len(record.images):
            return Result(record.to_task(), record.request, paths=paths, simulated=record.simulated)
        live = not any(img.url_expired or not img.url for img in record.images)
        if fetch and live:
            return _fetch_missing(record, store)
        missing = (
            f"task {record.task_id} completed but {len(record.images) - len(paths)} of its "
            f"{len(record.images)} images are not on disk under {store.home} and their links "
            "have expired (links last 24 h); they cannot be recovered"
        )
        if not paths:
            raise SeedreamError(missing)
        warnings.warn(f"{missing}; the Result holds the {len(paths)} on disk", stacklevel=3)
        return Result(record.to_task(), record.request, paths=paths, simulated=record.simulated)
    if record.status == "failed":
        raise TaskFailedError(record.task_id, record.error_code, record.error_message)
    if record.status == "cancelled":
        raise TaskCancelledError(record.task_id)
    if record.is_pending:
        if fetch:
            return _poll_once(record, store)
        raise SeedreamError(
            f"task {record.task_id} is still {record.status} as far as the history knows; "
            "sj.resume() waits for it and saves its images"
        )
    raise SeedreamError(
        f"task {record.task_id} is {record.status}: {record.error_message or 'no details'}"
    )


def _client_for(record: TaskRecord) -> Client:
    current = api.default_client()
    if record.base_url is None or server_of(current.base_url) == server_of(record.base_url):
        return current
    if record.simulated:  # a dead simulator's port may now be anyone's: send it no key
        return Client(api_key="", base_url=record.base_url)
    return Client(base_url=record.base_url)


def _fetch_missing(record: TaskRecord, store: Store) -> Result:
    """Download a completed task's images again (links still valid); no links known: ask
    the server for them first."""
    aio = _client_for(record).aio

    async def fetch() -> Result:
        task = record.to_task()
        if not task.images:
            task = await aio.get(record.task_id)
            if task.status is not TaskStatus.COMPLETED or not task.images:
                raise SeedreamError(
                    f"task {record.task_id} has no image links on the server any more"
                )
            await asyncio.to_thread(store.record_state, task)
        return await api.finish(task, record.request, aio, store, simulated=record.simulated)

    return _loop.run(fetch())


def _poll_once(record: TaskRecord, store: Store) -> Result:
    """Ask the server once about a task the history still thinks pending (after a timeout or
    an interrupt); a completed one has its images saved and becomes a Result."""
    task_id = record.task_id
    aio = _client_for(record).aio

    async def poll() -> Result:
        try:
            task = await aio.get(task_id)
        except NotFoundError:
            reason = "the server no longer knows this task (HTTP 404)"
            await asyncio.to_thread(store.mark_lost, task_id, reason)
            raise SeedreamError(f"task {task_id} is lost: {reason}") from None
        await asyncio.to_thread(store.record_state, task)
        if task.status is TaskStatus.COMPLETED:
            return await api.finish(task, record.request, aio, store, simulated=record.simulated)
        if task.status is TaskStatus.FAILED:
            raise TaskFailedError(task_id, task.error_code, task.error_message)
        if task.status is TaskStatus.CANCELLED:
            raise TaskCancelledError(task_id)
        raise SeedreamError(
            f"task {task_id} is still {task.status} on the server ({task.progress}%): try "
            f"sj.load({task_id!r}) again later, or sj.resume() to wait for it and save its images"
        )

    return _loop.run(poll())


@dataclass(frozen=True)
class HistoryRecord(TaskRecord):
    """A TaskRecord that can become a Result."""

    def to_result(self) -> Result:
        """The Result, from the image files on disk."""
        return _result_from(self, open_store(self.home))

    @classmethod
    def of(cls, record: TaskRecord) -> HistoryRecord:
        return cls(**{f.name: getattr(record, f.name) for f in fields(TaskRecord)})


def _thumb_uri(path: Path, side: int) -> str | None:
    try:
        from PIL import Image

        with Image.open(path) as image:
            image.draft("RGB", (side, side))
            small = image.convert("RGB")
            small.thumbnail((side, side))
            buffer = io.BytesIO()
            small.save(buffer, format="JPEG", quality=70)
    except Exception:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


_CSS: Final = (
    "<style>.sj-table{border-collapse:collapse;font-size:12px}"
    ".sj-table th,.sj-table td{padding:2px 8px;text-align:left;vertical-align:middle;"
    "border-bottom:1px solid rgba(128,128,128,.3)}"
    ".sj-table caption{text-align:left;font-weight:bold}"
    ".sj-sim{color:#c60;font-weight:bold}</style>"
)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], caption: str) -> str:
    """A compact HTML table; cells are HTML already escaped by the caller."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return (
        f'{_CSS}<table class="sj-table"><caption>{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


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
                store = store_of.setdefault(record.home, open_store(record.home))
                out.append(_result_from(record, store, fetch=False))
        return out

    def _row_text(self, rec: HistoryRecord) -> str:
        prompt = (rec.prompt or "").replace("\n", " ")
        prompt = prompt if len(prompt) <= 50 else prompt[:47] + "..."
        sim = " SIM" if rec.simulated else ""
        return (
            f"{_when(rec.created_at)}  {rec.task_id:<28} {rec.status:<10} "
            f"{rec.model or '?':<25} {len(rec.images)} img  ${rec.cost_usd:.4f}{sim}  {prompt}"
        )

    def __repr__(self) -> str:
        if not self:
            return "<HistoryList: no tasks>"
        lines = [f"<HistoryList: {len(self)} task(s), newest first>"]
        lines += [self._row_text(rec) for rec in self[:50]]
        if len(self) > 50:
            lines.append(f"... {len(self) - 50} more")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self:
            return "<em>No tasks in the history yet.</em>"
        rows: list[list[str]] = []
        for position, rec in enumerate(self[: self.html_rows]):
            thumb = ""
            paths = rec.paths if position < self.thumbnail_rows else []
            if paths:
                uri = _thumb_uri(paths[0], self.thumbnail_side)
                if uri:
                    thumb = f'<img src="{uri}" style="max-height:{self.thumbnail_side}px" alt="">'
            prompt = rec.prompt or ""
            short = prompt if len(prompt) <= 80 else prompt[:77] + "..."
            status = html.escape(rec.status)
            if rec.error_message and rec.status != "completed":
                status += f' <span title="{html.escape(rec.error_message)}">ⓘ</span>'
            kind = '<span class="sj-sim">SIMULATED</span>' if rec.simulated else "real"
            rows.append(
                [
                    thumb,
                    html.escape(_when(rec.created_at)),
                    f"<code>{html.escape(rec.task_id)}</code>",
                    status,
                    html.escape(rec.model or "?"),
                    html.escape(rec.action or ""),
                    str(len(rec.images)),
                    "" if rec.seed is None else str(rec.seed),
                    f"${rec.cost_usd:.4f}",
                    kind,
                    f'<span title="{html.escape(prompt)}">{html.escape(short)}</span>',
                ]
            )
        more = len(self) - len(rows)
        caption = f"seedream history: {len(self)} task(s), newest first"
        if more > 0:
            caption += f" ({more} more not shown)"
        headers = [
            "",
            "created",
            "task",
            "status",
            "model",
            "action",
            "images",
            "seed",
            "≈ cost",
            "kind",
            "prompt",
        ]
        return _table(headers, rows, caption)


# -- the functions --------------------------------------------------------------------------------
def list_history(
    limit: int | None = None, status: str | None = None, *, store: Store | None = None
) -> HistoryList:
    """Tasks from the history, newest first.

    ``status`` filters: ``"completed"``, ``"failed"``, ``"cancelled"``, ``"lost"``,
    ``"queued"``, ``"processing"``, or ``"pending"`` (any unfinished state).
    Each record's ``.to_result()`` gives a Result from the files on disk.
    """
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
    return _result_from(record, db)


class Resumed(list[Result]):
    """Results of the tasks ``resume()`` finished; what else happened is in the attributes."""

    def __init__(self, results: Iterable[Result] = ()) -> None:
        super().__init__(results)
        self.failed: dict[str, BaseException] = {}  # task id -> why it produced no images
        self.lost: list[str] = []  # the server no longer knows them (or their simulator is gone)
        self.still_pending: list[str] = []  # still running when the wait ran out
        self.other_servers: list[str] = []  # pending on a server other than the current one

    def summary(self) -> str:
        parts = [f"{len(self)} finished"]
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        if self.lost:
            parts.append(f"{len(self.lost)} lost")
        if self.still_pending:
            parts.append(f"{len(self.still_pending)} still pending (run sj.resume() again later)")
        if self.other_servers:
            parts.append(f"{len(self.other_servers)} pending on another server")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"<Resumed: {self.summary()}>"


def _simulator_gone(record: TaskRecord) -> bool:
    """True when a simulated task's loopback simulator no longer listens (it died with its
    process, and the task with it)."""
    if not record.simulated or not record.base_url:
        return False
    parts = urlsplit(record.base_url)
    if parts.hostname not in _LOOPBACK or parts.port is None:
        return False
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=0.5):
            return False
    except OSError:
        return True


async def _resume_one(
    record: TaskRecord,
    aio: AsyncClient,
    store: Store,
    timeout: float | None,
    gate: asyncio.Semaphore,
    report: Resumed,
) -> Result | None:
    seen: list[TaskStatus] = []

    def on_progress(task: Task) -> None:
        if not seen or seen[-1] is not task.status:
            seen.append(task.status)
            api.write_history(
                f"recording the status of {task.task_id}",
                functools.partial(store.record_state, task),
            )

    async with gate:
        try:
            task = await aio.wait(record.task_id, timeout=timeout, on_progress=on_progress)
        except NotFoundError:
            await asyncio.to_thread(
                store.mark_lost, record.task_id, "the server no longer knows this task (HTTP 404)"
            )
            report.lost.append(record.task_id)
            return None
        except TaskFailedError as exc:
            failed = Task(
                record.task_id,
                TaskStatus.FAILED,
                0,
                error_code=exc.code,
                error_message=exc.server_message,
            )
            await asyncio.to_thread(store.record_state, failed)
            report.failed[record.task_id] = exc
            return None
        except TaskCancelledError as exc:
            await asyncio.to_thread(
                store.record_state, Task(record.task_id, TaskStatus.CANCELLED, 0)
            )
            report.failed[record.task_id] = exc
            return None
        except TaskTimeoutError:
            report.still_pending.append(record.task_id)
            return None
        except SeedreamError as exc:  # network trouble: the task stays pending
            report.failed[record.task_id] = exc
            return None
        await asyncio.to_thread(store.record_state, task)  # links on record before downloading
        try:
            return await api.finish(
                task, record.request, aio, store, simulated=record.simulated or aio.simulated
            )
        except ImageDownloadError as exc:
            report.failed[record.task_id] = exc
            return None


def resume(
    *,
    timeout: float | None = 300.0,
    client: Client | None = None,
    store: Store | None = None,
    concurrency: int = 16,
) -> Resumed:
    """Finish every task still pending on the current server and return their Results.

    Tasks left behind by a timeout, an interrupt or a kernel restart are waited for (at most
    ``timeout`` seconds, all at once), their images saved to disk, their rows updated. Tasks
    the server no longer knows are marked ``lost``; so are simulated tasks whose simulator
    has stopped. Failures are in ``.failed``, tasks still running in ``.still_pending``.
    """
    db = _store(store)
    client = client if client is not None else api.default_client()
    current = server_of(client.base_url)
    report = Resumed()
    mine: list[TaskRecord] = []
    # completed tasks whose images never reached the disk (a failed download) count too
    unsaved = [r for r in db.history(status="completed") if not r.all_on_disk]
    for record in [*db.pending(), *unsaved]:
        if server_of(record.base_url) == current:
            mine.append(record)
        elif _simulator_gone(record):
            db.mark_lost(record.task_id, "its simulator has stopped; simulated tasks die with it")
            report.lost.append(record.task_id)
        else:
            report.other_servers.append(record.task_id)
    if not mine:
        return report

    async def run_all() -> list[Result | None]:
        gate = asyncio.Semaphore(max(1, concurrency))
        return await asyncio.gather(
            *(_resume_one(r, client.aio, db, timeout, gate, report) for r in mine)
        )

    report.extend(r for r in _loop.run(run_all()) if r is not None)
    return report


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
        return f"; budget ${self.budget_usd:.2f}, ${left:.4f} left"

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

    def _repr_html_(self) -> str:
        rows = [
            [
                html.escape(r.day),
                html.escape(r.model),
                "simulated (free)" if r.simulated else "real",
                str(r.tasks),
                str(r.images),
                f"${r.cost_usd:.4f}",
            ]
            for r in self
        ]
        rows.append(["<b>total</b>", "", "real", "", "", f"<b>${self.real_usd:.4f}</b>"])
        if self.simulated_usd:
            rows.append(["", "", "simulated", "", "", f"${self.simulated_usd:.4f}"])
        caption = "estimated spend by day and model" + self._budget_line()
        return _table(["day", "model", "kind", "tasks", "images", "≈ cost"], rows, caption)


def spend(
    *,
    days: float | None = None,
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
    if days is not None:
        since = max(since or 0.0, time.time() - days * 86400)
    db = _store(store)
    rows = db.spend(since=since, simulated=simulated, model=model)
    return SpendTable(rows, config.budget_usd(budget_usd), db.spent_usd(simulated=False))


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
    db = _store(store)
    out = Path(directory).expanduser()
    out.mkdir(parents=True, exist_ok=True)
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
    tmp = manifest.with_name(f".{MANIFEST}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, manifest)
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
        older_than_days=older_than_days,
        keep_last=keep_last,
        simulated_only=simulated_only,
        status=status,
        task_ids=task_ids,
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
