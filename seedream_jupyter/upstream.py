"""The whole API's rules for one request: upstream options, ``extra``, callbacks, ``auto``,
model ids the catalog does not know, and the limits only upstream states.

``GenerationRequest`` calls these; each bad value is a ``ValidationError`` naming the field,
raised before anything is sent.

- Upstream options: ``optimize_prompt`` (sent as ``optimize_prompt_options: {"mode": ...}``)
  and ``web_search`` (sent as ``tools: [{"type": "web_search"}]``) are checked against the
  catalog (which model takes which); ``extra`` carries any other upstream key as is, but never
  a key the request sets from a validated parameter (``seed``, ``n``, ...).
- Placement: whether the gateway wants upstream options as top-level keys or inside an
  ``extra`` object is not confirmed (the provider's pages show both). ``place`` puts them
  where ``upstream_placement`` says: ``"top-level"`` (the default) or ``"extra"``.
- Limits the provider's page does not state but the upstream model's pages do (inputs up to
  10 MB and 6000 px a side, aspect between 1:16 and 16:1, references + outputs up to 15 on
  every model) are warnings (``LimitWarning``), not refusals: the gateway may allow more.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from . import _formats, catalog
from .catalog import ModelSpec
from .errors import ValidationError

_HEAD_CHARS: Final = 64 * 1024  # base64 characters decoded to find an image's size
_MAX_CALLBACK_CHARS: Final = 2048
STRICT_HINT: Final = (
    "to send an id the catalog does not know, pass strict=False "
    "(or %config SeedreamMagic.strict_models = False)"
)


class LimitWarning(UserWarning):
    """A request goes past a limit that only the upstream model's pages state; sent anyway."""


class UnknownModelWarning(UserWarning):
    """A model id the catalog does not know is sent (``strict=False``): generic rules only."""


# -- model ids --------------------------------------------------------------------------------


def typo_hint(name: str) -> str | None:
    """The catalog id ``name`` is a typo of, if any. A full id must be a near miss
    (``doubao-seedrem-4.5``): a new one (``doubao-seedream-5.0-pro``) is not a typo."""
    key = name.strip().lower()
    if _SEEDREAM_VERSION.fullmatch(key):  # a well-formed id of another version: not a typo
        return None
    full_id = key.startswith("doubao-")
    return catalog.suggest_model(name, cutoff=0.9 if full_id else 0.5)


# ``doubao-seedream-5.0``, ``doubao-seedream-5.0-pro``: shaped like a real id (5.0 is not 4.0)
_SEEDREAM_VERSION: Final = re.compile(r"doubao-seedream-\d+(\.\d+)?(-[a-z]+)?")


def unknown_model(name: str, price_per_image_usd: object) -> ModelSpec:
    """Rules for an id the catalog does not know, sent with ``strict=False``."""
    key = name.strip().lower()
    if not catalog.MODEL_ID_PATTERN.match(key):
        raise ValidationError(
            "model", name, "a model id is lower-case letters, digits, '.', '_' and '-'"
        )
    return catalog.unknown_model(key, check_price(price_per_image_usd, known=False))


def check_price(value: object, *, known: bool, model: str = "") -> float | None:
    """A per-image price in USD for a model id the catalog does not know."""
    if value is None:
        return None
    if known:
        raise ValidationError(
            "price_per_image_usd",
            value,
            f"only for model ids the catalog does not know; it prices {model} itself",
        )
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(float(value)) or float(value) < 0:  # type: ignore[arg-type]
        raise ValidationError("price_per_image_usd", value, "US dollars per image, 0 or more")
    return float(value)  # type: ignore[arg-type]


def unknown_model_warning(spec: ModelSpec) -> UnknownModelWarning:
    price = (
        f"priced at ${catalog.format_price(spec.price_per_image_usd)} per image as you said"
        if spec.price_known
        else "its price is unknown (pass price_per_image_usd= to estimate it; a budget refuses "
        "it until then)"
    )
    return UnknownModelWarning(
        f"{spec.id} is not in the catalog ({', '.join(catalog.MODEL_IDS)}): only "
        f"model-independent rules were checked, and {price}"
    )


# -- upstream options -------------------------------------------------------------------------


