"""Model facts for the Seedream series: the single source of truth.

Validation, cost estimates, the panel's dropdowns, the magic's help and the
simulator all read this table. Adding a model is one ``ModelSpec`` entry.
Facts follow the provider's API page (``shared/seed/seedream-series-api.txt``); ``LIMITS``
says where each limit comes from (the seed, the upstream ModelArk pages, or inferred), and
``UPSTREAM_OPTIONS`` the Seedream options the gateway forwards upstream.
"""

from __future__ import annotations

import decimal
import difflib
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

ACTIONS: Final = ("generate", "image2image", "edit", "reference", "group")
ACTION_HELP: Final = MappingProxyType(
    {
        "generate": "text-to-image (reference images optional)",
        "image2image": "image-to-image from one or more reference images",
        "edit": "edit one image (inpainting, lighting changes)",
        "reference": "fuse several reference images into one picture",
        "group": "a themed set of images (sequential_image_generation=auto)",
    }
)

# Landscape ratios; each portrait ratio is the transpose of one of these.
_LANDSCAPE: Final = ("1:1", "4:3", "16:9", "3:2", "21:9")
_PORTRAIT_OF: Final = {"3:4": "4:3", "9:16": "16:9", "2:3": "3:2", "9:21": "21:9"}
ASPECT_RATIOS: Final = ("1:1", "4:3", "3:4", "16:9", "9:16", "3:2", "2:3", "21:9", "9:21", "auto")
AUTO_RATIO: Final = "auto"
AUTO_FALLBACK_RATIO: Final = "1:1"  # what "auto" means when there is no reference image

_SIZE_1K = ((1024, 1024), (1152, 864), (1280, 720), (1248, 832), (1512, 648))
_SIZE_2K = ((2048, 2048), (2304, 1728), (2560, 1440), (2496, 1664), (3024, 1296))
_SIZE_2K_LITE = ((2048, 2048), (2304, 1728), (2848, 1600), (2496, 1664), (3136, 1344))
_SIZE_3K = ((3072, 3072), (3456, 2592), (4096, 2304), (3744, 2496), (4704, 2016))
# 4K keeps about 16.7 megapixels whatever the ratio.
_SIZE_4K = ((4096, 4096), (4704, 3520), (5504, 3040), (4992, 3328), (6240, 2656))

