"""``AsyncClient.submit_and_wait``: create a task with POST /v1/tasks/sync.

The server holds the answer until the task ends (its images included) or until its own wait
runs out (the task still processing, with a relative ``poll_url``). Either way the answer
names the task. It goes through the client's one retry engine as a submit: retried only when
it provably never reached the server (a connect failure, a 429), never once it may have —
a connection lost while the server holds it is ambiguous (``maybe_submitted``: the task exists
and may be billed, and its id never arrived).

Trade-off against submit-then-poll: no poll delay, so the images arrive as soon as the task
ends (the lowest latency for short tasks); but the task id arrives only with the answer, so an
interrupt or a lost connection while the server holds it leaves a task nobody can name, where
a polled task is in the history from its first second.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final, Protocol

import httpx

from .. import catalog
from ..errors import ConnectionFailedError, SeedreamError
from ..request import GenerationRequest
from ..task import Task, TaskStatus, raise_for_terminal
from . import http
from .durations import Durations, Sample, Submits, TaskShape
from .retry import Deadline

SYNC_PATH: Final = "/v1/tasks/sync"
# The server may hold the answer about as long as the provider's wait (5 minutes): a sync
# submit's read timeout must not be shorter, or a slow task would look like a lost connection.
SYNC_READ_SECONDS: Final = catalog.PROVIDER_WAIT_SECONDS + 30.0
_read_seconds: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "seedream_sync_read_seconds", default=None
)


def request_timeout(default_seconds: float) -> Any:
    """The per-request httpx timeout: longer reads inside a sync submit, else the client's."""
    read = _read_seconds.get()
    if read is None:
        return httpx.USE_CLIENT_DEFAULT
    return httpx.Timeout(max(default_seconds, read), connect=10.0)


@contextlib.contextmanager
def _held_reads(seconds: float) -> Iterator[None]:
    token = _read_seconds.set(seconds)
    try:
        yield
    finally:
        _read_seconds.reset(token)


class _Client(Protocol):
    """What this needs of ``AsyncClient``."""

    _submitted: http.SeenIds
    _submits: Submits
    _time_scale: float
    durations: Durations

    async def _json(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        idempotent: bool,
        task_id: str | None,
        deadline: Deadline,
        parse: Callable[[Any], Any] | None = None,
    ) -> Any: ...

    async def _bounded(
        self, work: Awaitable[Any], on_timeout: Callable[[], SeedreamError]
    ) -> Any: ...

    async def wait(
        self,
        task_id: str,
        timeout: Deadline | float | None = 300.0,
        on_progress: Callable[[Task], None] | None = None,
        *,
        just_submitted: bool = False,
    ) -> Task: ...


def _learn_held(client: _Client, task: Task, request: GenerationRequest, sent: float) -> None:
    """A sync answer's task arrived when sent. A completed one took as long as the server held
    the answer: the poller learns that, at speed 1; a processing one is waited for from then."""
    shape = TaskShape.of(request)
    if task.status is TaskStatus.COMPLETED:
        held = max(0.0, time.monotonic() - sent)
        client.durations.observe(shape, Sample(held).scaled(1 / client._time_scale))
    else:
        client._submits.remember(task.task_id, shape, sent, held=True)


async def submit_and_wait(
    client: _Client,
    request: GenerationRequest | None = None,
    /,
    *,
    timeout: Deadline | float | None = 300.0,
    poll: bool = True,
    on_progress: Callable[[Task], None] | None = None,
    **params: Any,
) -> Task:
    """Create a task and let the server hold the answer until it ends (POST /v1/tasks/sync).

    Validated before anything is sent; never retried once it may have reached the server.
    The server answers with the finished task, or with it still processing when its own
    wait runs out: then, with ``poll``, this polls as ``wait`` does within the same
    ``timeout``; without, it returns that first answer whatever its status, so that a caller
    can record the task id before waiting (the Job does). With ``poll``, a task that ended
    badly raises TaskFailedError / TaskCancelledError. See the module for the trade-off.
    """
    request = http.request_of(request, params)
    deadline = Deadline.of(timeout)
    left = deadline.remaining()

    def parse(data: Any) -> Task:
        # the same checks as a submit's answer: a usable id, and not one already received
        return http.submitted_task(data, client._submitted)

    def timed_out() -> SeedreamError:
        return ConnectionFailedError(
            f"no answer to the sync submit within {deadline.seconds:g} s. The task may exist "
            "and be billed, so it was not retried.",
            maybe_submitted=True,
        )

    sent = time.monotonic()
    with _held_reads(SYNC_READ_SECONDS if left is None else min(SYNC_READ_SECONDS, left + 1)):
        task: Task = await client._bounded(
            client._json(
                "POST",
                SYNC_PATH,
                body=request.to_payload(),
                idempotent=False,
                task_id=None,
                deadline=deadline,
                parse=parse,
            ),
            timed_out,
        )
    _learn_held(client, task, request, sent)
    if not poll:
        return task
    if on_progress is not None:
        on_progress(task)
    if task.status is TaskStatus.COMPLETED:
        return task
    raise_for_terminal(task)
    return await client.wait(
        task.task_id, timeout=deadline, on_progress=on_progress, just_submitted=True
    )
