"""From a completed task to a Result: every image downloaded, checked and on disk before its
link expires.

What the server returned is not trusted: images beyond what was asked are not kept (a
warning says so; billing counts what was asked, ``store.billing``), a completion with no image
is a ``TaskFailedError`` (``no_images``, billed nothing), and an image that is a decompression
bomb or does not decode is refused (``ImageRefusedError``, recorded so that no resume fetches
it again) while the task's other images are saved.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import warnings
from pathlib import Path

from .. import images
from ..client import AsyncClient, Timeout
from ..client.retry import Deadline
from ..errors import HistoryError, ImageRefusedError, TaskFailedError
from ..request import GenerationRequest
from ..results import Result
from ..store import Store, kept_images
from ..store.billing import NO_IMAGES_CODE, NO_IMAGES_MESSAGE
from ..task import ImageRef, Task
from . import history_writes


class SurplusImagesWarning(UserWarning):
    """The server returned more images than were asked for; only those asked for are kept."""


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
    """Download a completed task's images concurrently, each checked and saved as it arrives.

    One failed or refused image costs no other: the rest are on disk before it is raised.
    """
    deadline = Deadline.of(timeout)
    kept, surplus = kept_images(task.images, request.output_count)
    if surplus is not None:
        warnings.warn(f"task {task.task_id}: {surplus}", SurplusImagesWarning, stacklevel=2)
    if store is not None:  # links on record first: a failed download can be fetched later
        await history_writes.best_effort(
            f"recording completion of {task.task_id}", functools.partial(store.record_state, task)
        )
    if not kept:
        raise TaskFailedError(task.task_id, NO_IMAGES_CODE, NO_IMAGES_MESSAGE)
    task = dataclasses.replace(task, images=kept)

    async def fetch(index: int, ref: ImageRef) -> tuple[bytes, Path | None]:
        data = await aio.download(ref.url, task_id=task.task_id, timeout=deadline)
        try:
            await asyncio.to_thread(images.check_result, data)
        except ValueError as exc:  # a bomb or undecodable bytes: never saved, never shown
            reason = f"image {index + 1} of task {task.task_id} was refused: {exc}"
            if store is not None:
                refuse = functools.partial(
                    store.refuse_image,
                    task.task_id,
                    index,
                    reason,
                    url=ref.url,
                    expires_at=ref.expires_at,
                )
                await history_writes.best_effort(f"recording {reason}", refuse)
            raise ImageRefusedError(reason, task_id=task.task_id, url=ref.url) from None
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
        try:
            path = await history_writes.required(save)
        except HistoryError as exc:
            history_writes.warn(
                f"image {index + 1} of task {task.task_id} could not be saved ({exc.message}); "
                "it is kept in memory only: save it with res.save(dir)"
            )
            return data, None
        return data, path

    fetched = await asyncio.gather(
        *(fetch(i, ref) for i, ref in enumerate(task.images)), return_exceptions=True
    )
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
