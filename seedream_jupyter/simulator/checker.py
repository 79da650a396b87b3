"""The simulator's own check of a submit body, written from the catalog and the seed page.

It shares no code with the client's ``request`` module on purpose: when the client builds a
payload the provider would refuse, the simulator refuses it too, and a test catches the bug.
Every refusal is HTTP 400 ``invalid_parameter`` (``model_not_found`` for an unknown model)
whose message starts with the field it names (``resolution: ...``, ``image_urls[1]: ...``).

The wire, as the provider documents it: ``model`` and a non-empty ``prompt`` are required;
``action`` defaults to generate, ``n`` to 1, ``seed`` to -1, ``aspect_ratio`` to 1:1,
``resolution`` to 2K; ``image_urls`` is a list; ``sequential_image_generation: "auto"`` (or
``action: "group"``) makes a group of ``sequential_image_generation_options.max_images``
(1-15) images; ``output_format`` only on models that offer a choice; reference counts per
model and action. Unknown fields are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from .. import catalog
from ..catalog import ModelSpec
from .models import model_rules
from .uploads import check_image_url
from .upstream import UpstreamOption, find_upstream, ignored_fields
from .wire import ApiFailure

SEQUENTIAL: Final = "sequential_image_generation"
SEQUENTIAL_OPTIONS: Final = "sequential_image_generation_options"
SEQUENTIAL_MODES: Final = ("disabled", "auto")
GROUP: Final = "group"


@dataclass(frozen=True)
class SimRequest:
    """A submit body that passed the simulator's check, with the defaults filled in."""

    prompt: str
    model: str
    action: str  # "group" for every image group, however it was asked for
    n: int
    seed: int  # -1 means random
    aspect_ratio: str
    resolution: str
    image_urls: tuple[str, ...] = field(repr=False)
    watermark: bool
    output_format: str
    max_images: int | None  # the group size; None unless a group
    callback_url: str | None
    extra: Mapping[str, Any]  # the ``extra`` object received, data: URIs shortened
    upstream: Mapping[str, UpstreamOption]  # by name, with placement "extra" / "top-level"
    ignored: Mapping[str, Any]  # any other top-level field received (the wire ignores them)
    generic: bool  # an id the catalog does not know, served with generic rules
    spec: ModelSpec = field(repr=False, compare=False)

    @property
    def output_count(self) -> int:
        """Images asked for: the group size for a group, else ``n``."""
        return self.max_images if self.max_images is not None else self.n

    def cost(self) -> float:
        return self.spec.cost(self.output_count)


def _invalid(name: str, message: str) -> ApiFailure:
    return ApiFailure(400, "invalid_parameter", f"{name}: {message}")