MIN_IMAGES: Final = 1
MAX_IMAGES: Final = 15  # n (inferred, see LIMITS) and group size (stated), per request
# Not stated by the provider (inferred): a guard against a pasted file, far above any prompt.
MAX_PROMPT_CHARS: Final = 10_000
# Reference images plus output images: the seed states it for 4.0, upstream for every model.
MAX_REFS_PLUS_OUTPUTS: Final = 15
MIN_SEED: Final = -1
MAX_SEED: Final = 2_147_483_647
RANDOM_SEED: Final = -1
MAX_INPUT_IMAGE_BYTES: Final = 30 * 1024 * 1024
INPUT_IMAGE_FORMATS: Final = ("jpeg", "png", "webp")
INPUT_IMAGE_MIME: Final = MappingProxyType(
    {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
)
RESULT_URL_TTL_SECONDS: Final = 24 * 3600
DEFAULT_BASE_URL: Final = "https://www.qingbo.dev"
DEFAULT_MODEL: Final = "doubao-seedream-4.5"  # the one that supports every action
DEFAULT_ACTION: Final = "generate"
DEFAULT_N: Final = 1
DEFAULT_ASPECT_RATIO: Final = "1:1"
DEFAULT_RESOLUTION: Final = "2K"
DEFAULT_WATERMARK: Final = False
DEFAULT_OUTPUT_FORMAT: Final = "jpeg"
DEFAULT_GROUP_SIZE: Final = 4
# A simulator announces itself with this response header ("1; speed=N"): clients then flag
# results as synthetic and keep pace with its clock. Client and simulator both read it here.
SIMULATOR_HEADER: Final = "X-Seedream-Simulator"
# The provider suggests polling every 2-5 s for about 5 minutes.
PROVIDER_POLL_INTERVAL_SECONDS: Final = 2.0
PROVIDER_WAIT_SECONDS: Final = 300.0


def _sizes(table: tuple[tuple[int, int], ...]) -> Mapping[str, tuple[int, int]]:
    sizes = dict(zip(_LANDSCAPE, table))
    for portrait, landscape in _PORTRAIT_OF.items():
        w, h = sizes[landscape]
        sizes[portrait] = (h, w)
    return MappingProxyType(sizes)


@dataclass(frozen=True)
class ModelSpec:
    """What one model can do, and what it costs."""

    id: str
    label: str
    summary: str
    aliases: tuple[str, ...]
    actions: tuple[str, ...]
    resolutions: tuple[str, ...]
    aspect_ratios: tuple[str, ...]
    output_formats: tuple[str, ...]
    price_per_image_usd: float
    max_reference_images: int
    max_reference_images_for_fusion: int
    pixel_sizes: Mapping[str, Mapping[str, tuple[int, int]]]
    # Reference fusion ("reference" action) needs at least this many images.
    min_reference_images_for_fusion: int = 2
    # 4.0 only: reference images plus output images must not exceed this.
    max_refs_plus_outputs: int | None = None
    # Upstream options it takes (names of UPSTREAM_OPTIONS) and its prompt-optimisation modes.
    upstream_options: tuple[str, ...] = ("optimize_prompt",)
    prompt_modes: tuple[str, ...] = ("standard",)
    # False for an id the catalog does not know (sent with ``strict=False``): generic rules.
    known: bool = True
    # False when nobody knows what it costs (an unknown id without a price given).
    price_known: bool = True

    def pixel_size(self, resolution: str, aspect_ratio: str) -> tuple[int, int]:
        """Output size in pixels (width, height); ``auto`` without references is 1:1."""
        ratio = AUTO_FALLBACK_RATIO if aspect_ratio == AUTO_RATIO else aspect_ratio
        return self.pixel_sizes[resolution][ratio]

    def cost(self, images: int) -> float:
        """Estimated USD for ``images`` output images (the provider bills per image);
        0 when the price is unknown (check ``price_known``)."""
        return round(max(0, images) * self.price_per_image_usd, 6)

    def cost_text(self, images: int, digits: int = 4) -> str:
        """``≈ $0.0595`` for ``images`` output images, or ``price unknown``: every view's cost."""
        if not self.price_known:
            return "price unknown"
        return f"≈ {format_usd(self.cost(images), digits)}"

    def cost_breakdown(self, images: int, *, up_to: bool = False) -> str:
        """``≈ $0.0595 (up to 2 images × $0.02975)`` (``up_to``: a group may return fewer)."""
        if not self.price_known:
            return "price unknown"
        counted = f"{'up to ' if up_to else ''}{images} image{'s' if images != 1 else ''}"
        return f"{self.cost_text(images)} ({counted} × ${format_price(self.price_per_image_usd)})"

    def takes(self, option: str) -> bool:
        """True when this model takes the upstream option (``optimize_prompt``, ``web_search``)."""
        return option in self.upstream_options

    def supports(self, action: str) -> bool:
        return action in self.actions

    def reference_range(self, action: str) -> tuple[int, int]:
        """How many reference images ``action`` takes on this model: (fewest, most)."""
        if action == "edit":
            return 1, 1
        if action == "image2image":
            return 1, self.max_reference_images
        if action == "reference":
            return self.min_reference_images_for_fusion, self.max_reference_images_for_fusion
        return 0, self.max_reference_images

    def describe_references(self, action: str) -> str:
        """``at most 14``, ``exactly one``, ``at least one, at most 14``, ``2 to 10``."""
        low, high = self.reference_range(action)
        most = "one" if high == 1 else str(high)
        if low == 0:
            return f"at most {most}"
        if low == high:
            return f"exactly {most}"
        if low == 1:
            return f"at least one, at most {most}"
        return f"{low} to {most}"


_NO_ULTRA_TALL = tuple(r for r in ASPECT_RATIOS if r != "9:21")

MODELS: Final[Mapping[str, ModelSpec]] = MappingProxyType(
    {
        spec.id: spec
        for spec in (
            ModelSpec(
                id="doubao-seedream-5.0-lite",
                label="Seedream 5.0 Lite",
                summary="visual reasoning + web search, 14 reference images, 2K/3K, "
                "strong identity preservation",
                aliases=("5.0-lite", "5.0", "seedream-5.0", "seedream-5.0-lite", "5"),
                actions=("generate", "image2image", "group"),
                resolutions=("2K", "3K"),
                aspect_ratios=_NO_ULTRA_TALL,
                output_formats=("jpeg", "png"),
                price_per_image_usd=0.02975,
                max_reference_images=14,
                max_reference_images_for_fusion=14,
                pixel_sizes=MappingProxyType({"2K": _sizes(_SIZE_2K_LITE), "3K": _sizes(_SIZE_3K)}),
                upstream_options=("optimize_prompt", "web_search"),
            ),
            ModelSpec(
                id="doubao-seedream-4.5",
                label="Seedream 4.5",
                summary="professional production grade, native 4K, 14 reference images, "
                "best typography and character consistency",
                aliases=("4.5", "seedream-4.5"),
                actions=ACTIONS,
                resolutions=("2K", "4K"),
                aspect_ratios=ASPECT_RATIOS,
                output_formats=("jpeg",),
                price_per_image_usd=0.02975,
                max_reference_images=14,
                max_reference_images_for_fusion=14,
                pixel_sizes=MappingProxyType({"2K": _sizes(_SIZE_2K), "4K": _sizes(_SIZE_4K)}),
            ),
            ModelSpec(
                id="doubao-seedream-4.0",
                label="Seedream 4.0",
                summary="multimodal creation, 2-10 reference image fusion, one interface "
                "for text-to-image, editing and image groups",
                aliases=("4.0", "4", "seedream-4.0"),
                actions=ACTIONS,
                resolutions=("1K", "2K", "4K"),
                aspect_ratios=ASPECT_RATIOS,
                output_formats=("jpeg",),
                price_per_image_usd=0.0238,
                max_reference_images=10,
                max_reference_images_for_fusion=10,
                max_refs_plus_outputs=MAX_REFS_PLUS_OUTPUTS,
                pixel_sizes=MappingProxyType(
                    {"1K": _sizes(_SIZE_1K), "2K": _sizes(_SIZE_2K), "4K": _sizes(_SIZE_4K)}
                ),
                prompt_modes=("standard", "fast"),
            ),
        )
    }
)

MODEL_IDS: Final = tuple(MODELS)
RESOLUTIONS: Final = tuple(
    sorted({r for spec in MODELS.values() for r in spec.resolutions}, key=lambda r: int(r[:-1]))
)
OUTPUT_FORMATS: Final = tuple(dict.fromkeys(f for s in MODELS.values() for f in s.output_formats))
ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {alias: spec.id for spec in MODELS.values() for alias in spec.aliases}
)


