"""Experiments: ``sweep`` (a cartesian product), planned before anything is sent; the engine
of ``compare`` (``comparison``). ``Result.replay`` is connected here to ``helpers.run_request``.

Everything is planned before anything is sent (``plan_sweep`` / ``plan_compare`` give a
``SweepPlan``): every combination is validated; the ones a model cannot do are listed and
refused, or skipped with ``skip_invalid=True``; the total estimate is shown; above
``confirm_above_usd`` (default $1, ``%config SeedreamMagic.confirm_above_usd``) a billed run
needs ``confirm=True``. ``SweepPlan.run()`` then sends them with bounded concurrency.

    s = sj.sweep("a {animal} in {style} style", animal=["fox", "owl"], style=["ink", "oil"],
                 seed=7)
    s.grid(rows="animal", cols="style")
    c = sj.compare("a lighthouse", models=["4.0", "4.5", "5.0-lite"], resolution="4K")
"""

from __future__ import annotations

import itertools
import logging
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .. import catalog
from ..client import Client
from ..errors import ValidationError
from ..request import GenerationRequest
from ..results import Combination, Sweep, connect
from ..session import ProgressView, session
from .build import (
    REQUEST_FIELDS,
    RUN_OPTIONS,
    UNSET,
    build_request,
    check_concurrency,
    resolve_cache,
    resolve_timeout,
    resolve_wait,
)
from .helpers import run_request
from .job import JobListener
from .many import check_cost, run_all, warn_failures
from .waiting import say_if_simulated

logger = logging.getLogger("seedream_jupyter")
Axes = str | Sequence[str] | None
Adjust = Callable[[dict[str, Any]], tuple[dict[str, Any], tuple[str, ...]]]
# not request fields, but build_request takes them
_BUILD_ONLY: Final = frozenset({"images", "group_size"})


def _template_fields(template: str) -> list[str]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValidationError(
            "template", template, f"{exc}; write {{{{ }}}} for literal braces"
        ) from None
    names = []
    for _literal, name, _spec, _conversion in parsed:
        if name is None:
            continue
        head = name.split(".")[0].split("[")[0]
        if not head or head.isdigit():
            raise ValidationError(
                "template",
                template,
                "name every field ({style}) and write {{ }} for literal braces",
            )
        names.append(head)
    return names


def _is_axis(name: str, value: object) -> bool:
    """A list is an axis; a list of images is one set of references (a list of lists sweeps)."""
    if not isinstance(value, (list, tuple, range)):
        return False
    if name == "images":
        return bool(value) and all(isinstance(i, (list, tuple)) for i in value)
    return True


