"""Many generations at once: ``batch`` (bounded concurrency); ``run_all`` is its engine, which
``sweep`` and ``compare`` (``experiments``) use too.

Every request is validated before the first is sent; failures do not stop the others and are
kept, one per request, in ``ResultSet.failures``. Above ``confirm_above_usd`` a billed batch
needs ``confirm=True`` (``check_cost``).
"""

from __future__ import annotations

import concurrent.futures
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .. import _loop
from ..client import Client
from ..errors import NOT_SUBMITTED, ConfirmationRequiredError, TaskCancelledError, ValidationError
from ..request import GenerationRequest
from ..results import Result, ResultSet
from ..session import ProgressView, session
from .build import (
    UNSET,
    Unset,
    as_request,
    check_concurrency,
    resolve_cache,
    resolve_timeout,
    resolve_wait,
)
from .helpers import start
from .job import Job, JobListener
from .waiting import TICK_SECONDS, refresh, say_if_simulated, user_stacklevel

RequestLike = GenerationRequest | str | Mapping[str, Any]


def _unique(labels: Sequence[str]) -> list[str]:
    """The labels, a repeated one numbered (``fox``, ``fox #2``), so no outcome hides another."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def check_cost(
    requests: Sequence[GenerationRequest], *, confirm: bool, client: Client | None
) -> float:
    """The estimated total; above ``confirm_above_usd`` a billed run needs ``confirm=True``.

    Simulated runs are free and never need it; a client whose server has not answered yet
    counts as billed.
    """
    total = round(sum(r.estimate_cost() for r in requests), 6)
    limit = session().get("confirm_above_usd")
    simulated = client.simulated if client is not None else session().target().simulated
    if not confirm and not simulated and limit is not None and total > float(limit):
        images = sum(r.output_count for r in requests)
        raise ConfirmationRequiredError(total, float(limit), images)
    return total


def run_all(
    prepared: Sequence[GenerationRequest],
    *,
    concurrency: int = 4,
    timeout: float | None = None,
    client: Client | None = None,
    cache: bool = True,
    on_job: JobListener | None = None,
    title: str | None = None,
    show_progress: bool = True,
    view: ProgressView | None = None,
    wait: str = "poll",
    stop: Callable[[], bool] | None = None,
) -> tuple[dict[int, Result | BaseException], bool]:
    """Run validated requests with at most ``concurrency`` on the server at once (a finished
    task's downloads hold no slot): the outcome of each, by position, and whether a progress
    view showed them (it then said SIMULATED already).
    An interrupt cancels (or detaches) the jobs in flight and propagates. Once ``stop()`` is
    true no other request is started (each is a ``TaskCancelledError``: nothing was sent)."""
    _loop.refuse_in_loop_thread("sj.batch / sj.sweep")
    pending = list(enumerate(prepared))
    running: dict[concurrent.futures.Future[Result], tuple[int, Job]] = {}
    outcomes: dict[int, Result | BaseException] = {}
    changed = threading.Event()  # a job changed state or ended: count the slots again
    if view is None and show_progress:
        view = session().progress(title or f"batch of {len(prepared)}")
    try:
        while pending or running:
            if stop is not None and stop():
                outcomes.update((index, TaskCancelledError(NOT_SUBMITTED)) for index, _ in pending)
                pending.clear()
            # A task whose images are downloading frees its slot: the next one is submitted
            # the moment the server is done, as the server's own queue would.
            on_server = sum(1 for _i, job in running.values() if job.state.on_server)
            while pending and on_server < concurrency:
                index, request = pending.pop(0)
                job = start(request, client=client, timeout=timeout, cache=cache, wait=wait)
                job.subscribe(lambda _job: changed.set())
                job.future.add_done_callback(lambda _future: changed.set())
                if view is not None:
                    view.add(job)
                if on_job is not None:
                    on_job(job)
                running[job.future] = (index, job)
                on_server += 1
            changed.wait(TICK_SECONDS if view is not None else None)
            changed.clear()
            refresh(view)
            for future in [f for f in running if f.done()]:
                index, _job = running.pop(future)
                error = future.exception()
                outcomes[index] = error if error is not None else future.result()
    except KeyboardInterrupt:
        for _index, job in running.values():
            job.cancel()
        raise
    finally:
        refresh(view, final=True)
    return outcomes, view is not None


def warn_failures(failures: Mapping[str, BaseException], total: int) -> None:
    if failures:
        listing = "; ".join(f"{k}: {v}" for k, v in failures.items())
        warnings.warn(
            f"{len(failures)} of {total} failed: {listing}",
            stacklevel=user_stacklevel(),
        )


def batch(
    requests: Iterable[RequestLike],
    *,
    concurrency: int = 4,
    timeout: float | Unset | None = UNSET,
    client: Client | None = None,
    cache: bool | Unset = UNSET,
    labels: Sequence[str] | None = None,
    on_job: JobListener | None = None,
    confirm: bool = False,
    wait: str | Unset = UNSET,
) -> ResultSet:
    """Run many requests with at most ``concurrency`` in flight; all validated before any is sent.

    Failures do not stop the others: they are listed in ``ResultSet.failures``. Each item is
    a prompt, a ``GenerationRequest`` or a dict of helper keywords (``extra``,
    ``optimize_prompt``, ``callback_url``... included); ``wait="sync"`` submits each with
    POST /v1/tasks/sync. A billed batch estimated above ``confirm_above_usd`` (default $1)
    needs ``confirm=True``.
    """
    check_concurrency(concurrency)
    if isinstance(requests, (str, bytes, Mapping, GenerationRequest)):  # iterable, but one item
        raise ValidationError(
            "requests",
            requests if not isinstance(requests, str) else requests[:60],
            "a list of requests (prompts, dicts or GenerationRequests); for one, use "
            "sj.generate, or wrap it in a list",
        )
    seconds, use_cache = resolve_timeout(timeout), resolve_cache(cache)
    wait_mode = resolve_wait(wait)
    prepared = [as_request(item) for item in requests]
    if labels is not None and len(labels) != len(prepared):
        raise ValidationError(
            "labels", f"{len(labels)} labels", f"give one label per request ({len(prepared)})"
        )
    names = _unique(list(labels) if labels is not None else [r.prompt[:40] for r in prepared])
    check_cost(prepared, confirm=confirm, client=client)
    outcomes, shown = run_all(
        prepared,
        concurrency=concurrency,
        timeout=seconds,
        client=client,
        cache=use_cache,
        on_job=on_job,
        wait=wait_mode,
    )
    done = [i for i in range(len(prepared)) if isinstance(outcomes.get(i), Result)]
    results: list[Result] = [outcome for i in done if isinstance(outcome := outcomes[i], Result)]
    result_set = ResultSet(results, [names[i] for i in done])
    result_set.failures = {
        names[i]: error for i, error in sorted(outcomes.items()) if not isinstance(error, Result)
    }
    warn_failures(result_set.failures, len(prepared))
    if not shown:
        say_if_simulated(result_set, None)
    return result_set
