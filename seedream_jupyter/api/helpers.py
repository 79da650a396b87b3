"""The helpers: ``generate`` and friends, and their async twins, all built on ``Job``.

Each validates everything before sending, shows live progress in the caller's front-end while
it waits (a notebook cell or a terminal line, chosen at call time), and returns a ``Result``
whose ``.images`` are PIL images. Unset keywords take the session's settings
(``%config SeedreamMagic.model = ...`` reaches them).

The whole API reaches them too: ``extra={...}`` (upstream keys sent as they are),
``optimize_prompt=``, ``web_search=``, ``callback_url=``, ``wait="sync"``, ``strict=False``
(a model id the catalog does not know) with ``price_per_image_usd=``. ``preset`` binds
defaults to all of them (``api.presets``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from .. import _loop, catalog
from ..client import Client
from ..request import GenerationRequest
from ..results import Result
from ..session import ProgressView, session
from ..store import Store
from .build import UNSET, Unset, build_request, resolve_cache, resolve_timeout, resolve_wait
from .job import Job
from .waiting import TICK_SECONDS, refresh, say_if_simulated, wait_first


def start(
    request: GenerationRequest,
    *,
    client: Client | None = None,
    timeout: float | Unset | None = UNSET,
    cache: bool | Unset = UNSET,
    store: Store | None = None,
    budget_usd: float | None = None,
    wait: str | Unset = UNSET,
) -> Job:
    """Start a generation in the background and return its Job at once.

    ``wait="sync"`` submits with POST /v1/tasks/sync (see ``Job``); default: the session's
    ``wait`` setting, ``"poll"``.
    """
    return Job(
        request,
        client,
        timeout=resolve_timeout(timeout),
        cache=resolve_cache(cache),
        store=store,
        budget_usd=budget_usd,
        wait=resolve_wait(wait),
    )


def _start_shown(
    request: GenerationRequest,
    timeout: float | Unset | None,
    client: Client | None,
    cache: Any,
    wait: str | Unset,
) -> tuple[Job, ProgressView | None]:
    job = start(request, client=client, timeout=timeout, cache=cache, wait=wait)
    view = session().progress(request.prompt)
    if view is not None:
        view.add(job)
    return job, view


def _run_helper(
    prompt: str,
    timeout: float | Unset | None,
    client: Client | None,
    cache: Any,
    wait: str | Unset = UNSET,
    **kw: Any,
) -> Result:
    request = build_request(prompt, **kw)
    return run_request(request, cache=cache, client=client, timeout=timeout, wait=wait)


def run_request(
    request: GenerationRequest,
    *,
    cache: bool | Unset = UNSET,
    client: Client | None = None,
    timeout: float | Unset | None = UNSET,
    wait: str | Unset = UNSET,
) -> Result:
    """Send one validated request and wait for its Result, showing progress meanwhile (what
    every sync helper and ``replay`` do)."""
    resolve_timeout(timeout)  # a bad timeout (or wait) is refused before anything is sent
    resolve_wait(wait)
    _loop.refuse_in_loop_thread("a sync helper (generate, edit, group, replay, ...)")
    job, view = _start_shown(request, timeout, client, cache, wait)
    try:
        wait_first([job.future], view)
        result = job.wait()
    except KeyboardInterrupt:
        job.cancel()
        raise
    finally:
        refresh(view, final=True)
    say_if_simulated(result, view)
    return result


async def _arun_helper(
    prompt: str,
    timeout: float | Unset | None,
    client: Client | None,
    cache: Any,
    wait: str | Unset = UNSET,
    **kw: Any,
) -> Result:
    request = build_request(prompt, **kw)
    job, view = _start_shown(request, timeout, client, cache, wait)
    waiting = asyncio.ensure_future(job._await())
    try:
        while not waiting.done():
            await asyncio.wait({waiting}, timeout=TICK_SECONDS if view else None)
            refresh(view)
        result = waiting.result()
    finally:
        if not waiting.done():  # we were cancelled: let the job's cancel finish first
            waiting.cancel()
            await asyncio.wait({waiting})
        refresh(view, final=True)
    say_if_simulated(result, view)
    return result


def generate(
    prompt: str,
    model: str | None = None,
    n: int = 1,
    seed: int = -1,
    aspect_ratio: str | None = None,
    resolution: str | None = None,
    images: object = None,
    watermark: bool | None = None,
    *,
    action: str | None = None,
    timeout: float | Unset | None = UNSET,
    client: Client | None = None,
    cache: bool | Unset = UNSET,
    wait: str | Unset = UNSET,
    extra: dict[str, Any] | None = None,
    optimize_prompt: str | None = None,
    web_search: bool = False,
    callback_url: str | None = None,
    strict: bool | None = None,
    **params: Any,
) -> Result:
    """Generate images and return a Result whose ``.images`` are PIL images.

    Unset ``model``, ``aspect_ratio``, ``resolution``, ``watermark``, ``timeout``, ``cache``,
    ``wait`` and ``strict`` come from the session (``%config SeedreamMagic.*``, then the
    environment). ``timeout`` bounds the whole generation (submit, polls and downloads;
    None: no limit).

    ``seed``: -1 is random; a fixed seed reproduces *similar* (not identical) results, and an
    identical fixed-seed request already in the history is answered from disk, with nothing
    billed (``cache=False`` pays for a new one).

    The whole API: ``extra`` is merged into the body as upstream options (it can never set
    a validated field); ``optimize_prompt="standard"|"fast"`` and ``web_search=True`` are
    checked against the model; where they go (top-level keys, or one ``extra`` object: the
    gateway's choice is not confirmed) is the session's ``upstream_placement``.
    ``callback_url`` gets a POST when the task ends. ``wait="sync"`` uses POST
    /v1/tasks/sync (no poll delay; see ``Job``). ``strict=False`` sends a model id the
    catalog does not know, with generic rules and an unknown price (``price_per_image_usd=``).

    >>> res = generate("a red fox in snow", model="4.5", aspect_ratio="16:9")
    >>> res.images[0].size
    (2560, 1440)
    """
    return _run_helper(
        prompt,
        timeout,
        client,
        cache,
        wait,
        extra=extra,
        optimize_prompt=optimize_prompt,
        web_search=web_search,
        callback_url=callback_url,
        strict=strict,
        model=model,
        n=n,
        seed=seed,
        aspect_ratio=aspect_ratio,
        resolution=resolution,
        images=images,
        watermark=watermark,
        action=action,
        **params,
    )


async def agenerate(
    prompt: str,
    model: str | None = None,
    n: int = 1,
    seed: int = -1,
    aspect_ratio: str | None = None,
    resolution: str | None = None,
    images: object = None,
    watermark: bool | None = None,
    *,
    action: str | None = None,
    timeout: float | Unset | None = UNSET,
    client: Client | None = None,
    cache: bool | Unset = UNSET,
    wait: str | Unset = UNSET,
    extra: dict[str, Any] | None = None,
    optimize_prompt: str | None = None,
    web_search: bool = False,
    callback_url: str | None = None,
    strict: bool | None = None,
    **params: Any,
) -> Result:
    """``generate`` for ``await`` (works in a notebook cell's running loop)."""
    return await _arun_helper(
        prompt,
        timeout,
        client,
        cache,
        wait,
        extra=extra,
        optimize_prompt=optimize_prompt,
        web_search=web_search,
        callback_url=callback_url,
        strict=strict,
        model=model,
        n=n,
        seed=seed,
        aspect_ratio=aspect_ratio,
        resolution=resolution,
        images=images,
        watermark=watermark,
        action=action,
        **params,
    )


def image2image(image: object, prompt: str, **kw: Any) -> Result:
    """Image-to-image from one or more reference images."""
    return generate(prompt, images=image, action="image2image", **kw)


def edit(image: object, prompt: str, **kw: Any) -> Result:
    """Edit one image (inpainting, lighting changes); Seedream 4.0 / 4.5."""
    return generate(prompt, images=image, action="edit", **kw)


def reference(images: object, prompt: str, **kw: Any) -> Result:
    """Fuse several reference images into one picture; Seedream 4.0 / 4.5."""
    return generate(prompt, images=images, action="reference", **kw)


def group(prompt: str, max_images: int = catalog.DEFAULT_GROUP_SIZE, **kw: Any) -> Result:
    """A themed set of up to ``max_images`` images (sequential_image_generation=auto)."""
    return generate(prompt, action="group", max_images=max_images, **kw)


async def aimage2image(image: object, prompt: str, **kw: Any) -> Result:
    return await agenerate(prompt, images=image, action="image2image", **kw)


async def aedit(image: object, prompt: str, **kw: Any) -> Result:
    return await agenerate(prompt, images=image, action="edit", **kw)


async def areference(images: object, prompt: str, **kw: Any) -> Result:
    return await agenerate(prompt, images=images, action="reference", **kw)


async def agroup(prompt: str, max_images: int = catalog.DEFAULT_GROUP_SIZE, **kw: Any) -> Result:
    return await agenerate(prompt, action="group", max_images=max_images, **kw)


def default_client() -> Client:
    """The session's shared client (the embedded simulator when no key is set)."""
    return session().client()
