"""The helpers: generate and friends, their async twins, batch, sweep — all built on Job.

A ``Job`` is one generation running on the package's private event-loop thread: cache
look-up, budget check, submit, wait, download to disk, Result. Its task id is written
to history the moment the server returns it, so a timeout, interrupt or crash never
loses it; its images are on disk before their links expire.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import itertools
import logging
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from . import _loop, catalog, config
from .client import AsyncClient, Client
from .errors import (
    BudgetExceededError,
    SeedreamError,
    TaskCancelledError,
    TaskDetachedError,
    TaskFailedError,
    TaskTimeoutError,
    ValidationError,
    redact,
)
from .images import to_image_urls
from .request import GenerationRequest
from .results import Result, ResultSet
from .task import ImageRef, Task, TaskStatus

if TYPE_CHECKING:
    from .store import Store

logger = logging.getLogger("seedream_jupyter")
JobListener = Callable[["Job"], None]
T = TypeVar("T")


class SimulatorWarning(UserWarning):
    """Images came from the simulator, not from Seedream."""


warnings.simplefilter("always", SimulatorWarning)

SIMULATOR_NOTICE = (
    "SIMULATED: these images come from the seedream-jupyter simulator (synthetic pictures, "
    "no cost), not from Seedream. Set WAVE_API_KEY (and leave SEEDREAM_SIMULATOR unset) to "
    "generate real images."
)

# -- shared client and store ----------------------------------------------------------------

_client_lock = threading.Lock()
_clients: dict[tuple[object, ...], Client] = {}


def default_client() -> Client:
    """One shared Client per effective settings (embedded simulator when no key is set)."""
    settings = config.resolve()
    key = (settings.api_key, settings.base_url, settings.use_embedded_simulator)
    with _client_lock:
        if key not in _clients:
            _clients[key] = Client()
        return _clients[key]


def reset_default_clients(*, simulated_only: bool = True) -> None:
    """Forget shared clients (e.g. after the embedded simulator stopped); new ones start fresh."""
    with _client_lock:
        dropped = [
            _clients.pop(k) for k, c in list(_clients.items()) if c.simulated or not simulated_only
        ]
    for client in dropped:  # close their connection pools
        with contextlib.suppress(Exception):
            client.close()


_store_warned = False


def default_store() -> Store | None:
    """The history store, or None (with one warning) if it cannot be opened."""
    global _store_warned
    try:
        from .store import default_store as open_default

        return open_default()
    except Exception as exc:  # history must never stop a generation
        if not _store_warned:
            _store_warned = True
            warnings.warn(
                f"seedream history is unavailable ({exc}); images will not be saved to disk. "
                "Set SEEDREAM_HOME to a writable folder.",
                RuntimeWarning,
                stacklevel=3,
            )
        return None


def _guard(what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:
        logger.warning("history: %s failed", what, exc_info=True)
        return None


# One thread writes history rows in order, so SQLite never blocks the event loop.
_history_writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="seedream-history")


def write_history(what: str, fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
    """Run a history write on the writer thread; failures are logged, never raised."""
    return _history_writer.submit(_guard, what, fn)


async def finish(
    task: Task,
    request: GenerationRequest,
    aio: AsyncClient,
    store: Store | None,
    *,
    simulated: bool,
    elapsed: float | None = None,
) -> Result:
    """Download a completed task's images concurrently, each saved to disk as it arrives.

    One failed download costs no other image: the rest are on disk before it is raised.
    """

    async def fetch(index: int, ref: ImageRef) -> tuple[bytes, Path | None]:
        data = await aio.download(ref.url, task_id=task.task_id)
        if store is None:
            return data, None
        save = functools.partial(
            store.save_image,
            task.task_id,
            index,
            data,
            url=ref.url,
            expires_at=ref.expires_at,
            request=request,
        )
        path = await asyncio.to_thread(_guard, f"saving image {index} of {task.task_id}", save)
        return data, path

    fetched = await asyncio.gather(
        *(fetch(i, ref) for i, ref in enumerate(task.images)), return_exceptions=True
    )
    if store is not None:
        recorded = write_history(
            f"recording completion of {task.task_id}", functools.partial(store.record_state, task)
        )
        await asyncio.wrap_future(recorded)
    saved: list[tuple[bytes, Path | None]] = []
    for outcome in fetched:
        if isinstance(outcome, BaseException):
            raise outcome
        saved.append(outcome)
    datas = [data for data, _ in saved]
    paths = [path for _, path in saved if path is not None]
    return Result(
        task,
        request,
        paths=paths if len(paths) == len(datas) else None,
        image_bytes=datas,
        simulated=simulated,
        elapsed=elapsed,
    )


# -- Job ------------------------------------------------------------------------------------

_CANCEL_WAIT_SECONDS = 10.0
_budget_lock: asyncio.Lock | None = None


def _budget_gate() -> asyncio.Lock:
    """One lock on the private loop, where every job runs."""
    global _budget_lock
    if _budget_lock is None:
        _budget_lock = asyncio.Lock()
    return _budget_lock


_STATE_OF_ERROR: Mapping[type[BaseException], str] = {
    TaskFailedError: "failed",
    TaskCancelledError: "cancelled",
    TaskDetachedError: "detached",
    TaskTimeoutError: "timeout",
}


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
    ) -> None:
        self.request = request
        self.client = client or default_client()
        self.timeout = timeout
        self.cache = cache
        self.budget_usd = budget_usd
        self._store = store
        self.task: Task | None = None
        self.task_id: str | None = None
        self.state = "submitting"
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
        self._stop: tuple[TaskCancelledError | TaskDetachedError, str] | None = None
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

    # -- observers ---------------------------------------------------------------------------
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
        # "completed" waits for the images to be on disk; until then we are downloading.
        state = "downloading" if task.status is TaskStatus.COMPLETED else str(task.status)
        self.task, self.state, self.progress = task, state, task.progress
        if status_changed and self._store is not None:
            write_history(
                f"recording the status of {task.task_id}",
                functools.partial(self._store.record_state, task),
            )
        self._emit()

    # -- running -----------------------------------------------------------------------------
    async def _run(self) -> Result:
        try:
            result = await self._execute()
        except asyncio.CancelledError:
            stop = self._stop
            error: BaseException = stop[0] if stop else TaskDetachedError(self.task_id or "?")
            self._end(_STATE_OF_ERROR[type(error)], error=error, message=stop[1] if stop else None)
            raise error from None
        except BaseException as exc:
            state = _STATE_OF_ERROR.get(type(exc), "error")
            stopped = self._stop[1] if self._stop is not None else None
            self._end(state, error=exc, message=stopped or str(exc))
            raise
        self._end("completed", result=result)
        return result

    def _end(
        self,
        state: str,
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
        aio = self.client.aio
        if self._store is None:
            self._store = await asyncio.to_thread(default_store)
        store = self._store
        if store is not None and self.cache and self.request.seed != catalog.RANDOM_SEED:
            cached = await asyncio.to_thread(self._from_cache, store, aio)
            if cached is not None:
                return cached
        budgeted = config.budget_usd(self.budget_usd) is not None and not aio.simulated
        # Check, submit and record under one lock, so concurrent jobs cannot overspend.
        async with _budget_gate() if budgeted else contextlib.nullcontext():
            if budgeted:
                await asyncio.to_thread(self._check_budget, store)
            if self._cancel_requested:
                self._stop = (
                    TaskCancelledError("(not submitted)"),
                    "cancelled before the submit: nothing was sent",
                )
                raise asyncio.CancelledError
            try:
                task = await aio.submit(self.request)
            except SeedreamError as exc:
                if exc.maybe_submitted and store is not None:
                    await asyncio.to_thread(self._record_unknown_submit, store, aio)
                raise
            self.task, self.task_id = task, task.task_id
            simulated = aio.simulated  # the server may have announced itself as a simulator
            if store is not None:
                record = functools.partial(
                    store.record_submitted,
                    task,
                    self.request,
                    base_url=aio.base_url,
                    simulated=simulated,
                )
                written = write_history(f"recording the submit of {task.task_id}", record)
                await asyncio.wrap_future(written)
        self.state, self.progress = str(task.status), task.progress
        self._emit()
        if self._cancel_requested:
            await self._cancel_async()
        self._waiter = asyncio.ensure_future(
            aio.wait(
                task.task_id,
                timeout=self.timeout,
                on_progress=self._on_progress,
                just_submitted=True,
            )
        )
        if self._stop is not None:
            self._waiter.cancel()
        done = await self._waiter
        self.state = "downloading"
        self._emit()
        return await finish(
            done,
            self.request,
            aio,
            store,
            simulated=simulated,
            elapsed=time.time() - self.started_at,
        )

    def _from_cache(self, store: Store, aio: AsyncClient) -> Result | None:
        record = store.find_cached(self.request, base_url=aio.base_url, simulated=aio.simulated)
        if record is None:
            return None
        paths = store.image_paths(record.task_id)
        if not paths:
            return None
        self.task_id, self.from_cache = record.task_id, True
        self.task = record.to_task()
        self.message = (
            f"from cache: identical request with seed {self.request.seed} (task {record.task_id})"
        )
        return Result(
            self.task, self.request, paths=paths, simulated=record.simulated, from_cache=True
        )

    def _record_unknown_submit(self, store: Store, aio: AsyncClient) -> None:
        """A submit whose answer was lost may still be billed: keep it in the history as lost,
        so that it is seen there and its estimated cost counts toward the budget."""
        placeholder = f"unknown-{uuid.uuid4().hex[:16]}"
        try:
            store.record_submitted(
                Task(placeholder), self.request, base_url=aio.base_url, simulated=aio.simulated
            )
            store.mark_lost(
                placeholder,
                "the connection failed after the submit was sent: the task may exist on the "
                "server and be billed, but its id never arrived",
            )
        except Exception:
            logger.warning("could not record a submit whose answer was lost", exc_info=True)

    def _check_budget(self, store: Store | None) -> None:
        limit = config.budget_usd(self.budget_usd)
        if limit is None:
            return
        if store is None:
            raise BudgetExceededError(
                "a spend budget is set but the history that counts spending is unavailable, "
                "so nothing was sent. Set SEEDREAM_HOME to a writable folder."
            )
        spent = store.spent_usd(simulated=False)
        cost = self.request.estimate_cost()
        if spent + cost > limit:
            left = max(0.0, limit - spent)
            raise BudgetExceededError(
                f"this request costs up to ${cost:.4f} but only ${left:.4f} of the "
                f"${limit:.2f} budget is left (spent ${spent:.4f}). Raise SEEDREAM_BUDGET_USD "
                "or %config SeedreamMagic.budget_usd to continue."
            )

    # -- control -----------------------------------------------------------------------------
    def cancel(self) -> str:
        """Cancel a queued task on the server (refunded), or stop waiting for a processing one."""
        if self.done:
            return self.message or f"task {self.task_id} is already {self.state}"
        if _loop.in_loop_thread():
            self._cancelling = asyncio.ensure_future(self._cancel_async())
            return "cancelling"
        try:
            return _loop.submit(self._cancel_async()).result(timeout=_CANCEL_WAIT_SECONDS)
        except concurrent.futures.TimeoutError:
            return (
                f"the server did not answer the cancel of task {self.task_id} within "
                f"{_CANCEL_WAIT_SECONDS:.0f} s; check it with %seedream status {self.task_id}"
            )
        except Exception as exc:
            return f"could not cancel task {self.task_id}: {exc}"

    async def _cancel_async(self) -> str:
        if self._stop is not None:
            return self._stop[1]
        if self.done or self.state in ("downloading", "completed"):
            return f"task {self.task_id} already completed"
        if self.task_id is None:
            self._cancel_requested = True
            return "cancel requested: the task will be cancelled as soon as the server names it"
        task_id = self.task_id
        if self.task is None or self.task.status is TaskStatus.QUEUED:
            try:
                cancelled = await self.client.aio.cancel(task_id)
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
                    written = write_history(f"recording the cancel of {task_id}", record)
                    await asyncio.wrap_future(written)
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
            raise TaskTimeoutError(self.task_id or "?", timeout or 0.0, self.state) from None

    def __await__(self) -> Any:
        return self._await().__await__()

    async def _await(self) -> Result:
        try:
            return await _follow(self.future)
        except asyncio.CancelledError:
            # Cancelling the awaiter cancels (or detaches) the task like an interrupt. The
            # cancel runs on the job's own loop, so cancelling this task again (a timeout,
            # asyncio.run's shutdown) cannot stop it and lose a paid task's cancel.
            try:
                await _follow(_loop.submit(self._cancel_async()))
            except Exception as exc:  # the awaiter was cancelled: that is what it must see
                logger.warning("cancel of %s failed: %s", self.task_id, redact(str(exc)))
            raise


def _follow(source: concurrent.futures.Future[T]) -> asyncio.Future[T]:
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


# -- building requests ------------------------------------------------------------------------

_REQUEST_FIELDS = frozenset(f.name for f in fields(GenerationRequest))


def build_request(
    prompt: str,
    *,
    model: str | None = None,
    images: object = None,
    group_size: int | None = None,
    **params: Any,
) -> GenerationRequest:
    """A validated request from helper arguments (images of any accepted kind)."""
    unknown = set(params) - _REQUEST_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(
            name, params[name], f"unknown parameter; use {', '.join(sorted(_REQUEST_FIELDS))}"
        )
    clean = {k: v for k, v in params.items() if v is not None}
    if group_size is not None:
        clean["max_images"] = group_size
    return GenerationRequest(
        prompt=prompt,
        model=model or catalog.DEFAULT_MODEL,
        image_urls=to_image_urls(images),
        **clean,
    )


def start(
    request: GenerationRequest,
    *,
    client: Client | None = None,
    timeout: float | None = 300.0,
    cache: bool = True,
    store: Store | None = None,
    budget_usd: float | None = None,
) -> Job:
    """Start a generation in the background and return its Job at once."""
    return Job(request, client, timeout=timeout, cache=cache, store=store, budget_usd=budget_usd)


# -- progress for the blocking helpers ----------------------------------------------------------


class ProgressView(Protocol):
    """What the helpers drive while they wait; refreshed from the waiting thread."""

    def add(self, job: Job) -> None: ...
    def refresh(self) -> None: ...
    def close(self) -> None: ...


ProgressFactory = Callable[[str], "ProgressView | None"]
_progress_factory: ProgressFactory | None = None
_TICK_SECONDS = 0.1


def set_progress_factory(factory: ProgressFactory | None) -> None:
    """Install what shows progress for generate/batch/sweep (the notebook display does)."""
    global _progress_factory
    _progress_factory = factory


def _progress(title: str) -> ProgressView | None:
    if _progress_factory is None:
        return None
    try:
        return _progress_factory(title)
    except Exception:
        logger.exception("the progress view failed to start")
        return None


def _refresh(view: ProgressView | None, final: bool = False) -> None:
    if view is None:
        return
    try:
        if final:
            view.close()
        else:
            view.refresh()
    except Exception:
        logger.exception("the progress view failed")


def _wait_first(
    futures: Iterable[concurrent.futures.Future[Result]], view: ProgressView | None
) -> set[concurrent.futures.Future[Result]]:
    """Wait for the first to finish, refreshing the view from this thread meanwhile."""
    pending = set(futures)
    while True:
        done, _ = concurrent.futures.wait(
            pending,
            timeout=_TICK_SECONDS if view is not None else None,
            return_when=concurrent.futures.FIRST_COMPLETED,
        )
        _refresh(view)
        if done:
            return done


_PACKAGE_DIR = str(Path(__file__).resolve().parent)


def _user_stacklevel() -> int:
    """The ``warnings`` stacklevel of the first caller outside this package, for whoever
    calls this function and then ``warnings.warn``: the warning names the user's line."""
    frame = sys._getframe(2)
    level = 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def _warn_if_simulated(result: Result | ResultSet) -> None:
    simulated = result.simulated if isinstance(result, Result) else any(r.simulated for r in result)
    if simulated:
        warnings.warn(SIMULATOR_NOTICE, SimulatorWarning, stacklevel=_user_stacklevel())


