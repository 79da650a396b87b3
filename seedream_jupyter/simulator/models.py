"""Which rules a model id is served with: the catalog's, generic ones, or none.

The simulator serves catalog ids with the catalog's rules. An id the catalog does not know but
that looks like Seedream (``doubao-seedream-5.0-pro``) gets generic, model-independent rules, so
a client sending a new id with ``strict=False`` still gets images. Aliases (``4.5``) are not
ids: the provider does not know them, so neither does the simulator.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from .. import catalog
from ..catalog import ModelSpec
from .wire import ApiFailure

SEEDREAM_ID: Final = re.compile(r"^doubao-seedream-[a-z0-9][a-z0-9.-]*$")
GENERIC_RESOLUTIONS: Final = ("1K", "2K", "3K", "4K")
GENERIC_OUTPUT_FORMATS: Final = ("jpeg", "png")
GENERIC_MAX_REFERENCES: Final = 14


def _generic_sizes() -> Mapping[str, Mapping[str, tuple[int, int]]]:
    """Pixel sizes per resolution, borrowed from the first catalog model offering each."""
    preferred = [catalog.MODELS[catalog.DEFAULT_MODEL], *catalog.MODELS.values()]
    sizes = {}
    for resolution in GENERIC_RESOLUTIONS:
        spec = next(s for s in preferred if resolution in s.resolutions)
        sizes[resolution] = spec.pixel_sizes[resolution]
    return MappingProxyType(sizes)


_GENERIC_SIZES: Final = _generic_sizes()


def generic_spec(model_id: str) -> ModelSpec:
    """Model-independent rules for a Seedream id the catalog does not know."""
    return ModelSpec(
        id=model_id,
        label=f"{model_id} (generic rules)",
        summary="a Seedream model the catalog does not know, served with generic rules",
        aliases=(),
        actions=catalog.ACTIONS,
        resolutions=GENERIC_RESOLUTIONS,
        aspect_ratios=catalog.ASPECT_RATIOS,
        output_formats=GENERIC_OUTPUT_FORMATS,
        price_per_image_usd=catalog.MODELS[catalog.DEFAULT_MODEL].price_per_image_usd,
        max_reference_images=GENERIC_MAX_REFERENCES,
        min_reference_images_for_fusion=2,
        max_reference_images_for_fusion=GENERIC_MAX_REFERENCES,
        max_refs_plus_outputs=None,
        pixel_sizes=_GENERIC_SIZES,
    )


def model_rules(value: object) -> tuple[ModelSpec, bool]:
    """(rules, generic) for the ``model`` field; ``ApiFailure`` 400 when unusable."""
    if value is None:
        raise ApiFailure(
            400,
            "invalid_parameter",
            f"model: required; choose one of {', '.join(catalog.MODEL_IDS)}",
        )
    if not isinstance(value, str):
        raise ApiFailure(400, "invalid_parameter", "model: must be a string model id")
    if value in catalog.MODELS:
        return catalog.MODELS[value], False
    if SEEDREAM_ID.match(value):
        return generic_spec(value), True
    known = catalog.find_model(value)
    hint = f" (did you mean {known.id!r}?)" if known is not None else ""
    raise ApiFailure(
        400,
        "model_not_found",
        f"model: {value!r} does not exist{hint}; available: {', '.join(catalog.MODEL_IDS)}",
    )
