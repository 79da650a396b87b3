"""``Client``: the synchronous facade over ``AsyncClient``.

Each call runs on the package's private event-loop thread (``_loop``), so it works in plain
scripts, inside Jupyter (whose loop is already running) and inside ``asyncio.run`` —
nothing is patched.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Coroutine
from typing import Any, Final, TypeVar

import httpx

from .. import _loop
from ..errors import SeedreamError
from ..request import GenerationRequest
from ..task import Task
from .aclient import DEFAULT_MAX_IMAGE_BYTES, AsyncClient, ProgressCallback, Timeout
from .polling import PollPolicy

T = TypeVar("T")
_SUBMIT_SETTLE_SECONDS: Final = 30.0  # how long an interrupted submit may still finish


class Client:
    """Synchronous client; ``client.aio`` is the ``AsyncClient`` underneath."""

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
        self.aio = AsyncClient(
            api_key,
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            poll=poll,
            transport=transport,
            simulated=simulated,
            max_image_bytes=max_image_bytes,
            allow_private_urls=allow_private_urls,
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

    def submit(
        self, request: GenerationRequest | None = None, /, *, timeout: Timeout = None, **params: Any
    ) -> Task:
        """Create a task; validated first. A Ctrl-C lets a POST on the wire finish, then
        cancels the task it created (a second Ctrl-C gives up)."""
        _loop.refuse_in_loop_thread("Client.submit")
        future = _loop.submit(self.aio.submit(request, timeout=timeout, **params))
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
        except SeedreamError as exc:
            if exc.maybe_submitted:  # it failed in a way that may still have created a task
                raise KeyboardInterrupt(
                    f"interrupted while submitting, and the submit then failed ({exc.message}): "
                    "the task may exist; check sj.history() and the provider's console"
                ) from None
            return  # refused before it could create anything
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

    def submit_and_wait(
        self,
        request: GenerationRequest | None = None,
        /,
        *,
        timeout: Timeout = 300.0,
        poll: bool = True,
        on_progress: ProgressCallback | None = None,
        **params: Any,
    ) -> Task:
        """``AsyncClient.submit_and_wait``: POST /v1/tasks/sync, then poll if still running.

        A Ctrl-C while the server holds the answer closes the connection: the task may
        exist and be billed, and its id never arrived (the error says so).
        """
        _loop.refuse_in_loop_thread("Client.submit_and_wait")
        future = _loop.submit(
            self.aio.submit_and_wait(
                request, timeout=timeout, poll=poll, on_progress=on_progress, **params
            )
        )
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise KeyboardInterrupt(
                "interrupted during a sync submit: the task may exist and be billed; check "
                "sj.history() and the provider's console"
            ) from None

    def get(self, task_id: str, *, timeout: Timeout = None) -> Task:
        return self._run(self.aio.get(task_id, timeout=timeout))

    def cancel(self, task_id: str, *, timeout: Timeout = None) -> Task:
        return self._run(self.aio.cancel(task_id, timeout=timeout))

    def wait(
        self,
        task_id: str,
        timeout: Timeout = 300.0,
        on_progress: ProgressCallback | None = None,
        *,
        just_submitted: bool = False,
        request: GenerationRequest | None = None,
    ) -> Task:
        return self._run(
            self.aio.wait(
                task_id,
                timeout=timeout,
                on_progress=on_progress,
                just_submitted=just_submitted,
                request=request,
            )
        )

    def download(self, url: str, *, task_id: str | None = None, timeout: Timeout = None) -> bytes:
        return self._run(self.aio.download(url, task_id=task_id, timeout=timeout))

    def close(self) -> None:
        self._run(self.aio.aclose())

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
