"""Many generations at once: ``batch`` (bounded concurrency) and ``sweep`` (a cartesian product).

Every request is validated before the first is sent; failures do not stop the others and are
kept, one per request, in ``ResultSet.failures``.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .. import _loop
from ..client import Client
from ..errors import ValidationError
from ..request import GenerationRequest
from ..results import Result, ResultSet
from ..session import session
from .build import (
    REQUEST_FIELDS,
    UNSET,
    Unset,
    as_request,
    build_request,
    check_concurrency,
    resolve_cache,
    resolve_timeout,
    resolve_wait,
)
from .helpers import start
from .job import Job, JobListener
from .waiting import refresh, say_if_simulated, user_stacklevel, wait_first

RequestLike = GenerationRequest | str | Mapping[str, Any]


def _unique(labels: Sequence[str]) -> list[str]:
    """The labels, a repeated one numbered (``fox``, ``fox #2``), so no outcome hides another."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def batch(
    requests: Iterable[RequestLike],
    *,
    concurrency: int = 4,
    timeout: float | Unset | None = UNSET,
    client: Client | None = None,
    cache: bool | Unset = UNSET,
    labels: Sequence[str] | None = None,
    on_job: JobListener | None = None,
    wait: str | Unset = UNSET,
) -> ResultSet:
    """Run many requests with at most ``concurrency`` in flight; all validated before any is sent.

    Failures do not stop the others: they are listed in ``ResultSet.failures``. Each item is
    a prompt, a ``GenerationRequest`` or a dict of helper keywords (``extra``,
    ``optimize_prompt``, ``callback_url``... included); ``wait="sync"`` submits each with
    POST /v1/tasks/sync.
    """
    check_concurrency(concurrency)
    seconds, use_cache = resolve_timeout(timeout), resolve_cache(cache)
    wait_mode = resolve_wait(wait)
    prepared = [as_request(item) for item in requests]
    if labels is not None and len(labels) != len(prepared):
        raise ValidationError(
            "labels", f"{len(labels)} labels", f"give one label per request ({len(prepared)})"
        )
    names = _unique(list(labels) if labels is not None else [r.prompt[:40] for r in prepared])
    _loop.refuse_in_loop_thread("sj.batch / sj.sweep")
    pending = list(enumerate(prepared))
    running: dict[concurrent.futures.Future[Result], tuple[int, Job]] = {}
    outcomes: dict[int, Result | BaseException] = {}
    view = session().progress(f"batch of {len(prepared)}")
    try:
        while pending or running:
            while pending and len(running) < concurrency:
                index, request = pending.pop(0)
                job = start(
                    request, client=client, timeout=seconds, cache=use_cache, wait=wait_mode
                )
                if view is not None:
                    view.add(job)
                if on_job is not None:
                    on_job(job)
                running[job.future] = (index, job)
            for future in wait_first(running, view):
                index, _job = running.pop(future)
                error = future.exception()
                outcomes[index] = error if error is not None else future.result()
    except KeyboardInterrupt:
        for _index, job in running.values():
            job.cancel()
        raise
    finally:
        refresh(view, final=True)
    done = [i for i in range(len(prepared)) if isinstance(outcomes.get(i), Result)]
    results: list[Result] = [outcome for i in done if isinstance(outcome := outcomes[i], Result)]
    result_set = ResultSet(results, [names[i] for i in done])
    result_set.failures = {
        names[i]: error for i, error in sorted(outcomes.items()) if not isinstance(error, Result)
    }
    if result_set.failures:
        listing = "; ".join(f"{k}: {v}" for k, v in result_set.failures.items())
        warnings.warn(
            f"{len(result_set.failures)} of {len(prepared)} failed: {listing}",
            stacklevel=user_stacklevel(),
        )
    say_if_simulated(result_set, view)
    return result_set


def sweep(prompt_template: str, *, concurrency: int = 4, **axes: Any) -> ResultSet:
    """The cartesian product over the given axes, as a labelled comparison set.

    Axes named like request fields (model, seed, aspect_ratio, ...) set parameters;
    any other name fills ``{name}`` in the template. Non-list values are fixed, and so is
    ``images`` (one set of reference images for every combination).

    >>> s = sweep("a {animal}, {style} style", animal=["fox", "owl"], style=["ink", "oil"], seed=7)
    >>> s.grid(columns=2)
    """
    options = {k: axes.pop(k) for k in ("timeout", "client", "cache", "wait") if k in axes}
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
            if k not in REQUEST_FIELDS and k not in ("images", "group_size")
        }
        params = {k: v for k, v in values.items() if k not in template_vars}
        try:
            prompt = prompt_template.format(**template_vars)
        except KeyError as exc:
            raise ValidationError(
                "prompt_template", prompt_template, f"no value for {{{exc.args[0]}}}"
            ) from None
        except (IndexError, ValueError) as exc:
            raise ValidationError(
                "prompt_template",
                prompt_template,
                f"{exc}; name every field ({{style}}) and write {{{{ }}}} for literal braces",
            ) from None
        requests.append(build_request(prompt, **params))
        labels.append(", ".join(f"{k}={v}" for k, v in zip(varying, combo)) or prompt[:40])
    return batch(requests, concurrency=concurrency, labels=labels, **options)