def _start_shown(request: GenerationRequest, **options: Any) -> tuple[Job, ProgressView | None]:
    job = start(request, **options)
    view = _progress(request.prompt)
    if view is not None:
        view.add(job)
    return job, view


def _run_helper(
    prompt: str, timeout: float | None, client: Client | None, cache: bool, **kw: Any
) -> Result:
    request = build_request(prompt, **kw)
    _loop.refuse_in_loop_thread("a sync helper (generate, edit, group, ...)")
    job, view = _start_shown(request, client=client, timeout=timeout, cache=cache)
    try:
        _wait_first([job.future], view)
        result = job.wait()
    except KeyboardInterrupt:
        job.cancel()
        raise
    finally:
        _refresh(view, final=True)
    _warn_if_simulated(result)
    return result


async def _arun_helper(
    prompt: str, timeout: float | None, client: Client | None, cache: bool, **kw: Any
) -> Result:
    request = build_request(prompt, **kw)
    job, view = _start_shown(request, client=client, timeout=timeout, cache=cache)
    waiting = asyncio.ensure_future(job._await())
    try:
        while not waiting.done():
            await asyncio.wait({waiting}, timeout=_TICK_SECONDS if view else None)
            _refresh(view)
        result = waiting.result()
    finally:
        if not waiting.done():  # we were cancelled: let the job's cancel finish first
            waiting.cancel()
            await asyncio.wait({waiting})
        _refresh(view, final=True)
    _warn_if_simulated(result)
    return result