def check_optimize_prompt(value: object, spec: ModelSpec) -> str | None:
    """The prompt-optimisation mode (``True`` means standard), checked against the model."""
    if value is None or value is False:
        return None
    mode = "standard" if value is True else value
    if not isinstance(mode, str) or mode.strip().lower() not in catalog.PROMPT_MODES:
        raise ValidationError(
            "optimize_prompt", value, f"one of {', '.join(catalog.PROMPT_MODES)}, or None (off)"
        )
    mode = mode.strip().lower()
    if not spec.takes("optimize_prompt") or mode not in spec.prompt_modes:
        takers = [s.id for s in catalog.MODELS.values() if mode in s.prompt_modes]
        offered = ", ".join(spec.prompt_modes) if spec.takes("optimize_prompt") else "none"
        raise ValidationError(
            "optimize_prompt",
            value,
            f"{spec.id} offers {offered}; {mode!r} is on {', '.join(takers)}",
        )
    return mode


def check_web_search(value: object, spec: ModelSpec) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("web_search", value, "True or False")
    if value and not spec.takes("web_search"):
        takers = [s.id for s in catalog.MODELS.values() if s.takes("web_search")]
        raise ValidationError(
            "web_search", value, f"{spec.id} has no web search; it is on {', '.join(takers)}"
        )
    return value


def check_placement(value: object) -> str:
    if value not in catalog.UPSTREAM_PLACEMENTS:
        raise ValidationError(
            "upstream_placement", value, f"one of {', '.join(catalog.UPSTREAM_PLACEMENTS)}"
        )
    return str(value)


