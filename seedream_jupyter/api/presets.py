"""Presets: the helpers with defaults bound.

    fox = sj.preset(model="4.5", aspect_ratio="16:9", resolution="4K")
    fox("a red fox")                          # sj.generate with those defaults
    fox.group("four seasons of one maple", max_images=4)
    fox.edit(image, "at night"); fox.image2image(...); fox.reference([a, b], "...")
    await fox.agenerate("..."); fox.batch(["...", "..."]); fox.sweep("a {animal}", animal=[...])
    fox.with_defaults(resolution="2K")        # another preset (None drops a default)

    %%seedream --preset fox                   # the cell's options still win

An argument given at the call wins over the preset's. The defaults are checked when the preset
is made: unknown keywords are refused, and so is any value that needs nothing else to be judged
(a 4.5 preset at 1K fails at ``sj.preset``, not at its first paid call).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

from .. import catalog
from ..errors import ValidationError
from ..images import to_image_urls
from ..request import GenerationRequest
from ..results import Result, ResultSet
from . import experiments, helpers, many
from .build import (
    REQUEST_FIELDS,
    RUN_OPTIONS,
    build_request,
    needs_references,
    resolve_cache,
    resolve_timeout,
    resolve_wait,
)
from .job import Job

PRESET_KEYWORDS: Final = frozenset(
    (REQUEST_FIELDS - {"prompt", "image_urls"}) | {"images", "group_size", *RUN_OPTIONS}
)


def _check(defaults: dict[str, Any]) -> dict[str, Any]:
    """The defaults, checked as far as they can be without a prompt and references."""
    unknown = sorted(set(defaults) - PRESET_KEYWORDS)
    if unknown:
        raise ValidationError(
            unknown[0],
            defaults[unknown[0]],
            f"not a helper keyword; a preset takes {', '.join(sorted(PRESET_KEYWORDS))}",
        )
    checked = {k: v for k, v in defaults.items() if v is not None}
    if "timeout" in checked:
        resolve_timeout(checked["timeout"])
    if "cache" in checked:
        resolve_cache(checked["cache"])
    if "wait" in checked:
        resolve_wait(checked["wait"])
    if "images" in checked:  # converted once; each call then sends these URLs
        checked["images"] = list(to_image_urls(checked["images"]))
    trial = {k: v for k, v in checked.items() if k not in (*RUN_OPTIONS, "images")}
    action = trial.get("action")
    model = trial.get("model")
    if isinstance(action, str) and needs_references(
        action, model if isinstance(model, str) else None
    ):
        trial.pop("action")  # judged below; its references come with each call
    if str(trial.get("aspect_ratio", "")).strip().lower() == catalog.AUTO_RATIO:
        trial.pop("aspect_ratio")  # `auto` follows each call's first reference
    request = build_request("(preset check)", warn=False, **trial)
    if "action" not in trial and isinstance(action, str):
        name = action.strip().lower()
        if not request.spec.supports(name):
            raise ValidationError(
                "action",
                action,
                f"{request.model} supports {', '.join(request.spec.actions)}; for {name!r} "
                f"use {', '.join(catalog.models_supporting(name))}",
            )
    if "model" in checked:
        checked["model"] = request.model
    return checked


class Preset:
    """The helpers (``generate`` and friends, ``batch``, ``sweep``) with defaults bound."""

    def __init__(self, **defaults: Any) -> None:
        self._defaults = _check(defaults)

    @property
    def defaults(self) -> Mapping[str, Any]:
        """The bound defaults (read-only)."""
        return MappingProxyType(self._defaults)

    def with_defaults(self, **changes: Any) -> Preset:
        """Another preset: these defaults changed (None drops one)."""
        merged = {**self._defaults, **changes}
        return Preset(**{k: v for k, v in merged.items() if v is not None})

    def __repr__(self) -> str:
        def shown(key: str, value: Any) -> str:
            if key == "images":
                return f"<{len(value)} image{'s' if len(value) != 1 else ''}>"
            return repr(value)

        inner = ", ".join(f"{k}={shown(k, v)}" for k, v in self._defaults.items())
        return f"preset({inner})"

    # -- merging -----------------------------------------------------------------------
    def _merged(self, given: Mapping[str, Any], **bound: Any) -> dict[str, Any]:
        """The preset's defaults, then what the helper binds, then the caller's arguments."""
        return {**self._defaults, **bound, **{k: v for k, v in given.items() if v is not None}}

    def _for_image_helper(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The merged keywords for a helper that binds its own ``images`` and ``action``."""
        return {k: v for k, v in self._merged(given).items() if k not in ("images", "action")}

    @staticmethod
    def _split(merged: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(request keywords, Job options)."""
        options: dict[str, Any] = {k: merged.pop(k) for k in RUN_OPTIONS if k in merged}
        return merged, options

    def request(self, prompt: str, **kw: Any) -> GenerationRequest:
        """The validated request a call would send (nothing is sent)."""
        params, _ = self._split(self._merged(kw))
        return build_request(prompt, **params)

    def start(self, prompt: str, **kw: Any) -> Job:
        """Start one generation in the background (``api.start``) and return its Job."""
        params, options = self._split(self._merged(kw))
        return helpers.start(build_request(prompt, **params), **options)

    # -- the helpers -------------------------------------------------------------------
    def generate(self, prompt: str, **kw: Any) -> Result:
        """``sj.generate`` with the preset's defaults (the arguments here win)."""
        return helpers.generate(prompt, **self._merged(kw))

    __call__ = generate

    def image2image(self, image: object, prompt: str, **kw: Any) -> Result:
        return helpers.image2image(image, prompt, **self._for_image_helper(kw))

    def edit(self, image: object, prompt: str, **kw: Any) -> Result:
        return helpers.edit(image, prompt, **self._for_image_helper(kw))

    def reference(self, images: object, prompt: str, **kw: Any) -> Result:
        return helpers.generate(prompt, **self._merged(kw, images=images, action="reference"))

    def group(self, prompt: str, max_images: int | None = None, **kw: Any) -> Result:
        size = max_images or self._defaults.get("max_images") or catalog.DEFAULT_GROUP_SIZE
        return helpers.generate(prompt, **self._merged(kw, action="group", max_images=size))

    async def agenerate(self, prompt: str, **kw: Any) -> Result:
        return await helpers.agenerate(prompt, **self._merged(kw))

    async def aimage2image(self, image: object, prompt: str, **kw: Any) -> Result:
        return await helpers.aimage2image(image, prompt, **self._for_image_helper(kw))

    async def aedit(self, image: object, prompt: str, **kw: Any) -> Result:
        return await helpers.aedit(image, prompt, **self._for_image_helper(kw))

    async def areference(self, images: object, prompt: str, **kw: Any) -> Result:
        merged = self._merged(kw, images=images, action="reference")
        return await helpers.agenerate(prompt, **merged)

    async def agroup(self, prompt: str, max_images: int | None = None, **kw: Any) -> Result:
        size = max_images or self._defaults.get("max_images") or catalog.DEFAULT_GROUP_SIZE
        return await helpers.agenerate(prompt, **self._merged(kw, action="group", max_images=size))

    # -- many --------------------------------------------------------------------------
    def batch(self, requests: Iterable[many.RequestLike], **kw: Any) -> ResultSet:
        """``sj.batch``: each prompt or dict item gets the preset's defaults (its own keys win);
        a ``GenerationRequest`` is sent as it is."""
        params, options = self._split(dict(self._defaults))
        items: list[many.RequestLike] = []
        for item in requests:
            if isinstance(item, str):
                items.append({**params, "prompt": item})
            elif isinstance(item, Mapping):
                items.append({**params, **item})
            else:
                items.append(item)
        return many.batch(items, **{**options, **kw})

    def sweep(self, prompt_template: str, **axes: Any) -> ResultSet:
        """``sj.sweep`` over the axes, the preset's defaults filling every other keyword."""
        return experiments.sweep(prompt_template, **{**self._defaults, **axes})


def preset(**defaults: Any) -> Preset:
    """The helpers with these defaults bound: ``fox = sj.preset(model="4.5")``; ``fox("...")``.

    Takes any helper keyword (``model``, ``aspect_ratio``, ``resolution``, ``n``, ``seed``,
    ``images``, ``extra``, ``optimize_prompt``, ``web_search``, ``callback_url``, ``strict``,
    ``timeout``, ``cache``, ``wait``, ``client``, ...); arguments at the call still win.
    """
    return Preset(**defaults)