# -- public helpers -------------------------------------------------------------------------


def generate(
    prompt: str,
    model: str | None = None,
    n: int = 1,
    seed: int = -1,
    aspect_ratio: str | None = None,
    resolution: str | None = None,
    images: object = None,
    watermark: bool = False,
    *,
    action: str | None = None,
    timeout: float | None = 300.0,
    client: Client | None = None,
    cache: bool = True,
    **params: Any,
) -> Result:
    """Generate images and return a Result whose ``.images`` are PIL images.

    >>> res = generate("a red fox in snow", model="4.5", aspect_ratio="16:9")
    >>> res.images[0].size
    (2560, 1440)
    """
    return _run_helper(
        prompt,
        timeout,
        client,
        cache,
        model=model,
        n=n,
        seed=seed,
        aspect_ratio=aspect_ratio,
        resolution=resolution,
        images=images,
        watermark=watermark,
        action=action,
        **params,
    )


async def agenerate(
    prompt: str,
    model: str | None = None,
    n: int = 1,
    seed: int = -1,
    aspect_ratio: str | None = None,
    resolution: str | None = None,
    images: object = None,
    watermark: bool = False,
    *,
    action: str | None = None,
    timeout: float | None = 300.0,
    client: Client | None = None,
    cache: bool = True,
    **params: Any,
) -> Result:
    """``generate`` for ``await`` (works in a notebook cell's running loop)."""
    return await _arun_helper(
        prompt,
        timeout,
        client,
        cache,
        model=model,
        n=n,
        seed=seed,
        aspect_ratio=aspect_ratio,
        resolution=resolution,
        images=images,
        watermark=watermark,
        action=action,
        **params,
    )


