"""The one retry engine: one attempt counter and one total deadline per call.

Every HTTP call of the client goes through ``with_retries``. An attempt either returns, raises
its final error, or raises ``Retry`` carrying the error to raise when no try is left (and the
server's ``Retry-After``, if any). Waits between tries never outlast the caller's deadline: a
``Retry-After`` longer than what is left (or than ``MAX_WAIT_SECONDS``) raises at once, naming
the wait.

Why not ``stamina``: its total timeout is checked after a wait, not before it, so a
``Retry-After: 1000000000`` would still be slept on; the deadline here is shared by a job's
submit, polls and downloads, which a per-block retry context cannot express; and the whole
engine is smaller than the glue stamina would need around it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from ..errors import SeedreamError, ValidationError

T = TypeVar("T")

# A server asking for longer than this is not coming back soon: tell the user at once.
MAX_WAIT_SECONDS: Final = 60.0
# Full-jitter backoff: 0.25 s doubling to 8 s spreads clients apart without stalling one.
BACKOFF_BASE_SECONDS: Final = 0.25
BACKOFF_CAP_SECONDS: Final = 8.0


class DeadlineExceeded(Exception):
    """The caller's time ran out (callers turn it into the error that fits their call)."""


class Deadline:
    """One time budget shared by every attempt, backoff and poll of a call."""

    __slots__ = ("at", "seconds")

    def __init__(self, seconds: float | None) -> None:
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds != seconds
        ):
            raise ValidationError("timeout", seconds, "seconds as a number, or None for no limit")
        self.seconds = seconds
        self.at = None if seconds is None else time.monotonic() + max(0.0, seconds)

    @classmethod
    def of(cls, value: Deadline | float | None) -> Deadline:
        return value if isinstance(value, Deadline) else cls(value)

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None for no limit."""
        return None if self.at is None else max(0.0, self.at - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at

    async def run(self, work: Awaitable[T]) -> T:
        """Await ``work`` within the time left; ``DeadlineExceeded`` when it runs out."""
        left = self.remaining()
        if left is None:
            return await work
        try:
            return await asyncio.wait_for(work, left)
        except asyncio.TimeoutError:
            raise DeadlineExceeded from None

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or until the deadline if that comes first."""
        left = self.remaining()
        await asyncio.sleep(seconds if left is None else min(seconds, left))


class Retry(Exception):
    """An attempt failed in a way another try may fix; ``error`` is raised when none is left."""

    def __init__(self, error: SeedreamError, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


def backoff(tries: int) -> float:
    return random.uniform(0.0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**tries))


def delay(tries: int, retry_after: float | None) -> float:
    """The wait before try ``tries + 1``: the server's ``Retry-After``, else full jitter."""
    return retry_after if retry_after is not None else backoff(tries)


async def with_retries(
    attempt: Callable[[], Awaitable[T]], *, retries: int, deadline: Deadline
) -> T:
    """``attempt()`` until it succeeds, at most ``retries`` more times, all within ``deadline``."""
    tries = 0
    while True:
        try:
            return await deadline.run(attempt())
        except Retry as again:
            if tries >= retries:
                raise again.error from None
            wait = delay(tries, again.retry_after)
            left = deadline.remaining()
            if again.retry_after is not None and wait > MAX_WAIT_SECONDS:
                raise again.error.with_note(
                    f" (the server asks to wait {wait:g} s before retrying; not waiting that long)"
                ) from None
            if left is not None and wait >= left:
                raise again.error.with_note(
                    f" (a retry would wait {wait:.3g} s, but only {left:.3g} s of the timeout "
                    "is left)"
                ) from None
            await asyncio.sleep(wait)
            tries += 1
