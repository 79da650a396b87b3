"""Getting back what the history knows: a Result from a record's files, a pending task asked
about once, and ``resume`` — finishing every task a timeout, an interrupt or a restart left,
and listing the submits whose task id never arrived ("may be billed — check the provider's
console"), with their estimated cost."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import socket
import warnings
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from .. import _loop, catalog
from ..client import AsyncClient, Client
from ..errors import (
    ImageDownloadError,
    NotFoundError,
    SeedreamError,
    TaskCancelledError,
    TaskError,
    TaskFailedError,
    TaskTimeoutError,
)
from ..results import Result
from ..session import session
from ..store import UNCONFIRMED, UNCONFIRMED_MESSAGE, Store, TaskRecord, server_of
from ..task import Task, TaskStatus, raise_for_terminal
from . import history_writes
from .finish import finish

_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def result_from(record: TaskRecord, store: Store, *, fetch: bool = True) -> Result:
    """A Result from a record's files; missing files are fetched while their links work."""
    if record.is_unconfirmed:
        raise SeedreamError(
            f"{record.task_id} is a submit whose task id never arrived: it {UNCONFIRMED_MESSAGE} "
            f"(≈ {catalog.format_usd(record.cost_usd)}). {record.error_message or ''}"
        )
    if record.status == "completed":
        kept = record.kept
        on_disk = [img for img in kept if img.on_disk]
        if kept and len(on_disk) == len(kept) and not record.refused:
            return _from_files(record)
        missing = [img for img in kept if not img.on_disk]
        live = bool(missing) and not any(img.url_expired or not img.url for img in missing)
        if fetch and live:
            return _fetch_missing(record, store)
        problems = [r.refused or "" for r in record.refused]
        if not record.images:
            problems.append("the server returned no image")
        if missing:
            problems.append(
                f"{len(missing)} of its {len(kept)} images are not on disk under {store.home} "
                "and their links have expired (links last 24 h); they cannot be recovered"
            )
        text = f"task {record.task_id} completed but " + "; ".join(problems)
        if not on_disk:
            raise SeedreamError(text)
        warnings.warn(f"{text}; the Result holds the {len(on_disk)} on disk", stacklevel=3)
        return _from_files(record)
    if record.status in ("failed", "cancelled"):
        raise_for_terminal(record.to_task())
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


async def _record(store: Store, task: Task) -> None:
    await history_writes.best_effort(
        f"recording the state of {task.task_id}", functools.partial(store.record_state, task)
    )


async def _mark_lost(store: Store, task_id: str, reason: str) -> None:
    await history_writes.best_effort(
        f"recording {task_id} as lost", functools.partial(store.mark_lost, task_id, reason)
    )


def _from_files(record: TaskRecord) -> Result:
    """A Result of the images on disk (the task shows the ones kept, in order)."""
    task = record.to_task()
    kept = tuple(ref for ref, img in zip(task.images, record.images) if img.on_disk)
    task = dataclasses.replace(task, images=kept)
    return Result(task, record.request, paths=record.paths, simulated=record.simulated)


def _client_for(record: TaskRecord) -> Client:
    current = session().client()
    if record.base_url is None or server_of(current.base_url) == server_of(record.base_url):
        return current
    # a dead simulator's port may now be anyone's: send it no key
    return session().client_for(record.base_url, with_key=not record.simulated)


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
            await history_writes.best_effort(
                f"recording the links of {record.task_id}",
                functools.partial(store.record_state, task),
            )
        return await finish(task, record.request, aio, store, simulated=record.simulated)

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
            await _mark_lost(store, task_id, reason)
            raise SeedreamError(f"task {task_id} is lost: {reason}") from None
        await _record(store, task)
        if task.status is TaskStatus.COMPLETED:
            return await finish(task, record.request, aio, store, simulated=record.simulated)
        raise_for_terminal(task)
        raise SeedreamError(
            f"task {task_id} is still {task.status} on the server ({task.progress}%): try "
            f"sj.load({task_id!r}) again later, or sj.resume() to wait for it and save its images"
        )

    return _loop.run(poll())