def find_model(name: str) -> ModelSpec | None:
    """The model for an id or alias (case-insensitive), or None."""
    key = name.strip().lower()
    if key in MODELS:
        return MODELS[key]
    if key in ALIASES:
        return MODELS[ALIASES[key]]
    if not key.startswith("doubao-") and f"doubao-{key}" in MODELS:
        return MODELS[f"doubao-{key}"]
    return None


def suggest_model(name: str, cutoff: float = 0.5) -> str | None:
    """The closest model id to a misspelt name, for error messages."""
    candidates = [*MODEL_IDS, *ALIASES]
    close = difflib.get_close_matches(name.strip().lower(), candidates, n=1, cutoff=cutoff)
    if not close:
        return None
    return ALIASES.get(close[0], close[0])


def format_usd(amount: float, digits: int = 4) -> str:
    """``$0.0298``: rounded half up from the decimal text (binary floats say $0.0297)."""
    value = decimal.Decimal(str(amount))
    return f"${value.quantize(decimal.Decimal(10) ** -digits, decimal.ROUND_HALF_UP)}"


def format_price(usd: float) -> str:
    """A per-image price with every digit the catalog has: 0.02975, 0.0238."""
    return f"{usd:.5f}".rstrip("0").rstrip(".")


def models_supporting(action: str) -> tuple[str, ...]:
    return tuple(spec.id for spec in MODELS.values() if spec.supports(action))


