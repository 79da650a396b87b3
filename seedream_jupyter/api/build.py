"""From helper arguments to a validated request, with the session's defaults filled in.

Everything here runs before anything is sent: a bad argument is a ``ValidationError`` that
names it, never a half-paid surprise.
"""

from __future__ import annotations

import enum
import math
import warnings
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, Final

from .. import catalog
from ..errors import ValidationError
from ..images import to_image_urls
from ..request import GenerationRequest
from ..session import session
from . import inputs
from .waiting import user_stacklevel


class Unset(enum.Enum):
    """A keyword the caller did not give: the session's setting applies."""

    UNSET = "(the session's setting)"

    def __repr__(self) -> str:
        return self.value


UNSET: Final = Unset.UNSET
REQUEST_FIELDS: Final = frozenset(f.name for f in fields(GenerationRequest))
# The fields whose default is a session setting (``%config SeedreamMagic.<name>``).
_SESSION_DEFAULTS: Final = ("model", "aspect_ratio", "resolution", "watermark")
WAIT_MODES: Final = catalog.WAIT_MODES
# What a helper call takes besides request fields; they go to the Job, not into the request.
RUN_OPTIONS: Final = ("timeout", "client", "cache", "wait")


def build_request(
    prompt: str,
    *,
    model: str | None = None,
    images: object = None,
    group_size: int | None = None,
    warn: bool = True,
    **params: Any,
) -> GenerationRequest:
    """A validated request from helper arguments (images of any accepted kind, a Result
    among them: its images; an input from a task names it as the request's parent).

    ``warn``: say what is sent anyway (an id the catalog does not know, a limit only
    upstream states) as a ``UserWarning``; callers that show ``request.warnings()``
    themselves (the panel) pass False.
    """
    session().target()  # reads (and so registers) the key: it is refused in any request field
    unknown = set(params) - REQUEST_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(
            name, params[name], f"unknown parameter; use {', '.join(sorted(REQUEST_FIELDS))}"
        )
    clean = {k: v for k, v in params.items() if v is not None}
    clean["model"] = model
    for name in _SESSION_DEFAULTS:
        clean[name] = session().get(name, clean.get(name))
    if group_size is not None:
        clean["max_images"] = group_size
    _whole_api_defaults(clean)
    clean.setdefault("parent_task_id", inputs.parent_of(images))
    request = GenerationRequest(
        prompt=prompt, image_urls=to_image_urls(inputs.flatten(images)), **clean
    )
    if warn:
        for warning in request.warnings():
            warnings.warn(warning, stacklevel=user_stacklevel())
    return request


def _whole_api_defaults(clean: dict[str, Any]) -> None:
    """Session settings for strictness, placement and the price of unknown ids."""
    clean["strict"] = session().get("strict_models", clean.get("strict"))
    clean["upstream_placement"] = session().get(
        "upstream_placement", clean.get("upstream_placement")
    )
    model = clean.get("model")
    unknown_id = isinstance(model, str) and catalog.find_model(model) is None
    if unknown_id and clean.get("price_per_image_usd") is None:
        clean["price_per_image_usd"] = session().get("price_per_image_usd")


def needs_references(action: str, model: str | None = None) -> bool:
    """True when ``action`` takes at least one reference image on ``model`` (the session's
    model when None; the default model's rules for an id the catalog does not know)."""
    spec = catalog.find_model(model or str(session().get("model")))
    spec = spec or catalog.MODELS[catalog.DEFAULT_MODEL]
    return spec.reference_range(action.strip().lower())[0] > 0


def resolve_wait(value: str | Unset) -> str:
    """``poll`` or ``sync`` (the session's ``wait`` setting when unset); checked before sending."""
    if value is UNSET:
        value = session().get("wait")
    if value not in WAIT_MODES:
        raise ValidationError(
            "wait",
            value,
            "'poll' (submit, then poll) or 'sync' (POST /v1/tasks/sync: the server answers "
            "when the task ends)",
        )
    return str(value)


def resolve_timeout(value: float | Unset | None) -> float | None:
    """Seconds the whole generation may take (None: no limit); checked before sending."""
    if value is UNSET:
        value = session().get("timeout")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError("timeout", value, "seconds as a number, or None for no limit")
    if not value > 0 or math.isnan(value):
        raise ValidationError(
            "timeout", value, "a positive number of seconds, or None for no limit"
        )
    return None if math.isinf(value) else float(value)


def resolve_cache(value: bool | Unset) -> bool:
    if value is UNSET:
        return bool(session().get("cache"))
    if not isinstance(value, bool):
        raise ValidationError("cache", value, "True or False")
    return value


def check_concurrency(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("concurrency", value, "a whole number, at least 1")
    return value


def as_request(item: GenerationRequest | str | Mapping[str, Any]) -> GenerationRequest:
    """A batch item (a request, a prompt, or a dict of helper keywords) as a request."""
    if isinstance(item, GenerationRequest):
        return item
    if isinstance(item, str):
        return build_request(item)
    if not isinstance(item, Mapping):
        raise ValidationError(
            "requests", type(item).__name__, "each item is a prompt, a dict or a GenerationRequest"
        )
    params = dict(item)
    prompt = params.pop("prompt", None)
    if not isinstance(prompt, str):
        raise ValidationError("prompt", prompt, "each batch item needs a 'prompt'")
    return build_request(prompt, **params)