def check_extra(extra: object) -> dict[str, Any] | None:
    """A copy of ``extra`` (JSON values only), or None when empty; never a validated key."""
    if extra is None:
        return None
    if not isinstance(extra, Mapping):
        raise ValidationError(
            "extra", type(extra).__name__, 'a dict of upstream options, e.g. {"stream": False}'
        )
    for key, value in extra.items():
        if not isinstance(key, str) or not key.strip():
            raise ValidationError("extra", key, "keys are non-empty strings")
        if key in catalog.VALIDATED_BODY_KEYS:
            use = catalog.VALIDATED_BODY_KEYS[key]
            raise ValidationError(
                f"extra[{key!r}]",
                value,
                f"{key!r} is set from a validated parameter and extra may not override it; "
                f"use {use}",
            )
        allowed = catalog.EXTRA_VALUES.get(key)
        if allowed is not None and (
            value not in allowed or type(value) is not type(allowed[0])  # True is not 1
        ):
            raise ValidationError(
                f"extra[{key!r}]", value, f"one of {', '.join(json.dumps(a) for a in allowed)}"
            )
    try:  # a deep, detached copy that is certain to serialise
        copy = json.loads(json.dumps(dict(extra), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            "extra",
            "<not JSON>",
            f"values must be JSON (str, number, bool, None, list, dict): {exc}",
        ) from None
    return copy or None


def upstream_body(
    optimize_prompt: str | None, web_search: bool, extra: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The upstream options as wire keys: first-class ones, then ``extra``."""
    body: dict[str, Any] = {}
    if optimize_prompt is not None:
        body["optimize_prompt_options"] = {"mode": optimize_prompt}
    if web_search:
        body["tools"] = [{"type": "web_search"}]
    body.update(extra or {})
    return body


def place(payload: dict[str, Any], body: Mapping[str, Any], placement: str) -> None:
    """Put the upstream options into the payload: top-level keys, or one ``extra`` object."""
    if not body:
        return
    if placement == catalog.EXTRA_KEY:
        payload[catalog.EXTRA_KEY] = dict(body)
    else:
        payload.update(body)


def options_from_payload(payload: Mapping[str, Any], fields: set[str]) -> dict[str, Any]:
    """Keyword arguments for the upstream options in a stored payload (either placement)."""
    inner = payload.get(catalog.EXTRA_KEY)
    if isinstance(inner, Mapping):
        found, placement = dict(inner), catalog.EXTRA_KEY
    else:
        skip = fields | set(catalog.VALIDATED_BODY_KEYS) - {"optimize_prompt_options", "tools"}
        found = {k: v for k, v in payload.items() if k not in skip}
        placement = catalog.DEFAULT_UPSTREAM_PLACEMENT
    kwargs: dict[str, Any] = {"upstream_placement": placement}
    options = found.pop("optimize_prompt_options", None)
    if isinstance(options, Mapping):
        kwargs["optimize_prompt"] = options.get("mode", "standard")
    tools = found.pop("tools", None)
    if isinstance(tools, list) and {"type": "web_search"} in tools:
        kwargs["web_search"] = True
    if found:
        kwargs["extra"] = found
    return kwargs


# -- callbacks --------------------------------------------------------------------------------


def check_callback_url(url: object) -> str | None:
    """An http(s) URL with a host (the server POSTs the task there when it ends), or None."""
    if url is None:
        return None
    example = "an http(s) URL with a host, e.g. https://example.com/seedream-hook"
    if not isinstance(url, str) or not url.strip():
        raise ValidationError("callback_url", url, example)
    if len(url) > _MAX_CALLBACK_CHARS or any(c.isspace() or ord(c) < 32 for c in url):
        raise ValidationError("callback_url", url[:80], f"{example} (no spaces)")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  (a bad port raises here)
    except ValueError:
        raise ValidationError("callback_url", url, example) from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValidationError("callback_url", url, example)
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            "callback_url", url, "no user:password@ part (it would be sent to the API)"
        )
    return url


# -- reference images: sizes, ``auto``, upstream limits -----------------------------------------


def _payload_of(url: str) -> str | None:
    if url[:5].lower() != "data:" or "," not in url[:256]:
        return None
    return url.split(",", 1)[1]


def data_uri_bytes(url: str) -> int | None:
    """The decoded size of a ``data:`` URI's image, or None for a URL."""
    payload = _payload_of(url)
    if payload is None:
        return None
    return len(payload) * 3 // 4 - payload[-2:].count("=")


def data_uri_size(url: str) -> tuple[int, int] | None:
    """(width, height) of a ``data:`` URI's image from its header, or None (a URL, unreadable)."""
    payload = _payload_of(url)
    if payload is None:
        return None
    for chars in (_HEAD_CHARS, len(payload)):  # the header first; a JPEG's may sit deeper
        head = payload[: chars - chars % 4] if chars < len(payload) else payload
        try:
            data = base64.b64decode(head + "=" * (-len(head) % 4))
        except (binascii.Error, ValueError):
            return None
        size = _formats.dimensions(data)
        if size is not None or chars >= len(payload):
            return size
    return None


def auto_ratio(image_urls: Sequence[str], spec: ModelSpec) -> str | None:
    """What ``auto`` becomes: the model's ratio nearest the first reference's (as the
    simulator maps it), or None when its size is unknown (an http(s) URL)."""
    if not image_urls:
        return None
    size = data_uri_size(image_urls[0])
    if size is None or not size[0] or not size[1]:
        return None
    return catalog.nearest_ratio(size[0], size[1], spec.aspect_ratios)


def limit_warnings(spec: ModelSpec, image_urls: Sequence[str], outputs: int) -> list[LimitWarning]:
    """Warnings for limits only upstream states: the request is sent anyway."""
    limits = catalog.LIMITS
    where = "per the upstream ModelArk pages (the provider's page does not state it)"
    found: list[LimitWarning] = []
    for index, url in enumerate(image_urls):
        size = data_uri_bytes(url)
        if size is not None and size > catalog.UPSTREAM_MAX_INPUT_BYTES:
            found.append(
                LimitWarning(
                    f"images[{index}] is {_formats.megabytes(size)}: the model accepts up to "
                    f"{_formats.megabytes(limits['upstream_input_bytes'].value)} {where}; the "
                    "provider's page allows 30 MB, so it is sent anyway"
                )
            )
        dims = data_uri_size(url)
        if dims is None:
            continue
        width, height = dims
        side = catalog.UPSTREAM_MAX_INPUT_SIDE
        if width > side or height > side:
            found.append(
                LimitWarning(
                    f"images[{index}] is {width}×{height} px: the model accepts up to "
                    f"{side}×{side} {where}; sent anyway"
                )
            )
        ratio = catalog.UPSTREAM_MAX_INPUT_ASPECT
        if height and width and not 1 / ratio <= width / height <= ratio:
            found.append(
                LimitWarning(
                    f"images[{index}] is {width}×{height} px, an aspect ratio outside 1:16 to "
                    f"16:1 {where}; sent anyway"
                )
            )
    total = len(image_urls) + outputs
    limit = catalog.MAX_REFS_PLUS_OUTPUTS
    if image_urls and spec.max_refs_plus_outputs is None and total > limit:
        found.append(
            LimitWarning(
                f"{len(image_urls)} reference images + {outputs} outputs = {total}: some "
                f"upstream pages cap references + outputs at {limit} on every model (the "
                f"provider's page states it for 4.0 only); sent anyway"
            )
        )
    return found