@dataclass
class SweepPlan:
    """What a sweep will send, checked and priced; ``run()`` sends it."""

    template: str
    axes: dict[str, list[Any]]
    combinations: list[Combination]
    rows: Axes = None
    cols: Axes = None
    kind: str = "sweep"
    concurrency: int = 4
    timeout: float | None = None
    client: Client | None = None
    cache: bool = True
    wait: str = "poll"
    notes: list[str] = field(default_factory=list)

    @property
    def requests(self) -> list[GenerationRequest]:
        return [c.request for c in self.combinations if c.request is not None]

    @property
    def estimate_usd(self) -> float:
        return round(sum(r.estimate_cost() for r in self.requests), 6)

    @property
    def images(self) -> int:
        return sum(r.output_count for r in self.requests)

    @property
    def simulated(self) -> bool:
        return self.client.simulated if self.client is not None else session().target().simulated

    @property
    def needs_confirmation(self) -> bool:
        limit = session().get("confirm_above_usd")
        return not self.simulated and limit is not None and self.estimate_usd > float(limit)

    def describe(self) -> str:
        """One line: how many requests and images, and what they cost (said before sending)."""
        skipped = [c for c in self.combinations if c.skipped]
        kind = "compare" if self.kind == "compare" else "sweep"
        text = (
            f"{kind}: {len(self.requests)} request(s), up to {self.images} image(s), "
            f"≈ {catalog.format_usd(self.estimate_usd)}"
        )
        if self.simulated:
            text += " if billed (simulator: no cost)"
        if skipped:
            text += f"; {len(skipped)} skipped: " + "; ".join(
                f"{c.label}: {c.skipped}" for c in skipped
            )
        notes = list(dict.fromkeys(n for c in self.combinations for n in c.notes))
        if notes:
            text += "; " + "; ".join(notes)
        return text

    def run(
        self,
        *,
        confirm: bool = False,
        on_job: JobListener | None = None,
        show_progress: bool = True,
        announce: bool = True,
        view: ProgressView | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> Sweep:
        """Check the cost, say it, send every request, and return the Sweep.

        ``view``: the progress view to feed (default: the front-end's live grid); a view with
        a ``finish(sweep)`` is handed the Sweep at the end. ``stop()`` true: no other request
        is started (see ``many.run_all``)."""
        requests = self.requests
        check_cost(requests, confirm=confirm, client=self.client)
        if announce:
            session().notice(self.describe())
        positions = [i for i, c in enumerate(self.combinations) if c.request is not None]
        if view is None and show_progress:
            view = self._live_view()
        outcomes, shown = run_all(
            requests,
            concurrency=self.concurrency,
            timeout=self.timeout,
            client=self.client,
            cache=self.cache,
            wait=self.wait,
            on_job=on_job,
            title=f"{self.kind} of {len(requests)}",
            show_progress=show_progress,
            view=view,
            stop=stop,
        )
        by_combination = {positions[i]: outcome for i, outcome in outcomes.items()}
        result = Sweep(
            self.template,
            self.axes,
            self.combinations,
            by_combination,
            rows=self.rows,
            cols=self.cols,
            kind=self.kind,
        )
        warn_failures(result.failures, len(requests))
        if not shown:
            say_if_simulated(result, None)
        finish = getattr(view, "finish", None)
        if callable(finish):
            try:
                finish(result)  # the live grid becomes the labelled sheet
            except Exception:
                logger.exception("the sweep's grid view failed")
        return result

    def _live_view(self) -> ProgressView | None:
        """The front-end's live grid for a sweep, if it has one (a notebook does)."""
        maker = getattr(session().frontend(), "sweep_progress", None)
        if not callable(maker):
            return None
        try:
            view: ProgressView | None = maker(self)
        except Exception:
            logger.exception("the sweep's grid view failed to start")
            return None
        return view


def plan_sweep(
    template: str,
    *,
    rows: Axes = None,
    cols: Axes = None,
    concurrency: int = 4,
    skip_invalid: bool = False,
    adjust: Adjust | None = None,
    kind: str = "sweep",
    **axes: Any,
) -> SweepPlan:
    """Every combination of the list-valued ``axes``, validated (see ``sweep``); nothing sent."""
    check_concurrency(concurrency)
    options = {k: axes.pop(k) for k in RUN_OPTIONS if k in axes}
    fields = _template_fields(template)
    for name in axes:
        if name not in REQUEST_FIELDS and name not in _BUILD_ONLY and name not in fields:
            raise ValidationError(
                name,
                axes[name],
                f"neither a request field nor a {{{name}}} in the template; add {{{name}}} "
                f"to the template or use one of {', '.join(sorted(REQUEST_FIELDS))}",
            )
    missing = [f for f in fields if f not in axes]
    if missing:
        raise ValidationError("template", template, f"no value for {{{missing[0]}}}")
    varying = {k: list(v) for k, v in axes.items() if _is_axis(k, v)}
    for name, listed in varying.items():
        if not listed:
            raise ValidationError(name, listed, "an axis needs at least one value")
    fixed = {k: v for k, v in axes.items() if k not in varying}
    combinations: list[Combination] = []
    invalid: list[str] = []
    indices = itertools.product(*(range(len(v)) for v in varying.values()))
    for position in indices if varying else [()]:
        values = {name: varying[name][i] for name, i in zip(varying, position)}
        merged = {**fixed, **values}
        words = {k: v for k, v in merged.items() if k in fields}
        params = {k: v for k, v in merged.items() if k not in fields}
        prompt = template.format(**words)
        label = ", ".join(f"{k}={_short(v)}" for k, v in values.items()) or prompt[:40]
        notes: tuple[str, ...] = ()
        skipped: str | None = None
        request: GenerationRequest | None = None
        try:
            if adjust is not None:
                params, notes = adjust(params)
            request = build_request(prompt, **params)
        except ValidationError as exc:
            reason = f"{exc.field}={exc.value!r}: {exc.allowed}"
            invalid.append(f"{label}: {reason}")
            skipped = reason
        where = dict(zip(varying, position))
        combinations.append(Combination(values, where, label, request, skipped, notes))
    if invalid and (not skip_invalid or len(invalid) == len(combinations)):
        listing = "; ".join(invalid[:10]) + (
            f"; … {len(invalid) - 10} more" if len(invalid) > 10 else ""
        )
        fix = "" if skip_invalid else "; pass skip_invalid=True to skip them"
        raise ValidationError(
            "combinations", f"{len(invalid)} of {len(combinations)}", f"{listing}{fix}"
        )
    return SweepPlan(
        template=template,
        axes=varying,
        combinations=combinations,
        rows=rows,
        cols=cols,
        kind=kind,
        concurrency=concurrency,
        timeout=resolve_timeout(options.get("timeout", UNSET)),
        client=options.get("client"),
        cache=resolve_cache(options.get("cache", UNSET)),
        wait=resolve_wait(options.get("wait", UNSET)),
    )


def _short(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return f"[{len(value)} images]"
    return str(value)


def sweep(
    template: str,
    *,
    rows: Axes = None,
    cols: Axes = None,
    concurrency: int = 4,
    skip_invalid: bool = False,
    confirm: bool = False,
    **axes: Any,
) -> Sweep:
    """The cartesian product of the list-valued ``axes``, as a labelled comparison set.

    Axes named like request fields (model, seed, aspect_ratio, resolution, n, ...) set
    parameters; any other name fills ``{name}`` in the template. Non-list values are fixed,
    and so is ``images`` (one set of references for every combination; a list of lists
    sweeps over sets). ``rows`` / ``cols`` name the axes of ``grid()``'s rows and columns.
    Also ``timeout``, ``client``, ``cache`` and ``wait`` as for ``generate``.

    >>> s = sweep("a {animal}, {style} style", animal=["fox", "owl"], style=["ink", "oil"])
    >>> s.grid(rows="animal", cols="style")
    """
    plan = plan_sweep(
        template,
        rows=rows,
        cols=cols,
        concurrency=concurrency,
        skip_invalid=skip_invalid,
        **axes,
    )
    return plan.run(confirm=confirm)


_INT_FIELDS: Final = frozenset({"seed", "n", "max_images", "group_size"})


def parse_axes(specs: str | Sequence[str]) -> dict[str, list[Any]]:
    """``["style=ink,oil", "seed=1,2"]`` (or one text of them split by ``;`` or lines) as
    ``{"style": ["ink", "oil"], "seed": [1, 2]}``; whole numbers for seed, n, max_images."""
    items = [
        part
        for text in ([specs] if isinstance(specs, str) else specs)
        for part in text.replace("\n", ";").split(";")
    ]
    axes: dict[str, list[Any]] = {}
    for item in (i.strip() for i in items):
        if not item:
            continue
        name, sep, listed = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ValidationError("vary", item, "write NAME=V1,V2 (e.g. style=ink,watercolor)")
        if name in axes:
            raise ValidationError("vary", name, "name each axis once")
        values: list[Any] = [v.strip() for v in listed.split(",")]
        if not all(values):
            raise ValidationError("vary", item, "give values separated by commas, none empty")
        if name in _INT_FIELDS:
            try:
                values = [int(v) for v in values]
            except ValueError:
                raise ValidationError(name, listed, "whole numbers, separated by commas") from None
        axes[name] = values
    return axes


# A Result rates into the session's history and replays through the helpers.
connect(
    store=lambda: session().store(),
    replay=lambda request, cache: run_request(request, cache=cache),
)