def image2image(image: object, prompt: str, **kw: Any) -> Result:
    """Image-to-image from one or more reference images."""
    return generate(prompt, images=image, action="image2image", **kw)


def edit(image: object, prompt: str, **kw: Any) -> Result:
    """Edit one image (inpainting, lighting changes); Seedream 4.0 / 4.5."""
    return generate(prompt, images=image, action="edit", **kw)


def reference(images: object, prompt: str, **kw: Any) -> Result:
    """Fuse several reference images into one picture; Seedream 4.0 / 4.5."""
    return generate(prompt, images=images, action="reference", **kw)


def group(prompt: str, max_images: int = catalog.DEFAULT_GROUP_SIZE, **kw: Any) -> Result:
    """A themed set of up to ``max_images`` images (sequential_image_generation=auto)."""
    return generate(prompt, action="group", max_images=max_images, **kw)


async def aimage2image(image: object, prompt: str, **kw: Any) -> Result:
    return await agenerate(prompt, images=image, action="image2image", **kw)


async def aedit(image: object, prompt: str, **kw: Any) -> Result:
    return await agenerate(prompt, images=image, action="edit", **kw)


async def areference(images: object, prompt: str, **kw: Any) -> Result:
    return await agenerate(prompt, images=images, action="reference", **kw)


