"""``AsyncClient``: all I/O with the QWave task API, on one ``httpx.AsyncClient``.

Reads (GET, cancel, downloads) retry 429 / 5xx / connection errors / malformed answers with
backoff and jitter, honouring ``Retry-After``. A submit is retried only when it provably never
reached the server (a connect failure, a 429); any other failure after it was sent is
ambiguous — the task may exist and be billed — so it is raised with ``maybe_submitted`` and
never retried. Every call takes a ``timeout`` (seconds or a shared ``Deadline``) that bounds
all of it: attempts, backoffs, polls and downloads. The client never starts a simulator: the
session decides where requests go.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import httpx

from .. import catalog, config
from .._version import __version__
from ..errors import (
    NOT_SUBMITTED,
    APIError,
    ConfigurationError,
    ConnectionFailedError,
    SeedreamError,
    TaskTimeoutError,
    ValidationError,
    redact,
)
from ..request import GenerationRequest
from ..task import Task, TaskStatus, is_task_id, raise_for_terminal
from . import downloads, http, sync_submit
from .durations import Durations, Submits, TaskShape
from .polling import PollPolicy, ProgressTracker
from .retry import Deadline, DeadlineExceeded, Retry, with_retries

ProgressCallback = Callable[[Task], None]
Timeout = Deadline | float | None

USER_AGENT: Final = f"seedream-jupyter/{__version__} (+httpx/{httpx.__version__})"
DEFAULT_MAX_IMAGE_BYTES: Final = 256 * 1024 * 1024  # a 4K PNG is under 60 MB
_LAST_LOOK_SECONDS: Final = 0.1  # at the deadline, one last short look at the task


class AsyncClient:
    """Async client for one API endpoint. Use on one event loop (``async with`` or ``aclose``).

    ``api_key`` defaults to ``WAVE_API_KEY`` (or its key file), ``base_url`` to
    ``SEEDREAM_BASE_URL`` or the provider's. ``simulated=True`` says the caller knows the
    server is a simulator; a simulator also says so itself in a header.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 5,
        poll: PollPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        simulated: bool = False,
        max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
        allow_private_urls: bool | None = None,
    ) -> None:
        self._api_key = config.resolve_key(api_key)
        self.base_url = config.normalize_base_url(
            base_url or config.env_base_url() or catalog.DEFAULT_BASE_URL
        )
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValidationError("max_retries", max_retries, "a whole number, 0 or more")
        self._timeout = timeout
        self.max_retries = max_retries
        self.poll = poll or PollPolicy()
        self.max_image_bytes = max_image_bytes
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._told_simulated = simulated
        self._server_says_simulated = False
        self._time_scale = 1.0  # a simulator N times faster than real says so; polls keep pace
        self.durations = Durations()  # how long tasks took, per shape: the poller plans from it
        self._submits = Submits()  # shape and time of recent submits, for their waits
        self._urls = downloads.UrlPolicy(self.base_url, allow_private=allow_private_urls)
        self._submitted = http.SeenIds()  # ids this client's submits received

    # -- settings ----------------------------------------------------------------------
    @property
    def simulated(self) -> bool:
        """True when the server is a simulator: its images are synthetic."""
        return self._told_simulated or self._server_says_simulated

    def __repr__(self) -> str:
        key = "set" if self._api_key else "unset"
        sim = ", simulated" if self.simulated else ""
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={key}{sim})"

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            if self._api_key is None and self.base_url == catalog.DEFAULT_BASE_URL:
                raise ConfigurationError(
                    "no API key: set WAVE_API_KEY (or WAVE_API_KEY_FILE) for the real API; for "
                    "the simulator use sj.default_client() or sj.simulator.start()"
                )
            self._http = httpx.AsyncClient(
                base_url=self.base_url,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                timeout=httpx.Timeout(self._timeout, connect=10.0),
                transport=self._transport,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
                follow_redirects=False,  # a redirect could carry the bearer key elsewhere
            )
        return self._http

    def _auth_for(self, url: str) -> dict[str, str]:
        """The bearer key, only for the API's own origin: never for image hosts (CDNs)."""
        if not self._api_key or not self._urls.same_origin(url):
            return {}
        return {"Authorization": f"Bearer {self._api_key}"}

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _note_simulator(self, response: httpx.Response) -> None:
        """Believe "I am a simulator" only from the API itself on this machine's loopback: the
        flag makes results free and lifts the budget, so an image host (or a remote gateway)
        saying it must not."""
        header = response.headers.get(catalog.SIMULATOR_HEADER)
        if header is None or not self._urls.trusts_simulator_header(str(response.request.url)):
            return
        self._server_says_simulated = True
        for part in header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == "speed":
                with contextlib.suppress(ValueError):
                    self._time_scale = 1.0 / max(1.0, float(value))

    def polling(self) -> PollPolicy:
        return self.poll if self._time_scale == 1.0 else self.poll.scaled(self._time_scale)

    # -- one exchange ------------------------------------------------------------------
    async def _exchange(
        self, method: str, url: str, *, body: Any, idempotent: bool, task_id: str | None
    ) -> httpx.Response:
        """One request and its status: ``Retry`` for transient trouble, else the response."""
        try:
            response = await self._client().request(
                method,
                url,
                json=body,
                headers=self._auth_for(url),
                timeout=sync_submit.request_timeout(self._timeout),  # a held answer reads longer
                extensions=http.trace_extensions(),
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # It never reached the server: another try cannot bill twice, even for a submit.
            raise Retry(
                ConnectionFailedError(
                    f"cannot reach {self.base_url}: {redact(str(exc)) or type(exc).__name__}. "
                    "Check the network and SEEDREAM_BASE_URL.",
                    task_id=task_id,
                )
            ) from None
        except httpx.LocalProtocolError:
            # Refused before sending (an invalid header); its text may quote the header.
            raise ConnectionFailedError(
                "the request could not be sent: one of its HTTP headers is invalid. "
                "Nothing was sent.",
                task_id=task_id,
            ) from None
        except (httpx.TransportError, httpx.DecodingError, httpx.TooManyRedirects) as exc:
            error = http.lost_connection(exc, self.base_url, idempotent, task_id)
            if idempotent:
                raise Retry(error) from None
            raise error from None
        self._note_simulator(response)
        if response.status_code in http.RETRY_STATUS:
            # A 429 means "not accepted": even a submit may try again.
            if idempotent or response.status_code == 429:
                error = http.error_from(response, task_id=task_id)
                raise Retry(error, http.retry_after(response))
            raise http.may_exist(http.error_from(response, task_id=task_id, note=http.MAY_EXIST))
        if response.status_code >= 300:
            raise http.error_from(response, task_id=task_id)
        return response

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
    ) -> Any:
        """A JSON call with retries; a malformed answer is retried when the call is idempotent."""

        async def attempt() -> Any:
            response = await self._exchange(
                method, url, body=body, idempotent=idempotent, task_id=task_id
            )
            try:
                data = http.parse_json(response)
            except http.MalformedJSON:
                what = "the submit" if not idempotent else f"{method} {url}"
                error = APIError(
                    f"the server's answer to {what} is not valid JSON"
                    + ("" if idempotent else http.MAY_EXIST),
                    status_code=response.status_code,
                    task_id=task_id,
                )
                if idempotent:
                    raise Retry(error) from None
                raise http.may_exist(error) from None
            return data if parse is None else parse(data)

        return await with_retries(attempt, retries=self.max_retries, deadline=deadline)

    async def _bounded(self, work: Awaitable[Any], on_timeout: Callable[[], SeedreamError]) -> Any:
        try:
            return await work
        except DeadlineExceeded:
            raise on_timeout() from None

    # -- the API -----------------------------------------------------------------------
    async def submit(
        self, request: GenerationRequest | None = None, /, *, timeout: Timeout = None, **params: Any
    ) -> Task:
        """Create a task (POST /v1/tasks); validated before anything is sent."""
        request = http.request_of(request, params)
        deadline = Deadline.of(timeout)

        def parse(data: Any) -> Task:
            return http.submitted_task(data, self._submitted)

        trace = http.SendTrace()

        def timed_out() -> SeedreamError:
            if trace.provably_unsent:  # the time ran out before the request left
                return TaskTimeoutError(NOT_SUBMITTED, deadline.seconds or 0.0, "connecting")
            return ConnectionFailedError(
                f"no answer to the submit within {deadline.seconds:g} s. The task may exist and "
                "be billed, so it was not retried.",
                maybe_submitted=True,
            )

        if deadline.expired:  # nothing can be sent in no time
            raise TaskTimeoutError(NOT_SUBMITTED, deadline.seconds or 0.0)
        sent = time.monotonic()
        token = http.SEND_TRACE.set(trace)
        try:
            task: Task = await self._bounded(
                self._json(
                    "POST",
                    "/v1/tasks",
                    body=request.to_payload(),
                    idempotent=False,
                    task_id=None,
                    deadline=deadline,
                    parse=parse,
                ),
                timed_out,
            )
        finally:
            http.SEND_TRACE.reset(token)
        self._submits.remember(task.task_id, TaskShape.of(request), sent)
        return task

    # POST /v1/tasks/sync: the server holds the answer until the task ends (see sync_submit)
    submit_and_wait = sync_submit.submit_and_wait

    def _task_path(self, task_id: str, suffix: str = "") -> str:
        if not is_task_id(task_id):
            raise ValidationError(
                "task_id", task_id, "a task id is letters, digits, '.', '_' and '-' only"
            )
        return f"/v1/tasks/{task_id}{suffix}"

    def _parse_for(self, task_id: str) -> Callable[[Any], Task]:
        def parse(data: Any) -> Task:
            try:
                task = http.sanitized(Task.from_json(data, task_id=task_id))
            except ValueError as exc:
                raise Retry(
                    APIError(f"the server's answer for task {task_id} is not a task ({exc})")
                ) from None
            if task.task_id != task_id:  # a server that answers about another task
                raise Retry(
                    APIError(
                        f"asked about task {task_id}, the server answered about "
                        f"{task.task_id}; not trusting that answer",
                        task_id=task_id,
                    )
                )
            return task

        return parse

    async def get(self, task_id: str, *, timeout: Timeout = None) -> Task:
        """The task's current state (GET /v1/tasks/{id})."""
        path = self._task_path(task_id)
        deadline = Deadline.of(timeout)
        task: Task = await self._bounded(
            self._json(
                "GET",
                path,
                idempotent=True,
                task_id=task_id,
                deadline=deadline,
                parse=self._parse_for(task_id),
            ),
            lambda: TaskTimeoutError(task_id, deadline.seconds or 0.0),
        )
        return task

    async def cancel(self, task_id: str, *, timeout: Timeout = None) -> Task:
        """Cancel a queued task (refunded). A processing task cannot be cancelled."""
        path = self._task_path(task_id, "/cancel")
        deadline = Deadline.of(timeout)
        task: Task = await self._bounded(
            self._json(
                "POST",
                path,
                idempotent=True,
                task_id=task_id,
                deadline=deadline,
                parse=self._parse_for(task_id),
            ),
            lambda: ConnectionFailedError(
                f"no answer to the cancel of task {task_id} within {deadline.seconds:g} s; "
                f"check it with %seedream status {task_id}",
                task_id=task_id,
            ),
        )
        return task

    async def wait(
        self,
        task_id: str,
        timeout: Timeout = 300.0,
        on_progress: ProgressCallback | None = None,
        *,
        just_submitted: bool = False,
        request: GenerationRequest | None = None,
    ) -> Task:
        """Poll until the task is terminal; returns the completed Task.

        Looks are planned from how long such tasks took and the server's progress (``polling``).
        ``just_submitted`` skips the first look (the submit's answer was it), as for any task
        this client submitted; ``request`` gives the shape of one it did not (a resume). Raises
        TaskFailedError, TaskCancelledError, or TaskTimeoutError (the task may still be
        running: its id is in the error).
        """
        self._task_path(task_id)
        deadline = Deadline.of(timeout)
        started = time.monotonic()
        remembered = self._submits.get(task_id)
        shape, submitted_at = remembered or (None, started)
        shape = TaskShape.of(request) if request is not None else shape
        just_submitted = just_submitted or remembered is not None
        scale = self._time_scale
        tracker = ProgressTracker(submitted_at, self.durations.expect(shape, scale))
        last: Task | None = None

        def timed_out() -> TaskTimeoutError:
            state = str(last.status) if last is not None else None
            return TaskTimeoutError(task_id, time.monotonic() - started, state)

        if just_submitted:
            await deadline.sleep(self.polling().next_delay(tracker))
        while True:
            # Retries of one look share the deadline; at the deadline one short last look.
            left = deadline.remaining()
            look = Deadline(None if left is None else max(_LAST_LOOK_SECONDS, left))
            try:
                task = await self.get(task_id, timeout=look)
            except TaskTimeoutError:
                raise timed_out() from None
            last = task
            if not tracker.looks:  # the first answer: the server's speed, a foreign task's age
                scale = self._time_scale
                tracker.begin(task, self.durations.expect(shape, scale), adopt=not remembered)
            if tracker.update(task) and on_progress is not None:
                on_progress(task)
            if task.status is TaskStatus.COMPLETED:
                if shape is not None and scale == self._time_scale:  # same speed throughout
                    tracker.teach(self.durations, shape, task, scale)
                return task
            raise_for_terminal(task)
            if deadline.expired:
                raise timed_out()
            await deadline.sleep(self.polling().next_delay(tracker))

    async def download(
        self, url: str, *, task_id: str | None = None, timeout: Timeout = None
    ) -> bytes:
        """The bytes of one result image: streamed with a size cap, checked complete, retried."""
        deadline = Deadline.of(timeout)
        self._urls.check(url, task_id)

        async def attempt() -> bytes:
            return await downloads.fetch(
                self._client(),
                url,
                headers_for=self._auth_for,
                task_id=task_id,
                max_bytes=self.max_image_bytes,
                on_response=self._note_simulator,
                urls=self._urls,
            )

        data: bytes = await self._bounded(
            with_retries(attempt, retries=self.max_retries, deadline=deadline),
            lambda: downloads.timeout_error(url, task_id, deadline.seconds),
        )
        return data