def ratio_exceptions() -> dict[str, tuple[str, ...]]:
    """Ratios that some models lack, with the models that lack them."""
    return {
        ratio: missing
        for ratio in ASPECT_RATIOS
        if (missing := tuple(s.id for s in MODELS.values() if ratio not in s.aspect_ratios))
    }


def nearest_ratio(width: int, height: int, allowed: tuple[str, ...]) -> str:
    """The allowed fixed ratio closest to width:height (used to resolve ``auto``)."""
    target, fixed = width / height, (r.split(":") for r in allowed if r != AUTO_RATIO)
    a, b = min(fixed, key=lambda ab: abs(int(ab[0]) / int(ab[1]) - target))
    return f"{a}:{b}"


# -- upstream options: forwarded by the gateway to the model. Newer provider pages show them
# as top-level keys, older ones in an ``extra`` object: the session's ``upstream_placement``
# chooses one of ``UPSTREAM_PLACEMENTS`` (top-level by default) until the gateway confirms.


@dataclass(frozen=True)
class UpstreamOption:
    """A first-class parameter for an upstream option: its wire key and what it does."""

    name: str  # the keyword (``optimize_prompt``)
    wire_key: str  # the body key (``optimize_prompt_options``)
    help: str
    source: str


UPSTREAM_OPTIONS: Final[Mapping[str, UpstreamOption]] = MappingProxyType(
    {
        "optimize_prompt": UpstreamOption(
            "optimize_prompt",
            "optimize_prompt_options",
            "rewrite the prompt before generating: 'standard' (better, slower) or 'fast' "
            '(4.0 only); sent as {"mode": ...}',
            "upstream ModelArk pages: standard on every model, fast on 4.0 only",
        ),
        "web_search": UpstreamOption(
            "web_search",
            "tools",
            "let the model search the web for up-to-date facts (5.0-lite only); "
            'sent as [{"type": "web_search"}]',
            "upstream ModelArk pages and the seed (5.0-lite: real-time web search)",
        ),
    }
)
PROMPT_MODES: Final = ("standard", "fast")
# How a generation waits: submit then poll (the default), or POST /v1/tasks/sync (held answer).
WAIT_MODES: Final = ("poll", "sync")
UPSTREAM_PLACEMENTS: Final = ("top-level", "extra")
DEFAULT_UPSTREAM_PLACEMENT: Final = "top-level"
EXTRA_KEY: Final = "extra"  # the body key of the ``extra`` placement
# Body keys a request sets from validated parameters: ``extra`` may never set them. Each
# names the parameter to use instead.
_SAME_NAME = ("model", "action", "prompt", "n", "seed", "aspect_ratio", "resolution", "watermark")
VALIDATED_BODY_KEYS: Final[Mapping[str, str]] = MappingProxyType(
    {name: name for name in (*_SAME_NAME, "output_format", "max_images", "callback_url")}
    | {
        "image_urls": "images",
        # the upstream model's own names for the same things (the gateway may forward them)
        "image": "images",
        "size": "resolution and aspect_ratio",
        "sequential_image_generation": "action='group'",
        "sequential_image_generation_options": "max_images",
        "optimize_prompt_options": "optimize_prompt",
        "tools": "web_search=True",
        EXTRA_KEY: "extra (one level: its keys are the options)",
    }
)
# Upstream keys whose values are known: checked before sending when given in ``extra``.
EXTRA_VALUES: Final[Mapping[str, tuple[Any, ...]]] = MappingProxyType(
    {"response_format": ("url", "b64_json"), "stream": (False, True)}
)


