"""HTTP client for the QWave task API: ``AsyncClient`` does all I/O, ``Client`` is its sync facade.

One ``httpx.AsyncClient`` per ``AsyncClient`` keeps connections alive across polls.
Reads (GET, cancel, downloads) retry 429 / 5xx / connection errors with backoff and
jitter, honouring ``Retry-After``. A submit is retried only when it provably never
reached the server (connect failures, 429); otherwise a failure is ambiguous — the
task may exist and be billed — and is raised as such, never retried blindly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import datetime
import email.utils
import json
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import httpx

from . import _loop, config
from ._version import __version__
from .errors import (
    APIError,
    ConnectionFailedError,
    ImageDownloadError,
    SeedreamError,
    TaskCancelledError,
    TaskFailedError,
    TaskTimeoutError,
    error_for_status,
    redact,
)
from .request import GenerationRequest, sniff_image_format
from .task import Task, TaskStatus

T = TypeVar("T")
ProgressCallback = Callable[[Task], None]

USER_AGENT: Final = f"seedream-jupyter/{__version__} (+httpx/{httpx.__version__})"
SIMULATOR_HEADER: Final = "x-seedream-simulator"
_RETRY_STATUS: Final = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER: Final = 60.0
_LAST_LOOK_SECONDS: Final = 0.1
_SUBMIT_SETTLE_SECONDS: Final = 30.0  # how long an interrupted submit may still finish
_SUBMIT_MAY_EXIST: Final = (
    ". The submit reached the server, so the task may exist and be billed; it was not "
    "retried: check sj.history() and the provider's console before submitting again"
)


def _may_exist(exc: SeedreamError) -> SeedreamError:
    exc.maybe_submitted = True
    return exc


@dataclass(frozen=True)
class PollPolicy:
    """Adaptive polling: a progress-based ETA, capped at ``max_interval``.

    The server's progress gives a completion estimate; the next poll lands just after it,
    so images arrive a fraction of a second after completion with about as many requests
    as a plain loop at ``max_interval`` (see benchmarks/bench_polling.py).
    """

    first_delay: float = 2.0
    min_interval: float = 0.25
    max_interval: float = 2.0
    growth: float = 2.0
    eta_margin: float = 0.1

    def scaled(self, factor: float) -> PollPolicy:
        """The same policy with its fixed intervals multiplied by ``factor``."""
        return dataclasses.replace(
            self,
            first_delay=self.first_delay * factor,
            min_interval=self.min_interval * factor,
            max_interval=self.max_interval * factor,
            eta_margin=self.eta_margin * factor,
        )

    def next_delay(self, previous: float | None, samples: list[tuple[float, int]]) -> float:
        """Seconds to the next poll, from the last delay and (monotonic time, progress) samples.

        The first sample may be a bound on when processing began, at progress 0.
        """
        if previous is None:
            return self.first_delay
        eta = self._eta(samples)
        if eta is not None:
            if eta > 0:
                return max(self.min_interval, min(self.max_interval, eta + self.eta_margin))
            return self.min_interval  # overdue: look again soon
        return min(self.max_interval, max(self.min_interval, previous * self.growth))

    @staticmethod
    def _eta(samples: list[tuple[float, int]]) -> float | None:
        if len(samples) < 2:
            return None
        (t0, p0), (t1, p1) = samples[0], samples[-1]
        if p1 <= p0 or t1 <= t0:
            return None
        rate = (p1 - p0) / (t1 - t0)
        return (100 - p1) / rate - (time.monotonic() - t1)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, min(_MAX_RETRY_AFTER, float(value)))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        return max(0.0, min(_MAX_RETRY_AFTER, parsed.timestamp() - time.time()))


def _error_detail(response: httpx.Response) -> tuple[str, str | None]:
    """(message, code) from any known error envelope, else the body's start."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()[:200] or response.reason_phrase
        return text, None
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = error.get("message") or error.get("msg") or body.get("message")
            code = error.get("code") or error.get("type")
            return str(message or response.reason_phrase), str(code) if code else None
        if isinstance(error, str):
            return error, str(body.get("code")) if body.get("code") else None
    return response.reason_phrase, None


def raise_for_response(
    response: httpx.Response, *, task_id: str | None = None, note: str = ""
) -> None:
    if response.is_success:
        return
    message, code = _error_detail(response)
    cls = error_for_status(response.status_code)
    hints = {
        401: " — set WAVE_API_KEY to a valid key (or unset it to use the simulator)",
        402: " — top up the account balance, then retry",
        429: " — too many requests; slow down or lower concurrency",
    }
    raise cls(
        message + hints.get(response.status_code, "") + note,
        status_code=response.status_code,
        code=code,
        task_id=task_id,
        retry_after=_retry_after(response),
    )


