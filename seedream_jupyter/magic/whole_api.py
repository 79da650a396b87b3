"""The whole API in ``%%seedream``: upstream options, callbacks, sync submits, presets and
model ids the catalog does not know.

- ``add_options``: ``--extra KEY=VALUE`` (VALUE read as JSON, else as text; repeatable),
  ``--optimize-prompt``, ``--web-search``, ``--callback-url``, ``--wait``, ``--preset NAME``,
  ``--no-strict`` and ``--price``.
- ``request_options`` / ``find_preset`` / ``cost_line``: what the magic's cell builds from them.

Their ``%config SeedreamMagic.*`` settings (``strict_models``, ``price_per_image_usd``,
``upstream_placement``, ``wait``) are traitlets like every other (``settings``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from IPython.core.error import UsageError

from .. import catalog, upstream
from ..errors import ValidationError
from ..request import GenerationRequest

if TYPE_CHECKING:  # the api is imported on use: %load_ext stays light
    from ..api import Preset


def _extra_item(text: str) -> tuple[str, Any]:
    """``key=value`` with the value read as JSON (``true``, ``3``, ``{"a": 1}``), else as text."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--extra takes KEY=VALUE, not {text!r}")
    try:
        value: Any = json.loads(raw)
    except ValueError as exc:
        if raw.lstrip()[:1] in ("{", "["):  # meant as JSON: sending it as text would hide that
            raise argparse.ArgumentTypeError(
                f"--extra {key.strip()}=...: not valid JSON ({exc}); write it as JSON, e.g. "
                f'--extra {key.strip()}=\'{{"mode": "fast"}}\''
            ) from None
        value = raw
    return key.strip(), value


def _price(text: str) -> float:
    try:
        value = float(text)
        upstream.check_price(value, known=False)
    except ValueError as exc:  # not a number, or a ValidationError
        allowed = exc.allowed if isinstance(exc, ValidationError) else "US dollars per image"
        raise argparse.ArgumentTypeError(f"--price {text}: {allowed}") from None
    return value


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--extra",
        action="append",
        default=[],
        type=_extra_item,
        metavar="KEY=VALUE",
        help="an upstream option sent as is (VALUE read as JSON, else as text; repeatable), "
        "e.g. --extra stream=false; it can never set a validated field",
    )
    p.add_argument(
        "--optimize-prompt",
        choices=catalog.PROMPT_MODES,
        help="let the model rewrite the prompt first (standard; fast on 4.0 only)",
    )
    p.add_argument(
        "--web-search", action="store_true", help="let the model search the web (5.0-lite only)"
    )
    p.add_argument(
        "--callback-url",
        metavar="URL",
        help="an http(s) URL the server POSTs the task to at its end",
    )
    p.add_argument(
        "--wait",
        choices=catalog.WAIT_MODES,
        help="poll: submit, then poll (default); sync: POST /v1/tasks/sync, the server answers "
        "when the task ends (lowest latency for short tasks)",
    )
    p.add_argument(
        "--preset",
        metavar="NAME",
        help="a variable holding sj.preset(...): its defaults fill the options not given here",
    )
    p.add_argument(
        "--no-strict",
        action="store_true",
        help="send a model id the catalog does not know (generic rules; price unknown)",
    )
    p.add_argument(
        "--price",
        type=_price,
        metavar="USD",
        help="per-image price of a model id the catalog does not know (estimate and budget)",
    )


class _Args(Protocol):
    extra: list[tuple[str, Any]]
    optimize_prompt: str | None
    web_search: bool
    callback_url: str | None
    no_strict: bool
    price: float | None


def request_options(args: _Args) -> dict[str, Any]:
    """``build_request`` keywords from the cell's whole-API options (None: not given)."""
    return {
        "extra": dict(args.extra) or None,
        "optimize_prompt": args.optimize_prompt,
        "web_search": True if args.web_search else None,
        "callback_url": args.callback_url,
        "strict": False if args.no_strict else None,
        "price_per_image_usd": args.price,
    }


def find_preset(name: str | None, namespace: Mapping[str, Any]) -> Preset | None:
    """The ``sj.preset(...)`` held by the variable ``name``; a UsageError when it is not one."""
    if name is None:
        return None
    from ..api import Preset

    value = namespace.get(name)
    if not isinstance(value, Preset):
        what = "no variable by that name" if name not in namespace else type(value).__name__
        raise UsageError(
            f"%%seedream: --preset {name}: {what}; make one first, e.g. "
            f'{name} = sj.preset(model="4.5", aspect_ratio="16:9")'
        )
    return value


def cost_line(request: GenerationRequest) -> str:
    """What a dry run says of the cost and size."""
    width, height = request.pixel_size
    size = (
        f"{width}×{height} px each"
        if request.resolved_aspect_ratio
        else ("each the first reference's ratio (unknown until it returns)")
    )
    if not request.price_known:
        count = request.output_count
        return (
            f"estimated cost: unknown ({request.model} is not in the catalog; --price USD or "
            f"%config SeedreamMagic.price_per_image_usd prices it); up to {count} image"
            f"{'s' if count != 1 else ''}, {size}"
        )
    return f"estimated cost: {request.cost_breakdown()}; {request.ratio_label}, {size}"