# -- limits: where each comes from ------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """One limit: its value, what it bounds, where it comes from, and how it is applied."""

    value: float
    text: str
    source: str
    inferred: bool = False  # no page states it: ``source`` says what it is read from
    refused: bool = True  # False: only warned about (the seed does not state it)

    def shown(self) -> str:
        """``15``, ``10 MB``."""
        return f"{self.value / 2**20:g} MB" if "bytes" in self.text else f"{self.value:g}"


SEED = "the provider's API page (the seed)"
UPSTREAM = "the upstream ModelArk pages (not the provider's page)"
UPSTREAM_MAX_INPUT_BYTES: Final = 10 * 1024 * 1024
UPSTREAM_MAX_INPUT_SIDE: Final = 6000
UPSTREAM_MAX_INPUT_ASPECT: Final = 16.0  # width / height between 1/16 and 16


def _warned(value: float, text: str) -> Limit:
    return Limit(value, text, UPSTREAM, refused=False)


LIMITS: Final[Mapping[str, Limit]] = MappingProxyType(
    {
        "n": Limit(
            MAX_IMAGES,
            "images per request (n)",
            "the seed states 1-15 only for a group's max_images",
            inferred=True,
        ),
        "max_images": Limit(MAX_IMAGES, "images in a group (max_images)", SEED),
        "reference_min_4.5": Limit(
            2,
            "reference images for action 'reference' on 4.5",
            "the seed states 2-10 for 4.0 and only 'up to 14' for 4.5",
            inferred=True,
        ),
        "refs_plus_outputs_4.0": Limit(
            MAX_REFS_PLUS_OUTPUTS, "reference images + output images on 4.0", SEED
        ),
        "input_bytes": Limit(MAX_INPUT_IMAGE_BYTES, "input image size (bytes)", SEED),
        "upstream_input_bytes": _warned(UPSTREAM_MAX_INPUT_BYTES, "input image size (bytes)"),
        "upstream_input_side": _warned(UPSTREAM_MAX_INPUT_SIDE, "pixels per input image side"),
        "upstream_input_aspect": _warned(
            UPSTREAM_MAX_INPUT_ASPECT, "input image aspect ratio (between 1:16 and 16:1)"
        ),
        "upstream_refs_plus_outputs": _warned(
            MAX_REFS_PLUS_OUTPUTS, "reference images + output images, on every model"
        ),
    }
)


# -- model ids the catalog does not know ------------------------------------------------------
# Sent only with ``strict=False``: then only model-independent rules apply, and the price is
# unknown unless the caller gives one.

MODEL_ID_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
GENERIC_RESOLUTIONS: Final = ("1K", "2K", "3K", "4K")
GENERIC_MAX_REFERENCES: Final = 14
_OFFERING = (MODELS[DEFAULT_MODEL], *MODELS.values())  # sizes of the first model offering each
_GENERIC_SIZES: Final = MappingProxyType(
    {
        r: next(s for s in _OFFERING if r in s.resolutions).pixel_sizes[r]
        for r in GENERIC_RESOLUTIONS
    }
)


@functools.lru_cache(maxsize=64)
def unknown_model(model_id: str, price_per_image_usd: float | None = None) -> ModelSpec:
    """Model-independent rules for an id the catalog does not know (``strict=False``)."""
    return ModelSpec(
        id=model_id,
        label=f"{model_id} (not in the catalog)",
        summary="a model id the catalog does not know: only model-independent rules apply",
        aliases=(),
        actions=ACTIONS,
        resolutions=GENERIC_RESOLUTIONS,
        aspect_ratios=ASPECT_RATIOS,
        output_formats=OUTPUT_FORMATS,
        price_per_image_usd=price_per_image_usd or 0.0,
        max_reference_images=GENERIC_MAX_REFERENCES,
        min_reference_images_for_fusion=2,
        max_reference_images_for_fusion=GENERIC_MAX_REFERENCES,
        max_refs_plus_outputs=None,
        pixel_sizes=_GENERIC_SIZES,
        upstream_options=tuple(UPSTREAM_OPTIONS),
        prompt_modes=PROMPT_MODES,
        known=False,
        price_known=price_per_image_usd is not None,
    )