async def agroup(prompt: str, max_images: int = catalog.DEFAULT_GROUP_SIZE, **kw: Any) -> Result:
    return await agenerate(prompt, action="group", max_images=max_images, **kw)


# -- many at once ---------------------------------------------------------------------------

RequestLike = GenerationRequest | str | Mapping[str, Any]


def _as_request(item: RequestLike) -> GenerationRequest:
    if isinstance(item, GenerationRequest):
        return item
    if isinstance(item, str):
        return build_request(item)
    params = dict(item)
    prompt = params.pop("prompt", None)
    if not isinstance(prompt, str):
        raise ValidationError("prompt", prompt, "each batch item needs a 'prompt'")
    return build_request(prompt, **params)


def batch(
    requests: Iterable[RequestLike],
    *,
    concurrency: int = 4,
    timeout: float | None = 300.0,
    client: Client | None = None,
    cache: bool = True,
    labels: Sequence[str] | None = None,
    on_job: JobListener | None = None,
) -> ResultSet:
    """Run many requests with at most ``concurrency`` in flight; all validated before any is sent.

    Failures do not stop the others: they are listed in ``ResultSet.failures``.
    """
    if concurrency < 1:
        raise ValidationError("concurrency", concurrency, "at least 1")
    prepared = [_as_request(item) for item in requests]
    _loop.refuse_in_loop_thread("sj.batch / sj.sweep")
    pending = list(enumerate(prepared))
    running: dict[concurrent.futures.Future[Result], tuple[int, Job]] = {}
    outcomes: dict[int, Result | BaseException] = {}
    view = _progress(f"batch of {len(prepared)}")
    try:
        while pending or running:
            while pending and len(running) < concurrency:
                index, request = pending.pop(0)
                job = start(request, client=client, timeout=timeout, cache=cache)
                if view is not None:
                    view.add(job)
                if on_job is not None:
                    on_job(job)
                running[job.future] = (index, job)
            for future in _wait_first(running, view):
                index, _job = running.pop(future)
                error = future.exception()
                outcomes[index] = error if error is not None else future.result()
    except KeyboardInterrupt:
        for _index, job in running.values():
            job.cancel()
        raise
    finally:
        _refresh(view, final=True)
    names = list(labels) if labels is not None else [r.prompt[:40] for r in prepared]
    done = [i for i in range(len(prepared)) if isinstance(outcomes.get(i), Result)]
    result_set = ResultSet([outcomes[i] for i in done], [names[i] for i in done])  # type: ignore[misc]
    result_set.failures = {
        names[i]: error for i, error in outcomes.items() if not isinstance(error, Result)
    }
    if result_set.failures:
        listing = "; ".join(f"{k}: {v}" for k, v in result_set.failures.items())
        warnings.warn(
            f"{len(result_set.failures)} of {len(prepared)} failed: {listing}",
            stacklevel=_user_stacklevel(),
        )
    _warn_if_simulated(result_set)
    return result_set