def _parse_task(data: Any, task_id: str) -> Task:
    try:
        return Task.from_json(data, task_id=task_id)
    except ValueError as exc:
        raise APIError(
            f"the server's answer for task {task_id} is not a task ({exc})", task_id=task_id
        ) from None


class AsyncClient:
    """Async client for one API endpoint. Use on one event loop (``async with`` or ``aclose``)."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 5,
        poll: PollPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = config.resolve(api_key, base_url)
        self._timeout = timeout
        self.max_retries = max_retries
        self.poll = poll or PollPolicy()
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._base_url = self._settings.base_url
        self._server_says_simulated = False
        # A simulator running N times faster than real says so; polling keeps pace.
        self._time_scale = 1.0

    # -- settings ----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._base_url is None:
            from . import simulator

            self._base_url = simulator.shared().url
        return self._base_url

    @property
    def simulated(self) -> bool:
        """True when the server is a simulator: its images are synthetic."""
        return self._settings.use_embedded_simulator or self._server_says_simulated

    @property
    def key_is_set(self) -> bool:
        return self._settings.key_is_set

    def __repr__(self) -> str:
        target = "embedded simulator" if self._settings.use_embedded_simulator else self._base_url
        key = "set" if self._settings.key_is_set else "unset"
        return f"{type(self).__name__}(base_url={target!r}, api_key={key})"

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
            self._http = httpx.AsyncClient(
                base_url=self.base_url,
                headers=headers,
                timeout=httpx.Timeout(self._timeout, connect=10.0),
                transport=self._transport,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
                follow_redirects=True,
            )
        return self._http

    def _auth_for(self, url: str) -> dict[str, str]:
        """The bearer key, only for the API's own host: never for image hosts (CDNs)."""
        if not self._settings.api_key:
            return {}
        target = httpx.URL(url)
        api = httpx.URL(self.base_url)
        if target.is_absolute_url and (target.scheme, target.host, target.port) != (
            api.scheme,
            api.host,
            api.port,
        ):
            return {}
        return {"Authorization": f"Bearer {self._settings.api_key}"}

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- transport with retries ------------------------------------------------------------
    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return random.uniform(0, min(8.0, 0.25 * 2**attempt))  # full jitter

    async def _send(
        self, method: str, url: str, *, json_body: Any = None, idempotent: bool, task_id: str | None
    ) -> httpx.Response:
        """One logical request; idempotent ones retry transient failures."""
        attempt = 0
        while True:
            try:
                response = await self._client().request(
                    method, url, json=json_body, headers=self._auth_for(url)
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Never reached the server: safe to retry even for a submit.
                if attempt >= self.max_retries:
                    raise ConnectionFailedError(
                        f"cannot reach {self.base_url}: {redact(str(exc)) or type(exc).__name__}. "
                        "Check the network and SEEDREAM_BASE_URL.",
                        task_id=task_id,
                    ) from None
            except httpx.LocalProtocolError:
                # Refused before sending (an invalid header); its text may quote the header.
                raise ConnectionFailedError(
                    "the request could not be sent: one of its HTTP headers is invalid. "
                    "Nothing was sent.",
                    task_id=task_id,
                ) from None
            except (httpx.TransportError, httpx.DecodingError, httpx.TooManyRedirects) as exc:
                if not idempotent or attempt >= self.max_retries:
                    raise self._ambiguous(exc, idempotent, task_id) from None
            else:
                if SIMULATOR_HEADER in response.headers:
                    self._note_simulator(response.headers[SIMULATOR_HEADER])
                retryable = response.status_code in _RETRY_STATUS
                # A 429 on submit means "not accepted": retrying cannot double-bill.
                if not retryable or attempt >= self.max_retries:
                    return response
                if not idempotent and response.status_code != 429:
                    return response
                await asyncio.sleep(self._backoff(attempt, _retry_after(response)))
                attempt += 1
                continue
            await asyncio.sleep(self._backoff(attempt, None))
            attempt += 1

    def _poll(self) -> PollPolicy:
        if self._time_scale == 1.0:
            return self.poll
        return self.poll.scaled(self._time_scale)

    def _note_simulator(self, header: str) -> None:
        self._server_says_simulated = True
        for part in header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == "speed":
                with contextlib.suppress(ValueError):
                    self._time_scale = 1.0 / max(1.0, float(value))

    def _ambiguous(
        self, exc: httpx.HTTPError, idempotent: bool, task_id: str | None
    ) -> ConnectionFailedError:
        reason = redact(str(exc)) or type(exc).__name__
        if idempotent:
            return ConnectionFailedError(
                f"lost the connection to {self.base_url} ({reason}) after "
                f"{self.max_retries} retries",
                task_id=task_id,
            )
        return ConnectionFailedError(
            f"the connection failed after the submit was sent ({reason}). The task may exist "
            "and be billed, so it was not retried; its id never arrived. Check the provider's "
            "console before submitting again.",
            task_id=task_id,
            maybe_submitted=True,
        )

    async def _json(
        self, method: str, path: str, *, body: Any = None, idempotent: bool, task_id: str | None
    ) -> Any:
        """A JSON call; malformed bodies are retried when idempotent."""
        attempt = 0
        while True:
            response = await self._send(
                method, path, json_body=body, idempotent=idempotent, task_id=task_id
            )
            ambiguous = not idempotent and response.status_code >= 500
            try:
                raise_for_response(
                    response, task_id=task_id, note=_SUBMIT_MAY_EXIST if ambiguous else ""
                )
            except SeedreamError as exc:
                if ambiguous:
                    _may_exist(exc)
                raise
            try:
                return response.json()
            except (ValueError, json.JSONDecodeError):
                if not idempotent or attempt >= self.max_retries:
                    what = "submit" if not idempotent else f"{method} {path}"
                    error = APIError(
                        f"the server's answer to {what} is not valid JSON"
                        + (_SUBMIT_MAY_EXIST if not idempotent else ""),
                        status_code=response.status_code,
                        task_id=task_id,
                    )
                    raise (error if idempotent else _may_exist(error)) from None
                await asyncio.sleep(self._backoff(attempt, None))
                attempt += 1

    # -- the API -----------------------------------------------------------------------
    async def submit(self, request: GenerationRequest | None = None, /, **params: Any) -> Task:
        """Create a task (POST /v1/tasks); validated before anything is sent."""
        if request is None:
            request = GenerationRequest(**params)
        elif params:
            request = request.with_changes(**params)
        data = await self._json(
            "POST", "/v1/tasks", body=request.to_payload(), idempotent=False, task_id=None
        )
        try:
            return Task.from_json(data)
        except ValueError as exc:
            raise _may_exist(
                APIError(f"the submit answer has no task id ({exc})" + _SUBMIT_MAY_EXIST)
            ) from None

    async def get(self, task_id: str) -> Task:
        """The task's current state (GET /v1/tasks/{id})."""
        data = await self._json("GET", f"/v1/tasks/{task_id}", idempotent=True, task_id=task_id)
        return _parse_task(data, task_id)

    async def cancel(self, task_id: str) -> Task:
        """Cancel a queued task (refunded). A processing task cannot be cancelled."""
        data = await self._json(
            "POST", f"/v1/tasks/{task_id}/cancel", idempotent=True, task_id=task_id
        )
        return _parse_task(data, task_id)

    async def wait(
        self,
        task_id: str,
        timeout: float | None = 300.0,
        on_progress: ProgressCallback | None = None,
        *,
        just_submitted: bool = False,
    ) -> Task:
        """Poll until the task is terminal; returns the completed Task.

        ``just_submitted`` skips the first look (the submit's answer was it). Raises
        TaskFailedError, TaskCancelledError, or TaskTimeoutError (the task may still be
        running: its id is in the error).
        """
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        # Processing began after the task was last seen queued: a bound for the first ETA.
        last_queued_at = started
        samples: list[tuple[float, int]] = []
        delay: float | None = None
        seen: tuple[TaskStatus, int] | None = None
        last: Task | None = None
        if just_submitted:
            delay = self._poll().next_delay(None, samples)
            await asyncio.sleep(delay if deadline is None else min(delay, timeout or 0.0))
        while True:
            # A look retries with backoff; it must not outlast the caller's timeout either
            # (a short floor still allows one last look at the deadline).
            remaining = (
                None if deadline is None else max(_LAST_LOOK_SECONDS, deadline - time.monotonic())
            )
            try:
                task = await asyncio.wait_for(self.get(task_id), remaining)
            except asyncio.TimeoutError:
                state = str(last.status) if last is not None else None
                raise TaskTimeoutError(task_id, time.monotonic() - started, state) from None
            last = task
            now = time.monotonic()
            if task.status is TaskStatus.QUEUED:
                last_queued_at = now
            elif task.status is TaskStatus.PROCESSING and 0 < task.progress < 100:
                if not samples:
                    samples.append((last_queued_at, 0))
                elif len(samples) == 2 and samples[0][1] == 0:
                    samples.pop(0)  # two real samples now: drop the bound
                samples.append((now, task.progress))
            if on_progress is not None and seen != (task.status, task.progress):
                on_progress(task)
            seen = (task.status, task.progress)
            if task.status is TaskStatus.COMPLETED:
                return task
            if task.status is TaskStatus.FAILED:
                raise TaskFailedError(task_id, task.error_code, task.error_message)
            if task.status is TaskStatus.CANCELLED:
                raise TaskCancelledError(task_id)
            delay = self._poll().next_delay(delay, samples)
            if deadline is not None:
                if now >= deadline:
                    raise TaskTimeoutError(task_id, now - started, str(last.status))
                delay = min(delay, deadline - now)
            await asyncio.sleep(delay)

    async def download(self, url: str, *, task_id: str | None = None) -> bytes:
        """The bytes of one result image; retries transient failures, checks completeness."""
        attempt = 0
        while True:
            try:
                response = await self._send("GET", url, idempotent=True, task_id=task_id)
            except ConnectionFailedError as exc:
                raise ImageDownloadError(exc.message, task_id=task_id, url=url) from None
            if response.status_code in (403, 404, 410):
                message, _ = _error_detail(response)
                raise ImageDownloadError(
                    f"image link for task {task_id or '?'} no longer works (HTTP "
                    f"{response.status_code}: {message}); result links expire after 24 h",
                    task_id=task_id,
                    url=url,
                )
            if not response.is_success:
                raise ImageDownloadError(
                    f"image download failed with HTTP {response.status_code}",
                    task_id=task_id,
                    url=url,
                )
            data = response.content
            expected = response.headers.get("content-length")
            # Content-Length counts bytes on the wire (before any gzip decoding).
            wire_sizes = (len(data), response.num_bytes_downloaded)
            complete = expected is None or int(expected) in wire_sizes
            if complete and sniff_image_format(data[:16]) is not None:
                return data
            if attempt >= self.max_retries:
                raise ImageDownloadError(
                    f"image for task {task_id or '?'} arrived incomplete or not as an image "
                    f"({len(data)} bytes) after {attempt + 1} tries",
                    task_id=task_id,
                    url=url,
                )
            await asyncio.sleep(self._backoff(attempt, None))
            attempt += 1

    async def download_all(self, task: Task) -> list[bytes]:
        """Every image of a completed task, fetched concurrently, in order."""
        return list(
            await asyncio.gather(*(self.download(u, task_id=task.task_id) for u in task.urls))
        )


class Client:
    """Synchronous facade: each call runs on the package's private event-loop thread.

    Works in plain scripts, inside Jupyter (whose loop is already running) and inside
    ``asyncio.run`` — nothing is patched.
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
    ) -> None:
        self.aio = AsyncClient(
            api_key,
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            poll=poll,
            transport=transport,
        )

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return _loop.run(coro)

    @property
    def base_url(self) -> str:
        return self.aio.base_url

    @property
    def simulated(self) -> bool:
        return self.aio.simulated

    def __repr__(self) -> str:
        return repr(self.aio).replace("AsyncClient", "Client", 1)

    def submit(self, request: GenerationRequest | None = None, /, **params: Any) -> Task:
        _loop.refuse_in_loop_thread("Client.submit")
        future = _loop.submit(self.aio.submit(request, **params))
        try:
            return future.result()
        except KeyboardInterrupt:
            # The POST may be on the wire: cancelling it could leave a billed task nobody
            # knows of. Let it finish, then cancel the task, as an interrupted Job does.
            self._settle_interrupted_submit(future)
            raise

    def _settle_interrupted_submit(self, future: concurrent.futures.Future[Task]) -> None:
        try:
            task = future.result(timeout=_SUBMIT_SETTLE_SECONDS)
        except KeyboardInterrupt:  # interrupted again: stop waiting for the answer
            future.cancel()
            raise KeyboardInterrupt(
                "interrupted twice while submitting: the task may exist; check "
                "sj.history() and the provider's console"
            ) from None
        except Exception:
            return  # it failed anyway: nothing was created
        try:
            self.cancel(task.task_id)
            outcome = f"task {task.task_id} was created and has been cancelled (refunded)"
        except SeedreamError:
            outcome = (
                f"task {task.task_id} was created and could not be cancelled (already "
                f"started); fetch it with client.wait({task.task_id!r})"
            )
        raise KeyboardInterrupt(f"interrupted while submitting: {outcome}") from None

    def get(self, task_id: str) -> Task:
        return self._run(self.aio.get(task_id))

    def cancel(self, task_id: str) -> Task:
        return self._run(self.aio.cancel(task_id))

    def wait(
        self,
        task_id: str,
        timeout: float | None = 300.0,
        on_progress: ProgressCallback | None = None,
    ) -> Task:
        return self._run(self.aio.wait(task_id, timeout=timeout, on_progress=on_progress))

    def download(self, url: str, *, task_id: str | None = None) -> bytes:
        return self._run(self.aio.download(url, task_id=task_id))

    def close(self) -> None:
        self._run(self.aio.aclose())

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
