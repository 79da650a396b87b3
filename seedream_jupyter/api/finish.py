"""From a completed task to a Result: every image downloaded and on disk before its link expires."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from ..client import AsyncClient, Timeout
from ..client.retry import Deadline
from ..request import GenerationRequest
from ..results import Result
from ..session import guarded, session
from ..store import Store
from ..task import ImageRef, Task


async def finish(
    task: Task,
    request: GenerationRequest,
    aio: AsyncClient,
    store: Store | None,
    *,
    simulated: bool,
    elapsed: float | None = None,
    timeout: Timeout = None,
) -> Result:
    """Download a completed task's images concurrently, each saved to disk as it arrives.

    One failed download costs no other image: the rest are on disk before it is raised.
    """
    deadline = Deadline.of(timeout)

    async def fetch(index: int, ref: ImageRef) -> tuple[bytes, Path | None]:
        data = await aio.download(ref.url, task_id=task.task_id, timeout=deadline)
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
        path = await asyncio.to_thread(guarded, f"saving image {index} of {task.task_id}", save)
        return data, path

    fetched = await asyncio.gather(
        *(fetch(i, ref) for i, ref in enumerate(task.images)), return_exceptions=True
    )
    if store is not None:
        recorded = session().write_history(
            f"recording completion of {task.task_id}", functools.partial(store.record_state, task)
        )
        await asyncio.wrap_future(recorded)
    saved: list[tuple[bytes, Path | None]] = []
    for outcome in fetched:
        if isinstance(outcome, BaseException):
            raise outcome
        saved.append(outcome)
    paths = [path for _, path in saved if path is not None]
    on_disk = len(paths) == len(saved)
    return Result(
        task,
        request,
        paths=paths if on_disk else None,
        # the files are the images; bytes are kept only when some file could not be written
        image_bytes=None if on_disk else [data for data, _ in saved],
        simulated=simulated,
        elapsed=elapsed,
    )
