"""The panel's form: every choice comes from the catalog for the selected model.

``PanelForm`` owns the input widgets and turns them into a ``GenerationRequest``
(``request()``). Switching model re-reads the catalog: options the model cannot
do are disabled, with the reason in their tooltip and in a visible note line, and
a selection that became impossible falls back to one that is possible.

All user text reaches the page through widget values and descriptions (which the
front-end renders as text) or through ``html.escape``; never as raw HTML.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import anywidget
import ipywidgets as widgets
import traitlets

from . import catalog, images
from .api import build_request
from .catalog import ModelSpec
from .errors import ValidationError
from .request import GenerationRequest

LABEL_WIDTH: Final = "96px"
THUMB_SIDE: Final = 72

_PROMPT_ESM: Final = """
function render({ model, el }) {
  const area = document.createElement("textarea");
  area.className = "sjp-prompt";
  area.rows = model.get("rows");
  area.placeholder = model.get("placeholder");
  area.value = model.get("value");
  area.spellcheck = true;
  area.setAttribute("aria-label", "prompt");
  const push = () => {
    if (model.get("value") !== area.value) {
      model.set("value", area.value);
      model.save_changes();
    }
  };
  area.addEventListener("input", push);
  area.addEventListener("change", push);
  area.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      // Ours, not the notebook's "run cell" shortcut.
      event.preventDefault();
      event.stopPropagation();
      push();
      model.send({ type: "submit" });
    }
  });
  const pull = () => {
    if (area.value !== model.get("value")) area.value = model.get("value");
  };
  model.on("change:value", pull);
  model.on("change:disabled", () => { area.disabled = model.get("disabled"); });
  area.disabled = model.get("disabled");
  el.appendChild(area);
  return () => model.off("change:value", pull);
}
export default { render };
"""

_PROMPT_CSS: Final = """
.sjp-prompt {
  width: 100%;
  box-sizing: border-box;
  min-height: 4.5em;
  resize: vertical;
  padding: 6px 8px;
  font-family: var(--jp-content-font-family, system-ui, sans-serif);
  font-size: var(--jp-content-font-size1, 14px);
  color: var(--jp-ui-font-color1, inherit);
  background: var(--jp-layout-color1, white);
  border: var(--jp-border-width, 1px) solid var(--jp-border-color1, #bbb);
  border-radius: 3px;
}
.sjp-prompt:focus { outline: 1px solid var(--jp-brand-color1, #1976d2); }
"""


class PromptArea(anywidget.AnyWidget):
    """A multi-line prompt box; Ctrl/Cmd+Enter sends a ``submit`` message to Python."""

    _esm = traitlets.Unicode(_PROMPT_ESM).tag(sync=True)
    _css = traitlets.Unicode(_PROMPT_CSS).tag(sync=True)
    value = traitlets.Unicode("").tag(sync=True)
    placeholder = traitlets.Unicode("Describe the image… (Ctrl/Cmd+Enter generates)").tag(sync=True)
    rows = traitlets.Int(4).tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._submit_handlers: list[Callable[[], object]] = []
        self.on_msg(self._on_custom_msg)

    def on_submit(self, fn: Callable[[], object]) -> None:
        self._submit_handlers.append(fn)

    def submit(self) -> None:
        for fn in list(self._submit_handlers):
            fn()

    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "submit":
            self.submit()


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
        title = widgets.Label(label, layout=widgets.Layout(width=LABEL_WIDTH))
        self.box = widgets.HBox(
            [title, *self.buttons.values()], layout=widgets.Layout(flex_flow="row wrap")
        )
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


# -- reference images -------------------------------------------------------------------------


@dataclass
class Reference:
    """One reference image: its URL or data: URI, a label, and a small JPEG (uploads only)."""

    url: str
    label: str
    thumbnail: bytes | None = None


def _shorten(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the form -------------------------------------------------------------------------------


class PanelForm:
    """The input widgets and their catalog rules; ``request()`` builds a validated request."""

    def __init__(
        self,
        *,
        prompt: str = "",
        model: str | None = None,
        action: str = catalog.DEFAULT_ACTION,
        aspect_ratio: str = catalog.DEFAULT_ASPECT_RATIO,
        resolution: str = catalog.DEFAULT_RESOLUTION,
    ) -> None:
        self._auto_group_size = False
        spec = catalog.find_model(model or catalog.DEFAULT_MODEL)
        if spec is None:
            raise ValidationError("model", model, f"choose one of {', '.join(catalog.MODEL_IDS)}")
        self._listeners: list[Callable[[], None]] = []
        self.references: list[Reference] = []

        self.prompt = PromptArea(value=prompt)
        self.model = widgets.Dropdown(
            options=[
                (f"{m.label} · ${catalog.format_price(m.price_per_image_usd)}/image", m.id)
                for m in catalog.MODELS.values()
            ],
            value=spec.id,
            description="model",
            style={"description_width": LABEL_WIDTH},
            layout=widgets.Layout(width="380px"),
        )
        self.model.add_class("sjp-model")
        self.model_summary = widgets.Label(spec.summary)
        self.action = ChoiceGroup("action", catalog.ACTIONS, action, help_text=catalog.ACTION_HELP)
        self.aspect_ratio = ChoiceGroup(
            "aspect ratio", catalog.ASPECT_RATIOS, aspect_ratio, help_text=None
        )
        self.resolution = ChoiceGroup("resolution", catalog.RESOLUTIONS, resolution, help_text=None)
        self.output_format = ChoiceGroup(
            "output format", catalog.OUTPUT_FORMATS, catalog.DEFAULT_OUTPUT_FORMAT, help_text=None
        )
        self.count = widgets.BoundedIntText(
            value=catalog.DEFAULT_N,
            min=catalog.MIN_IMAGES,
            max=catalog.MAX_IMAGES,
            description="images",
            style={"description_width": LABEL_WIDTH},
            layout=widgets.Layout(width="170px"),
        )
        self.count.add_class("sjp-count")
        self.seed = widgets.BoundedIntText(
            value=0,
            min=0,
            max=catalog.MAX_SEED,
            description="seed",
            disabled=True,
            style={"description_width": "40px"},
            layout=widgets.Layout(width="190px"),
        )
        self.seed.add_class("sjp-seed")
        self.random_seed = widgets.Checkbox(value=True, description="random", indent=False)
        self.random_seed.add_class("sjp-random-seed")
        self.random_seed.layout.width = "90px"
        self.watermark = widgets.Checkbox(
            value=catalog.DEFAULT_WATERMARK, description="watermark", indent=False
        )
        self.watermark.add_class("sjp-watermark")
        self.watermark.layout.width = "110px"

        self.upload = widgets.FileUpload(
            accept="image/jpeg,image/png,image/webp,.jpg,.jpeg,.png,.webp",
            multiple=True,
            description="upload",
            # No icon: Notebook 7 answers 403 for ipywidgets' icon font (a console error).
            icon="",
            layout=widgets.Layout(width="auto"),
        )
        self.upload.add_class("sjp-upload")
        self.url = widgets.Text(
            placeholder="https://… image URL",
            layout=widgets.Layout(width="300px"),
        )
        self.url.add_class("sjp-ref-url")
        self.add_url = widgets.Button(description="add URL", layout=widgets.Layout(width="auto"))
        self.add_url.add_class("sjp-add-url")
        self.references_hint = widgets.Label()
        self.thumbnails = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.thumbnails.add_class("sjp-ref-thumbs")
        self.reference_message = widgets.HTML()

        self.not_offered = widgets.HTML()
        self.not_offered.add_class("sjp-not-offered")
        self.cost = widgets.HTML()
        self.cost.add_class("sjp-cost")

        self.model.observe(lambda _c: self._on_model_change(), names="value")
        self.action.observe(lambda _v: self._on_action_change())
        for group in (self.aspect_ratio, self.resolution, self.output_format):
            group.observe(lambda _v: self._changed())
        for w in (self.count, self.seed, self.watermark):
            w.observe(lambda _c: self._changed(), names="value")
        self.random_seed.observe(lambda _c: self._on_random_change(), names="value")
        self.upload.observe(lambda _c: self._on_upload(), names="value")
        self.add_url.on_click(lambda _b: self.add_url_reference())

        self._apply_model(announce=False)
        self._on_action_change()

        refs_row = widgets.HBox(
            [
                widgets.Label("references", layout=widgets.Layout(width=LABEL_WIDTH)),
                self.upload,
                self.url,
                self.add_url,
            ],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        numbers_row = widgets.HBox(
            [self.count, self.seed, self.random_seed, self.watermark],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        self.box = widgets.VBox(
            [
                self.prompt,
                widgets.HBox([self.model, self.model_summary]),
                self.action.box,
                self.aspect_ratio.box,
                self.resolution.box,
                self.output_format.box,
                numbers_row,
                refs_row,
                widgets.HBox(
                    [widgets.Label("", layout={"width": LABEL_WIDTH}), self.references_hint]
                ),
                self.thumbnails,
                self.reference_message,
                self.not_offered,
            ]
        )
        self.box.add_class("sjp-form")

    # -- observers -----------------------------------------------------------------------
    def observe(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` whenever a field changes."""
        self._listeners.append(fn)

    def _changed(self) -> None:
        self.update_cost()
        for fn in list(self._listeners):
            fn()

    @property
    def spec(self) -> ModelSpec:
        return catalog.MODELS[str(self.model.value)]

    def _on_model_change(self) -> None:
        self._apply_model(announce=True)
        self._on_action_change()

    def _apply_model(self, *, announce: bool) -> None:
        spec = self.spec
        self.model_summary.value = spec.summary
        switched: list[str] = []
        groups: tuple[tuple[str, ChoiceGroup, str], ...] = (
            ("action", self.action, catalog.DEFAULT_ACTION),
            ("aspect ratio", self.aspect_ratio, catalog.DEFAULT_ASPECT_RATIO),
            ("resolution", self.resolution, catalog.DEFAULT_RESOLUTION),
            ("output format", self.output_format, catalog.DEFAULT_OUTPUT_FORMAT),
        )
        missing: dict[str, list[str]] = {}
        for kind, group, default in groups:
            reasons = {
                option: reason
                for option in group.options
                if (reason := why_not(spec, kind, option)) is not None
            }
            group.set_reasons(reasons)
            if reasons:
                missing[kind] = list(reasons)
            if group.value in reasons:
                old = group.value
                enabled = [o for o in group.options if o not in reasons]
                group.value = default if default in enabled else enabled[0]
                switched.append(f"{kind} {old} → {group.value}")
        note = not_offered_note(spec, missing)
        lines = [note] if note else []
        if announce and switched:
            lines.insert(
                0, f"switched to {short_name(spec.id)}: " + ", ".join(switched) + " (not offered)"
            )
        self.not_offered.value = "".join(
            quiet_html(line, "sjp-note", "color: var(--jp-ui-font-color2, #666); font-size: 0.9em")
            for line in lines
        )
        self._changed()

    def _on_action_change(self) -> None:
        action = self.action.value
        spec = self.spec
        self.count.description = "group of up to" if action == "group" else "images"
        # A group starts at the default group size; leaving group undoes that (else a
        # single-image generate would quietly ask for, and bill, four).
        if action == "group" and self.count.value == catalog.DEFAULT_N:
            self.count.value, self._auto_group_size = catalog.DEFAULT_GROUP_SIZE, True
        elif action != "group" and self._auto_group_size:
            if self.count.value == catalog.DEFAULT_GROUP_SIZE:
                self.count.value = catalog.DEFAULT_N
            self._auto_group_size = False
        optional = "optional, " if spec.reference_range(action)[0] == 0 else ""
        self.references_hint.value = (
            f"{catalog.ACTION_HELP[action]} · references: {optional}"
            f"{spec.describe_references(action)} on {short_name(spec.id)}"
        )
        self._changed()

    def _on_random_change(self) -> None:
        self.seed.disabled = bool(self.random_seed.value)
        self._changed()

    # -- reference images ----------------------------------------------------------------
    def _on_upload(self) -> None:
        files = list(self.upload.value or ())
        if not files:
            return
        problems: list[str] = []
        for item in files:
            name = str(item.get("name", "image"))
            data = bytes(item.get("content", b""))
            try:
                self.add_reference(data, label=name)
            except ValidationError as exc:
                problems.append(f"{name}: {exc.allowed}")
            except Exception as exc:  # an unreadable image must not break the form
                problems.append(f"{name}: {exc}")
        self.upload.value = ()
        self._show_reference_problems(problems)

    def add_reference(self, image: object, *, label: str | None = None) -> Reference:
        """Add a reference image (bytes, path, PIL image, URL ...) to the form."""
        url = images.to_image_url(image, len(self.references))
        thumb: bytes | None = None
        if not url.startswith(("http://", "https://")):
            try:
                thumb = _thumbnail_of(url)
            except Exception:
                thumb = None
        ref = Reference(url=url, label=label or _shorten(url), thumbnail=thumb)
        self.references.append(ref)
        self._render_references()
        self._changed()
        return ref

    def add_url_reference(self) -> None:
        text = str(self.url.value).strip()
        if not text:
            return
        if not text.lower().startswith(("http://", "https://")):
            self._show_reference_problems([f"{text}: give an http(s):// URL"])
            return
        try:
            self.add_reference(text, label=text)
        except ValidationError as exc:
            self._show_reference_problems([f"{_shorten(text)}: {exc.allowed}"])
            return
        self.url.value = ""
        self._show_reference_problems([])

    def remove_reference(self, index: int) -> None:
        del self.references[index]
        self._render_references()
        self._changed()

    def _remove(self, ref: Reference) -> None:
        # by identity: a stale button clicked twice must not remove a neighbour
        if any(r is ref for r in self.references):
            self.remove_reference(next(i for i, r in enumerate(self.references) if r is ref))

    def _show_reference_problems(self, problems: list[str]) -> None:
        self.reference_message.value = "".join(
            quiet_html(p, "sjp-error", "color: var(--jp-error-color1, #c62828)") for p in problems
        )

    def _render_references(self) -> None:
        tiles = []
        for ref in self.references:
            # a URL reference: the browser shows it directly
            value, fmt = (ref.thumbnail, "jpeg") if ref.thumbnail else (ref.url.encode(), "url")
            picture = widgets.Image(
                value=value,
                format=fmt,
                layout=widgets.Layout(max_width=f"{THUMB_SIDE}px", max_height=f"{THUMB_SIDE}px"),
            )
            remove = widgets.Button(
                description="✕",
                tooltip=f"remove {ref.label}",
                layout=widgets.Layout(width="28px", padding="0"),
            )
            remove.add_class("sjp-ref-remove")
            remove.on_click(lambda _b, r=ref: self._remove(r))
            caption = widgets.Label(
                _shorten(ref.label, 14), layout=widgets.Layout(max_width=f"{THUMB_SIDE + 30}px")
            )
            caption.add_class("mathjax_ignore")  # a file name is text, not TeX
            tile = widgets.VBox(
                [widgets.HBox([picture, remove]), caption],
                layout=widgets.Layout(margin="2px 6px 2px 0"),
            )
            tile.add_class("sjp-ref")
            tiles.append(tile)
        old, self.thumbnails.children = self.thumbnails.children, tuple(tiles)
        for tile in old:
            close_tree(tile)

    # -- the request ---------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """Keyword arguments for ``api.build_request`` from the current field values."""
        action = self.action.value
        count = int(self.count.value)
        params: dict[str, Any] = {
            "model": str(self.model.value),
            "action": action,
            "aspect_ratio": self.aspect_ratio.value,
            "resolution": self.resolution.value,
            "seed": catalog.RANDOM_SEED if self.random_seed.value else int(self.seed.value),
            "watermark": bool(self.watermark.value),
            "output_format": self.output_format.value,
            "images": [ref.url for ref in self.references] or None,
        }
        if action == "group":
            params["group_size"] = count
        else:
            params["n"] = count
        return params

    def request(self) -> GenerationRequest:
        """The validated request the form describes; ValidationError names what to fix."""
        return build_request(str(self.prompt.value), **self.params())

    def update_cost(self) -> None:
        spec = self.spec
        count = int(self.count.value)
        price = spec.price_per_image_usd
        up_to = "up to " if self.action.value == "group" else ""
        try:
            width, height = spec.pixel_size(self.resolution.value, self.aspect_ratio.value)
            size = f" · {width}×{height} px"
        except KeyError:
            size = ""
        text = (
            f"≈ ${count * price:.4f} ({up_to}{count} image{'s' if count != 1 else ''} "
            f"× ${catalog.format_price(price)}){size}"
        )
        self.cost.value = quiet_html(text)


def close_tree(widget: widgets.Widget) -> None:
    """Close a widget and everything inside it (ipywidgets closes only the one)."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    widget.close()


def _thumbnail_of(data_uri: str) -> bytes:
    import base64

    payload = data_uri.split(",", 1)[1]
    return images.thumbnail_jpeg(images.decode(base64.b64decode(payload)), THUMB_SIDE * 2)
