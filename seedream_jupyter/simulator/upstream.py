"""Seedream options the gateway forwards upstream, in either placement.

The gateway may pass upstream options as an ``extra`` object in the body or as top-level keys
(``optimize_prompt_options``, ``tools``, ``response_format``, ``stream``, ...). Both are
accepted and reported (name, value, placement) for tests; the known ones are checked. An
``extra`` key may never set a field the checker validates at the top level (``seed``,
``model``, ...): that is a 400 naming the field, so a client cannot smuggle past validation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from ..catalog import ModelSpec
from .uploads import shorten
from .wire import ApiFailure

EXTRA: Final = "extra"
# Fields the checker validates at the top level; ``extra`` must not carry them.
VALIDATED_FIELDS: Final = (
    "model",
    "prompt",
    "action",
    "n",
    "seed",
    "aspect_ratio",
    "resolution",
    "image_urls",
    "watermark",
    "output_format",
    "sequential_image_generation",
    "sequential_image_generation_options",
    "callback_url",
)
WEB_SEARCH_MODELS: Final = ("doubao-seedream-5.0-lite",)
PROMPT_MODES: Final = ("standard", "fast")
RESPONSE_FORMATS: Final = ("url", "b64_json")


@dataclass(frozen=True)
class UpstreamOption:
    """One upstream option received: its value and where it was (``extra`` / ``top-level``)."""

    name: str
    value: Any
    placement: str


def _invalid(field: str, message: str) -> ApiFailure:
    return ApiFailure(400, "invalid_parameter", f"{field}: {message}")


def _prompt_options(field: str, value: Any, spec: ModelSpec, generic: bool) -> None:
    if not isinstance(value, Mapping):
        raise _invalid(field, 'an object such as {"mode": "standard"}')
    mode = value.get("mode", PROMPT_MODES[0])
    if mode not in PROMPT_MODES:
        raise _invalid(f"{field}.mode", f"{mode!r} is not one of {', '.join(PROMPT_MODES)}")


def _tools(field: str, value: Any, spec: ModelSpec, generic: bool) -> None:
    if not isinstance(value, list):
        raise _invalid(field, 'a list such as [{"type": "web_search"}]')
    for index, tool in enumerate(value):
        if not isinstance(tool, Mapping) or tool.get("type") != "web_search":
            raise _invalid(f"{field}[{index}]", 'the only tool is {"type": "web_search"}')
    if value and not generic and spec.id not in WEB_SEARCH_MODELS:
        raise _invalid(field, f"web search is offered by {', '.join(WEB_SEARCH_MODELS)} only")


def _response_format(field: str, value: Any, spec: ModelSpec, generic: bool) -> None:
    if value not in RESPONSE_FORMATS:
        raise _invalid(field, f"{value!r} is not one of {', '.join(RESPONSE_FORMATS)}")


def _boolean(field: str, value: Any, spec: ModelSpec, generic: bool) -> None:
    if not isinstance(value, bool):
        raise _invalid(field, "true or false")


def _guidance(field: str, value: Any, spec: ModelSpec, generic: bool) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not 1 <= value <= 10:
        raise _invalid(field, "a number from 1 to 10")


Check = Callable[[str, Any, ModelSpec, bool], None]
KNOWN_OPTIONS: Final[Mapping[str, Check]] = MappingProxyType(
    {
        "optimize_prompt_options": _prompt_options,
        "tools": _tools,
        "response_format": _response_format,
        "stream": _boolean,
        "guidance_scale": _guidance,
    }
)


def shortened(value: Any) -> Any:
    """A JSON value with long ``data:`` URIs cut short, for records."""
    if isinstance(value, str):
        return shorten(value)
    if isinstance(value, list):
        return [shortened(item) for item in value]
    if isinstance(value, Mapping):
        return {key: shortened(item) for key, item in value.items()}
    return value


def ignored_fields(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """Top-level fields that are neither checked nor upstream options: ignored on the wire,
    as the provider ignores them, but kept for tests."""
    known = {*VALIDATED_FIELDS, *KNOWN_OPTIONS, EXTRA}
    return MappingProxyType({k: shortened(v) for k, v in body.items() if k not in known})


def find_upstream(
    body: Mapping[str, Any], spec: ModelSpec, generic: bool
) -> tuple[Mapping[str, Any], Mapping[str, UpstreamOption]]:
    """(the ``extra`` object, the upstream options by name); ``ApiFailure`` 400 when invalid."""
    extra = body.get(EXTRA)
    if extra is None:
        extra = {}
    if not isinstance(extra, Mapping):
        raise _invalid(EXTRA, "must be a JSON object of upstream options")
    found: dict[str, UpstreamOption] = {}
    for name in KNOWN_OPTIONS:
        if name in body:
            found[name] = UpstreamOption(name, body[name], "top-level")
    for name, value in extra.items():
        field = f"{EXTRA}.{name}"
        if name in VALIDATED_FIELDS:
            raise _invalid(field, f"{name!r} is a request field; send it at the top level")
        if name in found and found[name].value != value:
            raise _invalid(field, f"conflicts with the top-level {name!r}")
        found.setdefault(name, UpstreamOption(name, value, EXTRA))
    for option in found.values():
        check = KNOWN_OPTIONS.get(option.name)
        if check is not None:
            where = option.name if option.placement == "top-level" else f"{EXTRA}.{option.name}"
            check(where, option.value, spec, generic)
    safe = {
        name: UpstreamOption(name, shortened(o.value), o.placement) for name, o in found.items()
    }
    return MappingProxyType(shortened(dict(extra))), MappingProxyType(safe)
