"""GenerationRequest: one validated, immutable generation request.

Every rule of the catalog is checked here, before anything is sent. ``from_payload``
rebuilds a request from a stored payload (the history). The simulator checks the wire
with its own code, so that the two can disagree and a test catch it.

The whole API (``upstream``): ``extra`` (any other upstream key, never one a validated
parameter sets), ``optimize_prompt`` and ``web_search`` (catalog-checked), their placement
(``upstream_placement``: top-level keys or one ``extra`` object — the gateway's choice is not
confirmed), ``callback_url``, ``auto`` (which follows the first reference), and ids the catalog
does not know (``strict=False``; ``price_per_image_usd`` prices them).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from . import _formats, catalog, upstream
from .catalog import ModelSpec
from .errors import ValidationError, redact
from .upstream import LimitWarning, UnknownModelWarning

_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^;,]*)*),", re.I)


def _fail(field_name: str, value: object, allowed: str) -> ValidationError:
    return ValidationError(field_name, value, allowed)


def resolve_model(
    name: object, strict: bool = True, price_per_image_usd: object = None
) -> ModelSpec:
    """The catalog entry for a model id or alias, or a ValidationError naming the ids.

    With ``strict=False`` an id the catalog does not know gets model-independent rules
    (priced at ``price_per_image_usd``, else unknown) instead of a refusal.
    """
    if not isinstance(name, str) or not name.strip():
        raise _fail("model", name, f"choose one of {', '.join(catalog.MODEL_IDS)}")
    spec = catalog.find_model(name)
    if spec is None and not strict:
        return upstream.unknown_model(name, price_per_image_usd)
    if spec is None:
        hint = upstream.typo_hint(name)
        did_you_mean = f"did you mean {hint!r}? " if hint else ""
        raise _fail(
            "model",
            name,
            f"{did_you_mean}choose one of {', '.join(catalog.MODEL_IDS)} "
            f"(aliases: {', '.join(catalog.ALIASES)}); {upstream.STRICT_HINT}",
        )
    return spec


def check_image_url(url: object, index: int) -> None:
    """An http(s) URL, or a data: URI of a JPG/PNG/WEBP image of at most 30 MB."""
    name = f"images[{index}]"
    if not isinstance(url, str) or not url:
        raise _fail(name, url, "give an http(s) URL, a data: URI, a path, bytes or a PIL image")
    lowered = url[:16].lower()
    if lowered.startswith(("http://", "https://")):
        if not urlsplit(url).hostname:
            raise _fail(name, url, "the URL names no host")
        return
    if not lowered.startswith("data:"):
        shown = url if len(url) < 80 else url[:77] + "..."
        raise _fail(name, shown, "image URLs must be http(s):// or data: URIs")
    match = _DATA_URI.match(url[:256])
    if match is None or ";base64" not in (match.group("params") or "").lower():
        raise _fail(name, url[:40] + "...", "data: URIs must be base64-encoded images")
    payload = url[match.end() :]
    size = upstream.data_uri_bytes(url) or 0
    if size > catalog.MAX_INPUT_IMAGE_BYTES:
        raise _fail(
            name,
            f"<{_formats.megabytes(size)} image>",
            f"each image must be at most {_formats.megabytes(catalog.MAX_INPUT_IMAGE_BYTES)}",
        )
    try:
        head = base64.b64decode(payload[:64] + "=" * (-len(payload[:64]) % 4))
    except (binascii.Error, ValueError):
        raise _fail(name, url[:40] + "...", "the data: URI is not valid base64") from None
    fmt = _formats.sniff(head)
    declared = _formats.FORMAT_OF_MIME.get((match.group("mime") or "").lower())
    if fmt is None or (declared is not None and declared != fmt):
        raise _fail(
            name,
            f"<{match.group('mime') or 'unknown'} data>",
            f"images must be {'/'.join(f.upper() for f in catalog.INPUT_IMAGE_FORMATS)}",
        )


def _check_prompt_text(prompt: str) -> None:
    """Text that can travel as UTF-8 JSON, of a sane length, and that does not hold the key."""
    if len(prompt) > catalog.MAX_PROMPT_CHARS:
        raise _fail(
            "prompt",
            f"<{len(prompt):,} characters>",
            f"at most {catalog.MAX_PROMPT_CHARS:,} characters (a limit of this package: the "
            "provider states none); shorten it",
        )
    for index, char in enumerate(prompt):
        if "\ud800" <= char <= "\udfff":
            raise _fail(
                "prompt",
                f"<prompt with a lone surrogate {char!r} at character {index}>",
                "the prompt holds half of a UTF-16 pair (often from a bad copy-paste or "
                "decoding); remove it, e.g. prompt.encode('utf-8', 'replace').decode()",
            )
    if redact.holds_secret(prompt):
        raise _fail("prompt", "<prompt holding the API key>", "the prompt contains the API key")


def _short(url: str) -> str:
    return url if len(url) <= 64 else f"{url[:40]}...<{len(url)} chars>"


@dataclass(frozen=True)
class GenerationRequest:
    """A request that has passed every catalog rule. Build with keywords; it validates itself."""

    prompt: str
    model: str = catalog.DEFAULT_MODEL
    action: str = catalog.DEFAULT_ACTION
    n: int = catalog.DEFAULT_N
    seed: int = catalog.RANDOM_SEED
    aspect_ratio: str = catalog.DEFAULT_ASPECT_RATIO
    resolution: str = catalog.DEFAULT_RESOLUTION
    image_urls: tuple[str, ...] = field(default=(), repr=False)
    watermark: bool = catalog.DEFAULT_WATERMARK
    output_format: str = catalog.DEFAULT_OUTPUT_FORMAT
    max_images: int | None = None
    callback_url: str | None = None
    # the whole API (see ``upstream``)
    extra: Mapping[str, Any] | None = field(default=None, hash=False)
    optimize_prompt: str | None = None
    web_search: bool = False
    upstream_placement: str = catalog.DEFAULT_UPSTREAM_PLACEMENT
    strict: bool = True
    price_per_image_usd: float | None = None
    # where the input images came from (a task id), for the history's lineage; never sent
    parent_task_id: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.strict, bool):
            raise _fail("strict", self.strict, "True (catalog ids only) or False")
        spec = resolve_model(self.model, self.strict, self.price_per_image_usd)
        set_ = object.__setattr__
        set_(self, "model", spec.id)
        set_(self, "image_urls", tuple(self.image_urls))
        if isinstance(self.aspect_ratio, str):
            set_(self, "aspect_ratio", self.aspect_ratio.strip().lower())
        if isinstance(self.resolution, str):
            set_(self, "resolution", self.resolution.strip().upper())
        if isinstance(self.output_format, str):
            fmt = self.output_format.strip().lower()
            set_(self, "output_format", "jpeg" if fmt == "jpg" else fmt)
        if isinstance(self.action, str):
            set_(self, "action", self.action.strip().lower())
        if self.action == "generate" and self.max_images is not None:
            set_(self, "action", "group")
        if self.action == "group" and self.max_images is None:
            n_is_int = isinstance(self.n, int) and not isinstance(self.n, bool)
            group_size = self.n if n_is_int and self.n > 1 else catalog.DEFAULT_GROUP_SIZE
            set_(self, "max_images", group_size)
        self._validate(spec)
        self._validate_whole_api(spec)
        self._refuse_the_key()

    # -- validation -------------------------------------------------------------------
    def _validate(self, spec: ModelSpec) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise _fail("prompt", self.prompt, "the prompt must be a non-empty string")
        _check_prompt_text(self.prompt)
        if self.action not in catalog.ACTIONS:
            raise _fail("action", self.action, f"choose one of {', '.join(catalog.ACTIONS)}")
        if not spec.supports(self.action):
            others = ", ".join(catalog.models_supporting(self.action))
            raise _fail(
                "action",
                self.action,
                f"{spec.id} supports {', '.join(spec.actions)}; for {self.action!r} use {others}",
            )
        if self.resolution not in spec.resolutions:
            raise _fail(
                "resolution", self.resolution, f"{spec.id} offers {', '.join(spec.resolutions)}"
            )
        if self.aspect_ratio not in spec.aspect_ratios:
            raise _fail(
                "aspect_ratio",
                self.aspect_ratio,
                f"{spec.id} offers {', '.join(spec.aspect_ratios)}",
            )
        if self.output_format not in spec.output_formats:
            raise _fail(
                "output_format",
                self.output_format,
                f"{spec.id} offers {', '.join(spec.output_formats)}",
            )
        self._check_count("n", self.n)
        if self.max_images is not None:
            self._check_count("max_images", self.max_images)
            if self.action != "group":
                raise _fail("max_images", self.max_images, "max_images is only for action='group'")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise _fail("seed", self.seed, "the seed must be an integer")
        if not catalog.MIN_SEED <= self.seed <= catalog.MAX_SEED:
            raise _fail("seed", self.seed, f"use -1 (random) or 0..{catalog.MAX_SEED}")
        if not isinstance(self.watermark, bool):
            raise _fail("watermark", self.watermark, "True or False")
        self._validate_references(spec)

    def _refuse_the_key(self) -> None:
        """The key travels in a header only: never in the body, the history or a file."""
        texts = {
            "callback_url": self.callback_url or "",
            "extra": json.dumps(self.extra, default=str) if self.extra else "",
        }
        for index, url in enumerate(self.image_urls):
            if url[:5].lower() != "data:":
                texts[f"images[{index}]"] = url
        for name, text in texts.items():
            if text and redact.holds_secret(text):
                raise _fail(
                    name, f"<{name} holding the API key>", f"the {name} contains the API key"
                )

    def _validate_whole_api(self, spec: ModelSpec) -> None:
        set_ = object.__setattr__
        set_(
            self,
            "price_per_image_usd",
            upstream.check_price(self.price_per_image_usd, known=spec.known, model=spec.id),
        )
        set_(self, "optimize_prompt", upstream.check_optimize_prompt(self.optimize_prompt, spec))
        upstream.check_web_search(self.web_search, spec)
        upstream.check_placement(self.upstream_placement)
        set_(self, "extra", upstream.check_extra(self.extra))
        upstream.check_callback_url(self.callback_url)
        if self.aspect_ratio == catalog.AUTO_RATIO and not self.image_urls:
            raise _fail(
                "aspect_ratio",
                self.aspect_ratio,
                "`auto` follows the first reference image; pass `images=` or choose a ratio",
            )

    @staticmethod
    def _check_count(name: str, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(name, value, "an integer")
        if not catalog.MIN_IMAGES <= value <= catalog.MAX_IMAGES:
            raise _fail(name, value, f"between {catalog.MIN_IMAGES} and {catalog.MAX_IMAGES}")

    def _validate_references(self, spec: ModelSpec) -> None:
        refs = len(self.image_urls)
        for index, url in enumerate(self.image_urls):
            check_image_url(url, index)
        low, high = spec.reference_range(self.action)
        if not low <= refs <= high:
            raise _fail(
                "images",
                f"{refs} images",
                f"action {self.action!r} on {spec.id} takes "
                f"{spec.describe_references(self.action)} reference image{'s' if high > 1 else ''}",
            )
        limit = spec.max_refs_plus_outputs
        if limit is not None and refs + self.output_count > limit:
            raise _fail(
                "images",
                f"{refs} images + {self.output_count} outputs",
                f"on {spec.id} reference images plus output images must be at most {limit}",
            )

    # -- derived ----------------------------------------------------------------------
    @property
    def spec(self) -> ModelSpec:
        """The model's rules: the catalog's, or generic ones for an id it does not know."""
        known = catalog.MODELS.get(self.model)
        if known is not None:
            return known
        return catalog.unknown_model(self.model, self.price_per_image_usd)

    @property
    def price_known(self) -> bool:
        """False for an id the catalog does not know, sent without a price."""
        return self.spec.price_known

    def cost_text(self, digits: int = 4) -> str:
        """``≈ $0.1190``, or ``price unknown`` (an unknown model id without a price)."""
        return self.spec.cost_text(self.output_count, digits)

    def cost_breakdown(self) -> str:
        """``≈ $0.1190 (up to 4 images × $0.02975)``, or ``price unknown``."""
        return self.spec.cost_breakdown(self.output_count, up_to=True)

    def count_label(self, images: int = 0) -> str:
        """``generate``, ``generate ×2``, ``group ×4``: the action and how many images (those
        that came back, else those asked for)."""
        count = images or self.output_count
        return f"{self.action} ×{count}" if count > 1 or self.action == "group" else self.action

    @cached_property
    def resolved_aspect_ratio(self) -> str | None:
        """The ratio the images will have: ``auto`` becomes the model's ratio nearest the
        first reference's; None when that reference's size is unknown (an http(s) URL)."""
        if self.aspect_ratio != catalog.AUTO_RATIO:
            return self.aspect_ratio
        return upstream.auto_ratio(self.image_urls, self.spec)

    @property
    def ratio_label(self) -> str:
        """``16:9``, ``auto → 9:16``, or ``auto (follows the reference)``."""
        if self.aspect_ratio != catalog.AUTO_RATIO:
            return self.aspect_ratio
        resolved = self.resolved_aspect_ratio
        return f"auto → {resolved}" if resolved else "auto (follows the reference)"

    def warnings(self) -> list[UserWarning]:
        """What is sent anyway but deserves a word: an id the catalog does not know, and
        limits only upstream states (``LimitWarning``)."""
        spec = self.spec
        found: list[UserWarning] = []
        if not spec.known:
            found.append(upstream.unknown_model_warning(spec))
        found.extend(upstream.limit_warnings(spec, self.image_urls, self.output_count))
        return found

    def upstream_options(self) -> dict[str, Any]:
        """The upstream options as wire keys (first-class ones and ``extra``), unplaced."""
        return upstream.upstream_body(self.optimize_prompt, self.web_search, self.extra)

    @property
    def output_count(self) -> int:
        """Images this request can produce (a group may return fewer)."""
        return self.max_images if self.action == "group" and self.max_images else self.n

    @property
    def pixel_size(self) -> tuple[int, int]:
        """Output size; ``auto`` follows the first reference (1:1 when its size is unknown)."""
        ratio = self.resolved_aspect_ratio or catalog.AUTO_FALLBACK_RATIO
        return self.spec.pixel_size(self.resolution, ratio)

    def estimate_cost(self) -> float:
        """Upper-bound cost in USD from the catalog's per-image price."""
        return self.spec.cost(self.output_count)

    def to_payload(self) -> dict[str, Any]:
        """The JSON body for POST /v1/tasks."""
        payload: dict[str, Any] = {
            "model": self.model,
            "action": self.action,
            "prompt": self.prompt,
            "n": self.n,
            "seed": self.seed,
            "aspect_ratio": self.aspect_ratio,
            "resolution": self.resolution,
            "watermark": self.watermark,
        }
        if self.action == "group":
            payload.pop("n")
            payload["sequential_image_generation"] = "auto"
            payload["sequential_image_generation_options"] = {"max_images": self.max_images}
        if self.image_urls:
            payload["image_urls"] = list(self.image_urls)
        if len(self.spec.output_formats) > 1:
            payload["output_format"] = self.output_format
        if self.callback_url:
            payload["callback_url"] = self.callback_url
        upstream.place(payload, self.upstream_options(), self.upstream_placement)
        return payload

    def describe_payload(self) -> dict[str, Any]:
        """The payload with long data: URIs shortened, for display."""
        payload = self.to_payload()
        if "image_urls" in payload:
            payload["image_urls"] = [_short(u) for u in payload["image_urls"]]
        return payload

    def cache_key(self) -> str:
        """A stable hash of everything that determines the output (whatever the placement)."""
        body = self.to_payload()
        body.pop("callback_url", None)
        body.pop(catalog.EXTRA_KEY, None)
        body.update(self.upstream_options())
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def with_changes(self, **changes: Any) -> GenerationRequest:
        return replace(self, **changes)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> GenerationRequest:
        """Validate a payload as sent (rebuilding a request from the history)."""
        if not isinstance(payload, Mapping):
            raise _fail("body", type(payload).__name__, "a JSON object")
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {
            k: v for k, v in payload.items() if k in known and k not in _WHOLE_API_FIELDS
        }
        kwargs.update(upstream.options_from_payload(payload, known))
        model = payload.get("model")
        if isinstance(model, str) and catalog.find_model(model) is None:
            kwargs["strict"] = False  # it was sent: an id the catalog does not know
        if "prompt" not in kwargs:
            raise _fail("prompt", None, "the prompt is required")
        if "model" not in payload:
            raise _fail("model", None, f"required; choose one of {', '.join(catalog.MODEL_IDS)}")
        urls = payload.get("image_urls") or ()
        if not isinstance(urls, (list, tuple)):
            raise _fail("image_urls", urls, "a list of URLs")
        kwargs["image_urls"] = tuple(urls)
        options = payload.get("sequential_image_generation_options") or {}
        if payload.get("sequential_image_generation") == "auto":
            kwargs["action"] = "group"
            kwargs["max_images"] = (
                options.get("max_images", catalog.DEFAULT_GROUP_SIZE)
                if isinstance(options, Mapping)
                else catalog.DEFAULT_GROUP_SIZE
            )
        return cls(**kwargs)


# Fields ``from_payload`` rebuilds from wire keys (``upstream.options_from_payload``).
_WHOLE_API_FIELDS = frozenset(
    {
        "extra",
        "optimize_prompt",
        "web_search",
        "upstream_placement",
        "strict",
        "price_per_image_usd",
    }
)

__all__ = [
    "GenerationRequest",
    "LimitWarning",
    "UnknownModelWarning",
    "check_image_url",
    "resolve_model",
]