class Resumed(list[Result]):
    """Results of the tasks ``resume()`` finished; what else happened is in the attributes."""

    def __init__(self, results: Iterable[Result] = ()) -> None:
        super().__init__(results)
        self.failed: dict[str, BaseException] = {}  # task id -> why it produced no images
        self.lost: list[str] = []  # the server no longer knows them (or their simulator is gone)
        self.still_pending: list[str] = []  # still running when the wait ran out
        self.other_servers: list[str] = []  # pending on a server other than the current one
        # submits whose task id never arrived: they may be billed (check the provider's console)
        self.unconfirmed: list[str] = []
        self.unconfirmed_usd = 0.0

    def summary(self) -> str:
        parts = [f"{len(self)} finished"]
        if self.unconfirmed:
            parts.append(
                f"{len(self.unconfirmed)} unconfirmed submit(s) {UNCONFIRMED_MESSAGE} "
                f"(≈ {catalog.format_usd(self.unconfirmed_usd)}; "
                f"sj.history(status='{UNCONFIRMED}') lists them)"
            )
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
            history_writes.queue(
                f"recording the status of {task.task_id}",
                functools.partial(store.record_state, task),
            )

    async with gate:
        try:
            # the task's shape lets the poller plan from what similar tasks took
            task = await aio.wait(
                record.task_id, timeout=timeout, on_progress=on_progress, request=record.request
            )
        except NotFoundError:
            await _mark_lost(
                store, record.task_id, "the server no longer knows this task (HTTP 404)"
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
            await _record(store, failed)
            report.failed[record.task_id] = exc
            return None
        except TaskCancelledError as exc:
            await _record(store, Task(record.task_id, TaskStatus.CANCELLED, 0))
            report.failed[record.task_id] = exc
            return None
        except TaskTimeoutError:
            report.still_pending.append(record.task_id)
            return None
        except SeedreamError as exc:  # network trouble: the task stays pending
            report.failed[record.task_id] = exc
            return None
        try:
            return await finish(
                task, record.request, aio, store, simulated=record.simulated or aio.simulated
            )
        except (ImageDownloadError, TaskError) as exc:  # e.g. no image, a refused image
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
    Submits whose task id never arrived cannot be resumed (no id to ask about): they are in
    ``.unconfirmed``, with their estimated cost in ``.unconfirmed_usd`` — they may be billed,
    check the provider's console (``sj.history.prune(status="unconfirmed")`` forgets them).
    """
    db = store if store is not None else session().store()
    client = client if client is not None else session().client()
    current = server_of(client.base_url)
    report = Resumed()
    mine: list[TaskRecord] = []
    # completed tasks whose images never reached the disk (a failed download) count too;
    # refused images (a bomb) are never fetched again
    unsaved = [r for r in db.history(status="completed") if any(not img.on_disk for img in r.kept)]
    for record in db.history(status=UNCONFIRMED):
        report.unconfirmed.append(record.task_id)
        report.unconfirmed_usd = round(report.unconfirmed_usd + record.cost_usd, 6)
    for record in [*db.pending(), *unsaved]:
        if server_of(record.base_url) == current:
            mine.append(record)
        elif _simulator_gone(record):
            reason = "its simulator has stopped; simulated tasks die with it"
            history_writes.blocking(
                f"recording {record.task_id} as lost",
                functools.partial(db.mark_lost, record.task_id, reason),
            )
            report.lost.append(record.task_id)
        else:
            report.other_servers.append(record.task_id)
    if not mine:
        return report

    async def run_all() -> list[Result | BaseException | None]:
        gate = asyncio.Semaphore(max(1, concurrency))
        # one task's unexpected error must not cost the others their Results
        return await asyncio.gather(
            *(_resume_one(r, client.aio, db, timeout, gate, report) for r in mine),
            return_exceptions=True,
        )

    for record, outcome in zip(mine, _loop.run(run_all())):
        if isinstance(outcome, Result):
            report.append(outcome)
        elif isinstance(outcome, Exception):
            report.failed[record.task_id] = outcome
        elif isinstance(outcome, BaseException):
            raise outcome
    return report
