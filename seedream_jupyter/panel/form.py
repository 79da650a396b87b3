"""The panel's form: every choice comes from the catalog for the selected model.

``PanelForm`` owns the input widgets and turns them into a ``GenerationRequest``
(``request()``). Switching model re-reads the catalog: options the model cannot
do are disabled, with the reason in their tooltip and in a visible note line, and
a selection that became impossible falls back to one that is possible.

All user text reaches the page through widget values and descriptions (which the
front-end renders as text) or through ``html.escape``; never as raw HTML.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import ipywidgets as widgets

from .. import catalog, images
from ..api import build_request
from ..catalog import ModelSpec
from ..errors import ValidationError
from ..request import GenerationRequest
from ..session import session
from .advanced import AdvancedBox, size_text
from .choices import LABEL_WIDTH, ChoiceGroup, not_offered_note, quiet_html, short_name, why_not
from .prompt import PromptArea

THUMB_SIDE: Final = 72

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
        aspect_ratio: str | None = None,
        resolution: str | None = None,
    ) -> None:
        self._auto_group_size = False
        # unset fields start from the session's settings (%config SeedreamMagic.*)
        spec = catalog.find_model(model) if model is not None else None
        if model is not None and spec is None:
            raise ValidationError("model", model, f"choose one of {', '.join(catalog.MODEL_IDS)}")
        if spec is None:  # the session's model; one the catalog lacks (strict_models=False)
            spec = (
                catalog.find_model(str(session().get("model")))
                or catalog.MODELS[catalog.DEFAULT_MODEL]
            )  # cannot be listed here: the form starts from the default
        aspect_ratio = str(session().get("aspect_ratio", aspect_ratio))
        resolution = str(session().get("resolution", resolution))
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
        self.model_summary.add_class("sjp-wrap")
        self.model_summary.add_class("sjp-model-summary")
        self.action = ChoiceGroup("action", catalog.ACTIONS, action, help_text=catalog.ACTION_HELP)
        self.aspect_ratio = ChoiceGroup(
            "aspect ratio", catalog.ASPECT_RATIOS, aspect_ratio, help_text=None
        )
        self.resolution = ChoiceGroup("resolution", catalog.RESOLUTIONS, resolution, help_text=None)
        self.output_format = ChoiceGroup(
            "output format", catalog.OUTPUT_FORMATS, catalog.DEFAULT_OUTPUT_FORMAT, help_text=None
        )
        # Not bounded: a browser-side clamp would turn 40 into 15 silently; the request refuses it.
        self.count = widgets.IntText(
            value=catalog.DEFAULT_N,
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
        self.references_hint.add_class("sjp-wrap")
        self.thumbnails = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.thumbnails.add_class("sjp-ref-thumbs")
        self.reference_message = widgets.HTML()

        self.not_offered = widgets.HTML()
        self.not_offered.add_class("sjp-not-offered")
        # compare mode (issue 14): a small sweep from the form, shown as a labelled grid
        self.vary = widgets.Text(
            placeholder="compare: model=4.0,4.5,5.0-lite; seed=1,2 (the prompt may use {style} "
            "with style=ink,oil)",
            description="vary",
            style={"description_width": LABEL_WIDTH},
            layout=widgets.Layout(width="640px"),
        )
        self.vary.add_class("sjp-vary")
        self.cost = widgets.HTML()
        self.cost.add_class("sjp-cost")
        self.advanced = AdvancedBox()  # upstream options, extra JSON, callback URL
        self.advanced.observe(self._changed)

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
                self.vary,
                self.not_offered,
                self.advanced.box,
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
        self.advanced.apply_model(spec)
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
        params.update(self.advanced.params())
        return params

    def request(self) -> GenerationRequest:
        """The validated request the form describes; ValidationError names what to fix.
        What is sent anyway (``request.warnings()``) the panel shows itself."""
        return build_request(str(self.prompt.value), warn=False, **self.params())

    def update_cost(self) -> None:
        spec = self.spec
        count = int(self.count.value)
        refs = [ref.url for ref in self.references]
        size = size_text(spec, self.resolution.value, self.aspect_ratio.value, refs)
        text = spec.cost_breakdown(count, up_to=self.action.value == "group") + size
        if not catalog.MIN_IMAGES <= count <= catalog.MAX_IMAGES:
            text = (
                f"{count} images: a request makes {catalog.MIN_IMAGES}–{catalog.MAX_IMAGES}; "
                "Generate sends nothing until the count is in range"
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
    return images.thumbnail_jpeg(base64.b64decode(payload), THUMB_SIDE * 2)
