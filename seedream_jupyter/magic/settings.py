"""The ``%config SeedreamMagic.<name>`` settings: one traitlet per ``session.SETTINGS`` entry.

Each traitlet's default and help text come from its ``Setting``, the one home of both
(``trait`` and ``choice`` make the traitlet, declared on the magic with its type). This module
adds only what a traitlet needs besides: a validator where a value can be refused at once (the
model through ``request.resolve_model``, the price through ``upstream.check_price``, the
catalog's ratios and resolutions), and handing every change to the session, so the helpers and
the panel follow it too (``share``).
"""

from __future__ import annotations

from typing import Any

from traitlets import Enum, TraitError, TraitType, observe, validate
from traitlets.config import Configurable

from .. import catalog, upstream
from ..errors import ConfigurationError, ValidationError
from ..request import resolve_model
from ..session import SETTINGS, session

THUMBNAIL_SIDES = (64, 2048)  # the range of thumbnail_size, in pixels


def trait(kind: type[TraitType[Any, Any]], name: str, **kw: Any) -> Any:
    """The traitlet of setting ``name``: its default and help from ``SETTINGS``."""
    setting = SETTINGS[name]
    if setting.default is None:
        kw["allow_none"] = True
    return kind(setting.default, help=setting.sentence, **kw).tag(config=True)


def choice(name: str, values: tuple[str, ...]) -> Any:
    """The traitlet of setting ``name`` that takes one of ``values``."""
    setting = SETTINGS[name]
    return Enum(list(values), setting.default, help=setting.sentence).tag(config=True)


class MagicSettings(Configurable):
    """What the magic's settings traitlets share (a mixin of ``SeedreamMagic``, which declares
    the traitlets with ``trait`` and ``choice``): validators, and handing changes on."""

    strict_models: bool

    @observe(*SETTINGS)
    def _share(self, change: Any) -> None:
        self.share(change["name"])

    def share(self, name: str) -> None:
        """Hand one setting to the session, where the helpers and the panel read it."""
        value = getattr(self, name)
        if name == "timeout":
            value = value if value else None  # 0 = no limit
        session().configure(**{name: value})

    # -- validators --------------------------------------------------------------------------
    @validate("model")
    def _valid_model(self, proposal: Any) -> str:
        # strict_models may come later in the same config: read it there too
        configured = self.config.get(type(self).__name__, {}).get("strict_models", True)
        strict = self.strict_models and configured is not False
        try:
            return resolve_model(str(proposal["value"]), strict).id
        except ValidationError as exc:
            raise TraitError(f"model {exc.value!r}: {exc.allowed}") from None

    @validate("aspect_ratio")
    def _valid_ratio(self, proposal: Any) -> str:
        ratio = str(proposal["value"]).strip().lower()
        if ratio not in catalog.ASPECT_RATIOS:
            raise TraitError(
                f"aspect ratio {ratio!r}: choose one of {' '.join(catalog.ASPECT_RATIOS)}"
            )
        return ratio

    @validate("resolution")
    def _valid_resolution(self, proposal: Any) -> str:
        res = str(proposal["value"]).strip().upper()
        if res not in catalog.RESOLUTIONS:
            raise TraitError(f"resolution {res!r}: choose one of {' '.join(catalog.RESOLUTIONS)}")
        return res

    @validate("thumbnail_size")
    def _valid_thumb(self, proposal: Any) -> int:
        size = int(proposal["value"])
        low, high = THUMBNAIL_SIDES
        if not low <= size <= high:
            raise TraitError(f"thumbnail_size must be between {low} and {high} pixels")
        return size

    @validate("timeout", "budget_usd", "confirm_above_usd", "base_url")
    def _valid_setting(self, proposal: Any) -> Any:
        name, value = proposal["trait"].name, proposal["value"]
        if name == "timeout" and value == 0:
            return value  # no limit, as the help says (shared as None)
        try:
            return SETTINGS[name].checked(name, value)
        except ConfigurationError as exc:
            raise TraitError(str(exc)) from None

    @validate("price_per_image_usd")
    def _valid_price(self, proposal: Any) -> float | None:
        try:
            return upstream.check_price(proposal["value"], known=False)
        except ValidationError as exc:
            raise TraitError(f"price_per_image_usd: {exc.allowed}, or None") from None
