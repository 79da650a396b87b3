"""Job: one generation in flight on the package's private event-loop thread.

Cache look-up, budget check, submit, wait, download to disk, Result — all within one
``Deadline`` (the caller's ``timeout``). Write-ahead: an intent row is written before the
POST is sent (a history that cannot be written refuses the submit, nothing sent, unless the
``history`` setting is off), and becomes the task's row the moment the server returns its id,
so a timeout, an interrupt, a crash or kill -9 never loses a task the server created; its
images are on disk before their links expire. Whatever ends a job is in the history before
the caller hears of it. Observe a job with ``subscribe``; stop it with ``cancel``.

``wait="sync"`` submits with POST /v1/tasks/sync: the server answers when the task ends (no
poll delay), or with the task still processing, which is then polled as usual. Either way the
id is recorded as soon as the answer arrives; a connection lost before it is an ambiguous
submit, kept in the history as unconfirmed and never resubmitted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

from .. import _loop, catalog
from ..client import Client
from ..client.retry import Deadline, DeadlineExceeded
from ..errors import (
    NOT_SUBMITTED,
    SeedreamError,
    TaskCancelledError,
    TaskDetachedError,
    TaskError,
    TaskFailedError,
    TaskTimeoutError,
    redact,
)
from ..request import GenerationRequest
from ..results import Result
from ..session import session
from ..store import Store
from ..task import Task, TaskStatus, raise_for_terminal
from . import history_writes, submitting
from .finish import finish
from .state import JobState

logger = logging.getLogger("seedream_jupyter")
JobListener = Callable[["Job"], None]
T = TypeVar("T")

CANCEL_TIMEOUT_SECONDS: Final = 10.0  # a cancel (request and all) gives up after this
_STATE_OF_ERROR: Final[dict[type[BaseException], JobState]] = {
    TaskFailedError: JobState.FAILED,
    TaskCancelledError: JobState.CANCELLED,
    TaskDetachedError: JobState.DETACHED,
    TaskTimeoutError: JobState.TIMEOUT,
}
_Stop = tuple["TaskCancelledError | TaskDetachedError", str]


class Job:
    """One generation in flight on the private loop thread; observe it with ``subscribe``."""

    def __init__(
        self,
        request: GenerationRequest,
        client: Client | None = None,
        *,
        timeout: float | None = 300.0,
        cache: bool = True,
        store: Store | None = None,
        budget_usd: float | None = None,
        history: bool | None = None,
        wait: str = "poll",
    ) -> None:
        self.request = request
        self.wait_mode = wait  # "poll" or "sync" (see the module docstring)
        self.client = client or session().client()
        self.timeout = timeout
        self.cache = cache
        self.budget_usd = budget_usd
        # False (the "history" setting): no history, nothing saved to disk, nothing refused
        self.history = bool(session().get("history", history)) or store is not None
        self._store = store
        self.task: Task | None = None
        self.task_id: str | None = None
        self.state = JobState.SUBMITTING
        self.progress = 0
        self.started_at = time.time()
        self.finished_at: float | None = None
        self.from_cache = False
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.message: str | None = None
        self._listeners: list[JobListener] = []
        self._lock = threading.Lock()
        self._waiter: asyncio.Future[Task] | None = None
        self._stop: _Stop | None = None
        self._cancel_requested = False
        self._cancelling: asyncio.Future[str] | None = None
        self.future: concurrent.futures.Future[Result] = _loop.submit(self._run())

    @property
    def simulated(self) -> bool:
        return self.client.simulated

    @property
    def done(self) -> bool:
        return self.future.done()

    def __repr__(self) -> str:
        return f"<Job {self.task_id or '(submitting)'} {self.state} {self.progress}%>"

    # -- observers -------------------------------------------------------------------
    def subscribe(self, fn: JobListener) -> None:
        """Call ``fn(job)`` with the current state and on every change (on the loop thread,
        or right here when the job has already ended)."""
        with self._lock:
            self._listeners.append(fn)
        if self.done:  # the loop calls no listener any more: call it here, now
            self._call(fn)
        else:  # on the loop thread too, so no listener runs on two threads at once
            _loop.loop().call_soon_threadsafe(self._call, fn)

    def _call(self, fn: JobListener) -> None:
        try:
            fn(self)
        except Exception:
            logger.exception("a Job listener failed")

    def _emit(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for fn in listeners:
            self._call(fn)

    def _on_progress(self, task: Task) -> None:
        status_changed = self.task is None or self.task.status is not task.status
        self.task, self.state, self.progress = task, JobState.of_task(task.status), task.progress
        if status_changed and self._store is not None:
            history_writes.queue(
                f"recording the status of {task.task_id}",
                functools.partial(self._store.record_state, task),
            )
        self._emit()

    # -- running ---------------------------------------------------------------------
    async def _run(self) -> Result:
        try:
            result = await self._execute()
        except asyncio.CancelledError:
            stop = self._stop
            error: BaseException = stop[0] if stop else TaskDetachedError(self.task_id or "?")
            await self._settle()
            self._end(_STATE_OF_ERROR[type(error)], error=error, message=stop[1] if stop else None)
            raise error from None
        except BaseException as exc:
            # a poll or a download failed after the submit: the task goes on (a task that
            # ended badly says so itself)
            if isinstance(exc, SeedreamError) and not isinstance(exc, TaskError):
                exc.submitted_task_id = exc.submitted_task_id or self.task_id
            if isinstance(exc, Exception) and not isinstance(exc, SeedreamError):
                logger.error("a job failed unexpectedly", exc_info=exc)  # the views point here
            state = _STATE_OF_ERROR.get(type(exc), JobState.ERROR)
            stopped = self._stop[1] if self._stop is not None else None
            await self._settle()
            self._end(state, error=exc, message=stopped or str(exc))
            raise
        self._end(JobState.COMPLETED, result=result)
        return result

    async def _settle(self) -> None:
        """The history says how the job ended before anyone hears of it (a TaskFailedError
        is followed by a history that already says failed)."""
        if self._store is None:
            return
        if self.task is not None and self.task.is_terminal and self.task_id is not None:
            await history_writes.best_effort(
                f"recording the end of {self.task_id}",
                functools.partial(self._store.record_state, self.task),
            )
        await history_writes.flush()

    def _end(
        self,
        state: JobState,
        *,
        result: Result | None = None,
        error: BaseException | None = None,
        message: str | None = None,
    ) -> None:
        self.state, self.result, self.error = state, result, error
        self.message = message or self.message
        if result is not None:
            self.progress = 100
        self.finished_at = time.time()
        self._emit()

    async def _execute(self) -> Result:
        deadline = Deadline(self.timeout)
        if self._store is None and self.history:
            # A paid task must leave a trace: a history that cannot be opened refuses it.
            self._store = await asyncio.to_thread(submitting.open_store)
        store = self._store
        if store is None or not self.cache or self.request.seed == catalog.RANDOM_SEED:
            return await self._generate(store, deadline)
        # An identical fixed-seed request in flight is waited for, then found in the cache:
        # the same picture is never paid twice, whatever the concurrency.
        async with session().same_request(self.request.cache_key()) as gate:
            await self._bounded_lock(gate, deadline)
            try:
                cached = await asyncio.to_thread(self._from_cache, store)
                if cached is not None:
                    return cached
                return await self._generate(store, deadline)
            finally:
                gate.release()

    async def _generate(self, store: Store | None, deadline: Deadline) -> Result:
        """Budget, intent, submit, wait, download: the paid part of a job."""
        aio = self.client.aio
        budgeted = session().budget_usd(self.budget_usd) is not None and not aio.simulated
        if budgeted and store is None:
            submitting.check_budget(store, self.request, self.budget_usd)  # refuses: no history
        intent = None
        # Check and write the intent under one lock, so concurrent jobs cannot overspend: the
        # intent row counts toward the spend from then on, so the POST itself (a sync submit
        # may take minutes) runs outside the lock. The wait for the lock is bounded too.
        lock = session().budget_lock() if budgeted and store is not None else None
        if lock is not None:
            await self._bounded_lock(lock, deadline)
        try:
            if lock is not None:
                await asyncio.to_thread(
                    submitting.check_budget, store, self.request, self.budget_usd
                )
            if self._cancel_requested:
                self._stop = (
                    TaskCancelledError(NOT_SUBMITTED),
                    "cancelled before the submit: nothing was sent",
                )
                raise asyncio.CancelledError
            if store is not None:
                intent = await submitting.write_intent(store, self.request, aio)
        finally:
            if lock is not None:
                lock.release()
        try:
            if self.wait_mode == "sync":
                task = await aio.submit_and_wait(self.request, timeout=deadline, poll=False)
            else:
                task = await aio.submit(self.request, timeout=deadline)
        except SeedreamError as exc:
            if intent is not None and store is not None:
                await submitting.settle_intent(store, intent, exc)
            raise
        simulated = aio.simulated  # the server may have announced itself as a simulator
        if store is not None:
            await submitting.record_submitted(
                store, task, self.request, aio, intent=intent, simulated=simulated
            )
        self.task, self.task_id = task, task.task_id
        self.state, self.progress = JobState.of_task(task.status), task.progress
        self._emit()
        if self._cancel_requested:
            await self._cancel_async()
        if task.status is TaskStatus.COMPLETED:  # a sync submit answered with the images
            done = task
        else:
            raise_for_terminal(task)  # a sync submit may answer with a failed task
            self._waiter = asyncio.ensure_future(
                aio.wait(
                    task.task_id,
                    timeout=deadline,
                    on_progress=self._on_progress,
                    just_submitted=True,
                    request=self.request,  # its shape: the poller plans from similar tasks
                )
            )
            if self._stop is not None:
                self._waiter.cancel()
            done = await self._waiter
        self.task = done
        self.state = JobState.DOWNLOADING
        self._emit()
        return await finish(
            done,
            self.request,
            aio,
            store,
            simulated=simulated,
            elapsed=time.time() - self.started_at,
            timeout=deadline,
        )

    @staticmethod
    async def _bounded_lock(lock: asyncio.Lock, deadline: Deadline) -> None:
        """Take a lock within the job's time; its end is a timeout, nothing sent."""
        try:
            await deadline.run(lock.acquire())
        except DeadlineExceeded:
            raise TaskTimeoutError(
                NOT_SUBMITTED, deadline.seconds or 0.0, "waiting for its turn to submit"
            ) from None

    def _from_cache(self, store: Store) -> Result | None:
        aio = self.client.aio
        record = store.find_cached(self.request, base_url=aio.base_url, simulated=aio.simulated)
        if record is None:
            return None
        paths = store.image_paths(record.task_id)
        if not paths:
            return None
        self.task_id, self.from_cache = record.task_id, True
        self.task = record.to_task()
        self.message = (
            f"from the history on disk: nothing billed (an identical request with seed "
            f"{self.request.seed} was made before, task {record.task_id})"
        )
        return Result(
            self.task, self.request, paths=paths, simulated=record.simulated, from_cache=True
        )

    # -- control ---------------------------------------------------------------------
    def cancel(self) -> str:
        """Cancel a queued task on the server (refunded), or stop waiting for a processing one."""
        if self.done:
            return self.message or f"task {self.task_id} is already {self.state}"
        if _loop.in_loop_thread():
            self._cancelling = asyncio.ensure_future(self._cancel_async())
            return "cancelling"
        try:
            # the cancel's own request is bounded too, so nothing goes on after this returns
            return _loop.submit(self._cancel_async()).result(timeout=CANCEL_TIMEOUT_SECONDS + 1)
        except concurrent.futures.TimeoutError:
            return (
                f"the server did not answer the cancel of task {self.task_id} within "
                f"{CANCEL_TIMEOUT_SECONDS:.0f} s; check it with %seedream status {self.task_id}"
            )
        except Exception as exc:
            return f"could not cancel task {self.task_id}: {exc}"

    async def _cancel_async(self) -> str:
        if self._stop is not None:
            return self._stop[1]
        if self.done or self.state in (JobState.DOWNLOADING, JobState.COMPLETED):
            return f"task {self.task_id} already completed"
        if self.task_id is None:
            self._cancel_requested = True
            return "cancel requested: the task will be cancelled as soon as the server names it"
        task_id = self.task_id
        if self.task is None or self.task.status is TaskStatus.QUEUED:
            try:
                cancelled = await self.client.aio.cancel(task_id, timeout=CANCEL_TIMEOUT_SECONDS)
            except SeedreamError as exc:
                logger.info("cancel of %s refused: %s", task_id, exc)
            else:
                message = (
                    f"task {task_id} was queued and has been cancelled on the server (refunded)"
                )
                self._stop = (TaskCancelledError(task_id), message)
                if self._store is not None:
                    record = functools.partial(
                        self._store.record_state,
                        Task(task_id, TaskStatus.CANCELLED, cancelled.progress),
                    )
                    await history_writes.best_effort(f"recording the cancel of {task_id}", record)
                if self._waiter is not None:
                    self._waiter.cancel()
                return message
        message = (
            f"task {task_id} is still processing on the server, which cannot cancel a started "
            f"task; stopped waiting. Fetch it later with sj.resume() or sj.load({task_id!r})."
        )
        self._stop = (TaskDetachedError(task_id), message)
        if self._waiter is not None:
            self._waiter.cancel()
        return message

    def wait(self, timeout: float | None = None) -> Result:
        """Block until the Result; an interrupt cancels (or detaches) the task, then propagates."""
        _loop.refuse_in_loop_thread("Job.wait")
        try:
            return self.future.result(timeout)
        except KeyboardInterrupt:
            self.cancel()
            raise
        except concurrent.futures.TimeoutError:
            raise TaskTimeoutError(self.task_id or "?", timeout or 0.0, str(self.state)) from None

    def __await__(self) -> Any:
        return self._await().__await__()

    async def _await(self) -> Result:
        try:
            return await follow(self.future)
        except asyncio.CancelledError:
            # Cancelling the awaiter cancels (or detaches) the task like an interrupt. The
            # cancel runs on the job's own loop, so cancelling this task again (a timeout,
            # asyncio.run's shutdown) cannot stop it and lose a paid task's cancel.
            try:
                await follow(_loop.submit(self._cancel_async()))
            except Exception as exc:  # the awaiter was cancelled: that is what it must see
                logger.warning("cancel of %s failed: %s", self.task_id, redact(str(exc)))
            raise


def follow(source: concurrent.futures.Future[T]) -> asyncio.Future[T]:
    """An asyncio future on the running loop that follows ``source``.

    Unlike ``asyncio.wrap_future``, cancelling it leaves ``source`` (a job mid-submit) alone,
    and an outcome that arrives after it was cancelled, or after its loop has closed, is
    dropped instead of logged as "never retrieved" or as a failing callback.
    """
    loop = asyncio.get_running_loop()
    target: asyncio.Future[T] = loop.create_future()

    def settle(done: concurrent.futures.Future[T]) -> None:
        if target.done():
            return
        if done.cancelled():
            target.cancel()
        elif (error := done.exception()) is not None:
            target.set_exception(error)
        else:
            target.set_result(done.result())

    def relay(done: concurrent.futures.Future[T]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is listening
            loop.call_soon_threadsafe(settle, done)

    source.add_done_callback(relay)
    return target
