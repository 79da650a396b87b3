"""Rows of options whose availability comes from the catalog: which model offers what, and why
not. Also ``quiet_html``: escaped text that MathJax leaves alone."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import ipywidgets as widgets

from .. import catalog
from ..catalog import ModelSpec
from ..errors import ValidationError

LABEL_WIDTH: Final = "96px"


def quiet_html(text: str, css_class: str = "", style: str = "") -> str:
    """``text`` escaped inside a div that MathJax leaves alone (``$`` is money here, not TeX).

    ipywidgets typesets Label and HTML values; ``mathjax_ignore`` (MathJax 3) and
    ``tex2jax_ignore`` (MathJax 2) keep prices and user text literal.
    """
    style_attr = f' style="{html.escape(style)}"' if style else ""
    return (
        f'<div class="mathjax_ignore tex2jax_ignore {html.escape(css_class)}"{style_attr}>'
        f"{html.escape(text)}</div>"
    )


# -- reasons --------------------------------------------------------------------------------


def short_name(model_id: str) -> str:
    """``doubao-seedream-4.5`` -> ``4.5``."""
    return model_id.removeprefix("doubao-seedream-")


def _others(model_ids: Sequence[str]) -> str:
    names = [short_name(m) for m in model_ids]
    if not names:
        return "no model does"
    return f"{', '.join(names)} {'does' if len(names) == 1 else 'do'}"


_OFFERED: Final[dict[str, Callable[[ModelSpec], Sequence[str]]]] = {
    "action": lambda m: m.actions,
    "aspect ratio": lambda m: m.aspect_ratios,
    "resolution": lambda m: m.resolutions,
    "output format": lambda m: m.output_formats,
}


def who_can(kind: str, value: str) -> str:
    """``4.5, 4.0 do`` — the models that offer ``value`` (an action, ratio, ...)."""
    return _others([m.id for m in catalog.MODELS.values() if value in _OFFERED[kind](m)])


def why_not(spec: ModelSpec, kind: str, value: str) -> str | None:
    """Why ``spec`` cannot do ``value`` (an action, ratio, resolution or format), or None."""
    if value in _OFFERED[kind](spec):
        return None
    verb = "support" if kind == "action" else f"offer {kind}"
    return f"{short_name(spec.id)} does not {verb} {value} ({who_can(kind, value)})"


def not_offered_note(spec: ModelSpec, missing: dict[str, list[str]]) -> str:
    """``not on 5.0-lite — action: edit, reference (4.5, 4.0 do) · resolution: 1K (4.0 does)``"""
    parts = []
    for kind, values in missing.items():
        by_who: dict[str, list[str]] = {}
        for value in values:
            by_who.setdefault(who_can(kind, value), []).append(value)
        listed = ", ".join(f"{', '.join(vals)} ({who})" for who, vals in by_who.items())
        parts.append(f"{kind}: {listed}")
    return f"not on {short_name(spec.id)} — " + " · ".join(parts) if parts else ""


# -- a row of options, some disabled with a reason ------------------------------------------


class ChoiceGroup:
    """Radio-style toggle buttons; each option can be disabled with a reason (its tooltip)."""

    def __init__(
        self, label: str, options: Sequence[str], value: str, *, help_text: Mapping[str, str] | None
    ) -> None:
        self.options = tuple(options)
        if value not in self.options:
            raise ValidationError(label, value, f"choose one of {', '.join(self.options)}")
        self._value = value
        self._syncing = False
        self._listeners: list[Callable[[str], None]] = []
        self._help = dict(help_text or {})
        self.reasons: dict[str, str] = {}
        self.buttons: dict[str, widgets.ToggleButton] = {}
        for option in self.options:
            button = widgets.ToggleButton(
                value=option == value,
                description=option,
                tooltip=self._help.get(option, option),
                layout=widgets.Layout(width="auto", min_width="44px"),
            )
            button.add_class("sjp-choice")
            button.add_class(f"sjp-choice-{_css_token(option)}")
            button.observe(self._make_handler(option), names="value")
            self.buttons[option] = button
        title = widgets.Label(label, layout=widgets.Layout(width=LABEL_WIDTH, flex="0 0 auto"))
        # the buttons wrap inside their own column, never under the row's label
        buttons = widgets.HBox(
            list(self.buttons.values()), layout=widgets.Layout(flex_flow="row wrap", flex="1 1 0")
        )
        buttons.add_class("sjp-choices")
        self.box = widgets.HBox([title, buttons], layout=widgets.Layout(align_items="flex-start"))
        self.box.add_class(f"sjp-{_css_token(label)}")

    @property
    def value(self) -> str:
        return self._value

    @value.setter
    def value(self, option: str) -> None:
        if option not in self.buttons:
            raise ValueError(f"{option!r} is not one of {self.options}")
        changed = option != self._value
        self._value = option
        self._sync_buttons()
        if changed:
            for fn in list(self._listeners):
                fn(option)

    def observe(self, fn: Callable[[str], None]) -> None:
        self._listeners.append(fn)

    def enabled(self, option: str) -> bool:
        return not self.buttons[option].disabled

    def set_reasons(self, reasons: dict[str, str]) -> None:
        """Disable exactly the options named in ``reasons`` (option -> why not)."""
        self.reasons = dict(reasons)
        for option, button in self.buttons.items():
            reason = reasons.get(option)
            button.disabled = reason is not None
            button.tooltip = reason or self._help.get(option, option)

    def _sync_buttons(self) -> None:
        self._syncing = True
        try:
            for option, button in self.buttons.items():
                button.value = option == self._value
        finally:
            self._syncing = False

    def _make_handler(self, option: str) -> Callable[[dict[str, Any]], None]:
        def handler(change: dict[str, Any]) -> None:
            if self._syncing:
                return
            if change["new"]:
                self.value = option
            else:  # a click on the pressed button keeps it pressed
                self._sync_buttons()

        return handler


def _css_token(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower())