def _whole(body: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(name, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        raise _invalid(name, f"{value} is out of range {low}..{high}")
    return value


def _choice(body: Mapping[str, Any], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = body.get(name, default)
    if value not in allowed:
        raise _invalid(name, f"{value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _offered(
    body: Mapping[str, Any], name: str, default: str, spec: ModelSpec, allowed: tuple[str, ...]
) -> str:
    value = body.get(name, default)
    if value not in allowed:
        raise _invalid(name, f"{value!r} is not offered by {spec.id} (choose {', '.join(allowed)})")
    return str(value)


def check(body: object) -> SimRequest:
    """The checked request; ``ApiFailure`` 400 naming the first field that is wrong."""
    if not isinstance(body, Mapping):
        raise _invalid("body", "must be a JSON object")
    spec, generic = model_rules(body.get("model"))
    prompt = body.get("prompt")
    if prompt is None:
        raise _invalid("prompt", "required")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _invalid("prompt", "must be a non-empty string")
    action, max_images = _action_and_group(body, spec)
    n = _whole(body, "n", catalog.DEFAULT_N, catalog.MIN_IMAGES, catalog.MAX_IMAGES)
    seed = _whole(body, "seed", catalog.RANDOM_SEED, catalog.MIN_SEED, catalog.MAX_SEED)
    ratio = _offered(body, "aspect_ratio", catalog.DEFAULT_ASPECT_RATIO, spec, spec.aspect_ratios)
    resolution = _offered(body, "resolution", catalog.DEFAULT_RESOLUTION, spec, spec.resolutions)
    output_format = _output_format(body, spec)
    watermark = body.get("watermark", catalog.DEFAULT_WATERMARK)
    if not isinstance(watermark, bool):
        raise _invalid("watermark", f"must be true or false, got {watermark!r}")
    urls = _image_urls(body)
    outputs = max_images if max_images is not None else n
    _check_reference_count(spec, action, len(urls), outputs)
    extra, upstream = find_upstream(body, spec, generic)
    return SimRequest(
        prompt=prompt,
        model=spec.id,
        action=action,
        n=n,
        seed=seed,
        aspect_ratio=ratio,
        resolution=resolution,
        image_urls=urls,
        watermark=watermark,
        output_format=output_format,
        max_images=max_images,
        callback_url=_callback_url(body),
        extra=extra,
        upstream=upstream,
        ignored=ignored_fields(body),
        generic=generic,
        spec=spec,
    )


def _action_and_group(body: Mapping[str, Any], spec: ModelSpec) -> tuple[str, int | None]:
    action = _choice(body, "action", catalog.DEFAULT_ACTION, catalog.ACTIONS)
    if not spec.supports(action):
        raise _invalid(
            "action", f"{action!r} is not supported by {spec.id} (choose {', '.join(spec.actions)})"
        )
    mode = _choice(body, SEQUENTIAL, SEQUENTIAL_MODES[0], SEQUENTIAL_MODES)
    options = body.get(SEQUENTIAL_OPTIONS)
    if mode == "auto" and action not in (catalog.DEFAULT_ACTION, GROUP):
        raise _invalid(SEQUENTIAL, f"'auto' makes an image group; it cannot go with {action!r}")
    if mode != "auto" and action != GROUP:
        if options is not None:
            raise _invalid(SEQUENTIAL_OPTIONS, f"only for a group ({SEQUENTIAL}: 'auto')")
        return action, None
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise _invalid(SEQUENTIAL_OPTIONS, 'must be an object such as {"max_images": 4}')
    value = options.get("max_images", catalog.DEFAULT_GROUP_SIZE)
    name = f"{SEQUENTIAL_OPTIONS}.max_images"
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(name, f"must be an integer, got {value!r}")
    if not catalog.MIN_IMAGES <= value <= catalog.MAX_IMAGES:
        raise _invalid(name, f"{value} is out of range {catalog.MIN_IMAGES}..{catalog.MAX_IMAGES}")
    return GROUP, value


def _output_format(body: Mapping[str, Any], spec: ModelSpec) -> str:
    if "output_format" not in body:
        return catalog.DEFAULT_OUTPUT_FORMAT
    if len(spec.output_formats) < 2:
        choosers = [s.id for s in catalog.MODELS.values() if len(s.output_formats) > 1]
        raise _invalid(
            "output_format",
            f"{spec.id} takes no output_format (it returns {spec.output_formats[0]}); "
            f"only {', '.join(choosers)} offer a choice",
        )
    return _offered(body, "output_format", catalog.DEFAULT_OUTPUT_FORMAT, spec, spec.output_formats)


def _image_urls(body: Mapping[str, Any]) -> tuple[str, ...]:
    urls = body.get("image_urls")
    if urls is None:
        return ()
    if not isinstance(urls, list):
        raise _invalid("image_urls", "must be a list of URLs")
    for index, url in enumerate(urls):
        check_image_url(url, f"image_urls[{index}]")
    return tuple(urls)


def _check_reference_count(spec: ModelSpec, action: str, refs: int, outputs: int) -> None:
    low, high = spec.reference_range(action)
    if not low <= refs <= high:
        raise _invalid(
            "image_urls",
            f"{refs} given; {action!r} on {spec.id} takes {spec.describe_references(action)}",
        )
    limit = spec.max_refs_plus_outputs
    if limit is not None and refs + outputs > limit:
        raise _invalid(
            "image_urls",
            f"{refs} references + {outputs} outputs; on {spec.id} the sum must be <= {limit}",
        )


def _callback_url(body: Mapping[str, Any]) -> str | None:
    url = body.get("callback_url")
    if url is None:
        return None
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise _invalid("callback_url", "must be an http(s):// URL")
    if not urlsplit(url).hostname:
        raise _invalid("callback_url", "the URL names no host")
    return url
