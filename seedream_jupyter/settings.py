"""What each setting is: its default, its help, the environment variable that can set it,
and the check that refuses a bad value with the fix. ``session.Session`` applies them
(argument > ``%config`` > environment > default); the magic's ``%config SeedreamMagic.<name>``
traitlets are made from them (``magic.settings``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from . import catalog, config
from .errors import ConfigurationError


@dataclass(frozen=True)
class Setting:
    """One setting: its default, what it does, and the environment variable that can set it.
    The magic's ``%config SeedreamMagic.<name>`` traitlets are made from these."""

    default: Any
    help: str
    env: str | None = None
    parse: Callable[[str], Any] = str
    check: Callable[[Any], Any] | None = None  # refuses a bad value, with the fix

    def checked(self, name: str, value: Any, source: str | None = None) -> Any:
        """``value`` as the setting takes it; a ``ConfigurationError`` naming ``source``."""
        if value is None or self.check is None:
            return value
        try:
            return self.check(value)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{source or f'SeedreamMagic.{name}'}: {exc}") from None

    @property
    def sentence(self) -> str:
        """The help as a sentence naming the environment variable: ``%config`` help text."""
        also = f" (also {self.env})" if self.env else ""
        return f"{self.help[0].upper()}{self.help[1:]}{also}."


_RATIOS = " ".join(catalog.ASPECT_RATIOS)
SETTINGS: Final[dict[str, Setting]] = {
    "model": Setting(
        catalog.DEFAULT_MODEL,
        f"the model when none is given: an id or alias ({', '.join(catalog.MODEL_IDS)})",
    ),
    "aspect_ratio": Setting(
        catalog.DEFAULT_ASPECT_RATIO, f"the aspect ratio when none is given: {_RATIOS}"
    ),
    "resolution": Setting(
        catalog.DEFAULT_RESOLUTION,
        f"the resolution when none is given: {' '.join(catalog.RESOLUTIONS)} (what the model "
        "offers)",
    ),
    "watermark": Setting(catalog.DEFAULT_WATERMARK, "add the provider's watermark by default"),
    "timeout": Setting(
        300.0,
        "seconds a generation may take in all: submit, polls and downloads (None, or 0 in "
        "%config: no limit)",
        check=config.positive_seconds,
    ),
    "cache": Setting(
        True,
        "answer an identical request with a fixed seed from the history on disk instead of "
        "paying again (cache=False or --no-cache pays for a new one)",
    ),
    "budget_usd": Setting(
        None,
        "refuse a real (billed) submit that would take the recorded spend past this many US "
        "dollars. None: no budget",
        config.ENV_BUDGET,
        functools.partial(config.dollars, config.ENV_BUDGET),
        config.at_least_zero_dollars,
    ),
    "base_url": Setting(
        None,
        f"the API's base URL. None: the provider's ({catalog.DEFAULT_BASE_URL})",
        config.ENV_BASE_URL,
        check=config.normalize_base_url,
    ),
    "home": Setting(None, "where the history and saved images live", config.ENV_HOME),
    "simulator": Setting(
        False, "always use the embedded simulator, even with a key", config.ENV_SIMULATOR
    ),
    "thumbnail_size": Setting(
        960, "long side in pixels (64 to 2048) of the gallery thumbnails sent to the front-end"
    ),
    "confirm_above_usd": Setting(
        1.0,
        "a billed sweep, comparison or batch estimated above this many US dollars asks first "
        "(%%seedream --vary, the panel) or needs confirm=True (the helpers). None: never",
        check=config.at_least_zero_dollars,
    ),
    # the whole API (issue 15)
    "strict_models": Setting(
        True,
        "refuse model ids the catalog does not know. False: send them with model-independent "
        "rules and an unknown price (a warning says so)",
    ),
    "price_per_image_usd": Setting(
        None,
        "per-image price (USD) of model ids the catalog does not know, for estimates and the "
        "budget. None: unknown (a budget then refuses them)",
    ),
    "upstream_placement": Setting(
        catalog.DEFAULT_UPSTREAM_PLACEMENT,
        "where upstream options (extra, optimize_prompt, web_search) go in the body: "
        "'top-level' keys or one 'extra' object (the gateway's choice is not confirmed)",
    ),
    "wait": Setting(
        catalog.WAIT_MODES[0],
        "'poll': submit, then poll; 'sync': POST /v1/tasks/sync (the server answers when the "
        "task ends; an interrupt or lost connection meanwhile leaves an unnamed task)",
    ),
    "history": Setting(
        True,
        "keep the history on disk; a submit is refused when it cannot be written. False: no "
        "history and no saved images, nothing refused",
        config.ENV_HISTORY,
    ),
}


__all__ = ["SETTINGS", "Setting"]
