"""A job's submit, in the order that leaves a trace of every task the server may create:
budget check, write-ahead intent (its failure refuses the submit: nothing is sent), the POST,
then the intent turned into the task's row — or kept as "may be billed", or forgotten when the
submit provably created nothing."""

from __future__ import annotations

import functools

from ..client import AsyncClient
from ..client.http import MAY_EXIST
from ..errors import APIError, BudgetExceededError, HistoryError, SeedreamError
from ..request import GenerationRequest
from ..session import session
from ..store import ReusedTaskIdError, Store
from ..task import Task
from . import history_writes


def open_store() -> Store:
    """The session's history; ``HistoryError`` (naming the path and the fix) refuses the
    submit when it cannot be opened."""
    try:
        return session().store()
    except HistoryError as exc:
        raise exc.with_note(". Nothing was sent: a paid task would have left no trace") from None
    except Exception as exc:
        home = session().home
        raise HistoryError(
            f"the history at {home} could not be opened ({exc}). Nothing was sent: a paid "
            "task would have left no trace",
            path=home,
        ) from exc


def check_budget(store: Store | None, request: GenerationRequest, explicit: float | None) -> None:
    """``BudgetExceededError`` when this request could take the recorded spend (pending,
    lost and unconfirmed submits included) past the budget; nothing is sent."""
    limit = session().budget_usd(explicit)
    if limit is None:
        return
    if store is None:
        raise BudgetExceededError(
            "a spend budget is set but the history that counts spending is unavailable, "
            "so nothing was sent. Set SEEDREAM_HOME to a writable folder."
        )
    if not request.price_known:
        raise BudgetExceededError(
            f"{request.model} is not in the catalog and has no price, so the "
            f"${limit:.2f} budget cannot hold it; nothing was sent. Pass "
            "price_per_image_usd= (or %config SeedreamMagic.price_per_image_usd) to price it."
        )
    spent = store.spent_usd(simulated=False)
    cost = request.estimate_cost()
    if spent + cost > limit:
        left = max(0.0, limit - spent)
        raise BudgetExceededError(
            f"this request costs up to ${cost:.4f} but only ${left:.4f} of the "
            f"${limit:.2f} budget is left (spent ${spent:.4f}); nothing was sent"
        )


async def write_intent(store: Store, request: GenerationRequest, aio: AsyncClient) -> str:
    """The write-ahead row, before the POST; ``HistoryError`` refuses the submit."""

    def write() -> str:
        store.check_space()
        return store.record_intent(request, base_url=aio.base_url, simulated=aio.simulated)

    try:
        return await history_writes.required(write)
    except HistoryError as exc:
        raise exc.with_note(". Nothing was sent: a paid task would have left no trace") from None


async def settle_intent(store: Store, intent: str, exc: SeedreamError) -> None:
    """A submit that failed: may it have created a task? Then the intent stays, saying why;
    else (refused before sending, or by the server) it is forgotten."""
    if exc.maybe_submitted:
        write = functools.partial(store.mark_unconfirmed, intent, exc.message)
    else:
        write = functools.partial(store.drop_intent, intent)
    await history_writes.best_effort(f"recording the outcome of submit {intent}", write)


async def record_submitted(
    store: Store,
    task: Task,
    request: GenerationRequest,
    aio: AsyncClient,
    *,
    intent: str | None,
    simulated: bool,
) -> None:
    """The intent becomes the task's row; a reused task id is an error, never merged."""
    record = functools.partial(
        store.record_submitted,
        task,
        request,
        base_url=aio.base_url,
        simulated=simulated,
        intent_id=intent,
    )
    try:
        await history_writes.required(record)
    except ReusedTaskIdError as exc:
        error = APIError(exc.message + MAY_EXIST)
        error.maybe_submitted = True
        raise error from None
    except HistoryError as exc:
        history_writes.warn(
            f"task {task.task_id} was submitted (and may be billed) but could not be "
            f"recorded: {exc.message}; it stays in the history as an unconfirmed submit "
            "and its images will be kept in memory only: save them with res.save(dir)"
        )