def sweep(prompt_template: str, *, concurrency: int = 4, **axes: Any) -> ResultSet:
    """The cartesian product over the given axes, as a labelled comparison set.

    Axes named like request fields (model, seed, aspect_ratio, ...) set parameters;
    any other name fills ``{name}`` in the template. Non-list values are fixed, and so is
    ``images`` (one set of reference images for every combination).

    >>> s = sweep("a {animal}, {style} style", animal=["fox", "owl"], style=["ink", "oil"], seed=7)
    >>> s.grid(columns=2)
    """
    options = {k: axes.pop(k) for k in ("timeout", "client", "cache") if k in axes}
    # A list of images is one set of references; a list of lists sweeps over sets.
    varying = {
        k: v
        for k, v in axes.items()
        if isinstance(v, (list, tuple, range))
        and (k != "images" or (v and all(isinstance(i, (list, tuple)) for i in v)))
    }
    fixed = {k: v for k, v in axes.items() if k not in varying}
    requests: list[GenerationRequest] = []
    labels: list[str] = []
    for combo in itertools.product(*varying.values()) if varying else [()]:
        values = {**fixed, **dict(zip(varying, combo))}
        template_vars = {
            k: v
            for k, v in values.items()
            if k not in _REQUEST_FIELDS and k not in ("images", "group_size")
        }
        params = {k: v for k, v in values.items() if k not in template_vars}
        try:
            prompt = prompt_template.format(**template_vars)
        except KeyError as exc:
            raise ValidationError(
                "prompt_template", prompt_template, f"no value for {{{exc.args[0]}}}"
            ) from None
        requests.append(build_request(prompt, **params))
        labels.append(", ".join(f"{k}={v}" for k, v in zip(varying, combo)) or prompt[:40])
    return batch(requests, concurrency=concurrency, labels=labels, **options)
