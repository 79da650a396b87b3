"""The panel's "advanced" box: upstream options, ``extra`` as JSON, and a callback URL.

Collapsed by default under the form. Its choices come from the catalog for the selected
model (prompt-optimisation modes; web search only where the model has it), and every value is
checked before sending: the JSON box must hold one object (its keys never override a validated
field), the callback URL must be http(s) with a host. ``size_text`` is the form's size line,
where ``auto`` follows the first reference as the simulator maps it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Final

import ipywidgets as widgets

from .. import catalog, upstream
from ..catalog import ModelSpec
from ..errors import ValidationError
from ..request import GenerationRequest
from .choices import LABEL_WIDTH, quiet_html, short_name

EXTRA_PLACEHOLDER: Final = '{"stream": false}   (upstream options, sent as they are)'
OFF: Final = "off"


class AdvancedBox:
    """Upstream options, ``extra`` JSON and a callback URL; ``params()`` for the request."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []
        style = {"description_width": LABEL_WIDTH}
        self.optimize_prompt = widgets.Dropdown(
            options=[OFF], value=OFF, description="optimize prompt", style=style
        )
        self.optimize_prompt.add_class("sjp-optimize-prompt")
        self.web_search = widgets.Checkbox(value=False, description="web search", indent=False)
        self.web_search.add_class("sjp-web-search")
        self.callback_url = widgets.Text(
            placeholder="https://… (POSTed the task when it ends)",
            description="callback URL",
            style=style,
            layout=widgets.Layout(width="480px"),
        )
        self.callback_url.add_class("sjp-callback-url")
        self.extra = widgets.Textarea(
            placeholder=EXTRA_PLACEHOLDER,
            description="extra (JSON)",
            style=style,
            layout=widgets.Layout(width="480px", height="64px"),
        )
        self.extra.add_class("sjp-extra")
        self.note = widgets.HTML()
        self.note.add_class("sjp-advanced-note")
        for w in (self.optimize_prompt, self.web_search, self.callback_url, self.extra):
            w.observe(lambda _c: self._changed(), names="value")
        inner = widgets.VBox(
            [
                widgets.HBox([self.optimize_prompt, self.web_search]),
                self.callback_url,
                self.extra,
                self.note,
            ]
        )
        # A toggle, not an Accordion: the Accordion's chevron is an icon-font glyph, and
        # Notebook 7 answers 403 for ipywidgets' icon font (a console error, a blank glyph).
        inner.layout.display = "none"
        self.toggle = widgets.ToggleButton(
            value=False,
            description="advanced ▸",
            tooltip="upstream options, a callback URL and extra JSON",
            layout=widgets.Layout(width="auto"),
        )
        self.toggle.add_class("sjp-advanced-toggle")

        def show(change: dict[str, object]) -> None:
            opened = bool(change["new"])
            inner.layout.display = "" if opened else "none"
            self.toggle.description = "advanced ▾" if opened else "advanced ▸"

        self.toggle.observe(show, names="value")
        self.box = widgets.VBox([self.toggle, inner])
        self.box.add_class("sjp-advanced")

    def observe(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)

    def _changed(self) -> None:
        try:
            self.params()
            self.note.value = ""
        except ValidationError as exc:
            self.note.value = quiet_html(
                f"{exc.field}: {exc.allowed}", "sjp-error", "color: var(--jp-error-color1, #c62828)"
            )
        for fn in list(self._listeners):
            fn()

    def apply_model(self, spec: ModelSpec) -> None:
        """Offer what ``spec`` takes; a choice it does not take is switched off, and said so."""
        said: list[str] = []
        modes = spec.prompt_modes if spec.takes("optimize_prompt") else ()
        if self.optimize_prompt.value not in (OFF, *modes):
            said.append(f"optimize prompt {self.optimize_prompt.value} → off")
        value = self.optimize_prompt.value if self.optimize_prompt.value in modes else OFF
        self.optimize_prompt.options = [OFF, *modes]
        self.optimize_prompt.value = value
        has_search = spec.takes("web_search")
        if self.web_search.value and not has_search:
            self.web_search.value = False
            said.append("web search → off")
        self.web_search.disabled = not has_search
        takers = [short_name(s.id) for s in catalog.MODELS.values() if s.takes("web_search")]
        self.web_search.tooltip = (
            "let the model search the web for up-to-date facts"
            if has_search
            else f"{short_name(spec.id)} has no web search ({', '.join(takers)} does)"
        )
        self.note.value = (
            quiet_html(f"{short_name(spec.id)} does not take: " + ", ".join(said), "sjp-note")
            if said
            else ""
        )

    def params(self) -> dict[str, Any]:
        """Keyword arguments for ``api.build_request``; a ValidationError names what to fix."""
        text = str(self.extra.value).strip()
        extra: Any = None
        if text:
            try:
                extra = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValidationError(
                    "extra", text[:60], f'not JSON ({exc.msg}); write e.g. {{"stream": false}}'
                ) from None
            if not isinstance(extra, dict):
                raise ValidationError("extra", text[:60], 'one JSON object, e.g. {"stream": false}')
            upstream.check_extra(extra)
        url = str(self.callback_url.value).strip() or None
        upstream.check_callback_url(url)
        mode = self.optimize_prompt.value
        return {
            "extra": extra,
            "callback_url": url,
            "optimize_prompt": None if mode == OFF else mode,
            "web_search": bool(self.web_search.value),
        }


def size_text(spec: ModelSpec, resolution: str, ratio: str, reference_urls: Sequence[str]) -> str:
    """`` · 1440×2560 px (auto → 9:16)`` for the size line; ``auto`` follows the first
    reference, mapped as the simulator maps it."""
    label = ""
    if ratio == catalog.AUTO_RATIO:
        if not reference_urls:
            return " · auto needs a reference image"
        resolved = upstream.auto_ratio(reference_urls, spec)
        if resolved is None:
            return " · auto: the reference's ratio (its size is unknown here)"
        ratio, label = resolved, f" (auto → {resolved})"
    try:
        width, height = spec.pixel_size(resolution, ratio)
    except KeyError:
        return ""
    return f" · {width}×{height} px{label}"


def warnings_text(request: GenerationRequest) -> str:
    """What is sent anyway (an unknown model id, a limit only upstream states), one per line."""
    return "\n".join(str(w) for w in request.warnings())
