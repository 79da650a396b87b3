"""The static form of a view: what a saved notebook shows where no widget can render.

``static_bundle`` gives the ``text/html`` gallery (a caption with model, size, cost, task and
the SIMULATED mark; the images at a readable size with alt text; the prompt), an ``image/jpeg``
contact sheet (for renderers that take no HTML) and the ``text/plain`` summary. The images are
thumbnails made through ``images`` from the view's own small JPEGs, so nothing full-size is
decoded. Every front-end shows one of the three: JupyterLab, Notebook 7, VS Code, nbconvert and
nbviewer the HTML, GitHub the HTML or the sheet, a terminal the text.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Any, Final

from .. import images
from ..config import SIMULATED_MARK
from .saving import MARK

SINGLE_BOX: Final = (960, 480)  # one image: up to the card's width, at most this high
ROW_BOX: Final = (480, 240)  # several: rows of images this high
SHEET_SIDE: Final = 320  # several images on the JPEG sheet: cells this wide, four to a row
SHEET_QUALITY: Final = 72
HTML_QUALITY: Final = 75

__all__ = [
    "MARK",
    "NOTICE_STYLE",
    "alt_text",
    "fit",
    "gallery_html",
    "marked",
    "notice_html",
    "sheet_jpeg",
    "static_bundle",
    "thumbnails",
]


def fit(size: Sequence[int], box: tuple[int, int]) -> tuple[int, int]:
    """``size`` scaled down (never up) to fit inside ``box``, keeping its aspect ratio."""
    width, height = max(1, int(size[0])), max(1, int(size[1]))
    scale = min(box[0] / width, box[1] / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def box_for(count: int) -> tuple[int, int]:
    return SINGLE_BOX if count <= 1 else ROW_BOX


def marked(metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """``metadata`` with the mark the pre-save hook looks for (``saving``)."""
    out = dict(metadata or {})
    out[MARK] = {"fallback": True}
    return out


def thumbnails(
    sources: Sequence[images.ImageSource],
    sizes: Sequence[Sequence[int]],
    quality: int = HTML_QUALITY,
    box: tuple[int, int] | None = None,
) -> list[bytes]:
    """JPEG thumbnails that fill their place in the gallery (``box``: by the image count)."""
    box = box or box_for(len(sources))
    out = []
    for source, size in zip(sources, sizes):
        width, height = fit(size, box)
        out.append(images.thumbnail_jpeg(source, max(width, height), quality=quality))
    return out


def sheet_jpeg(sources: Sequence[bytes], labels: Sequence[str] | None = None) -> bytes:
    """One JPEG contact sheet: a single image as wide as useful, several in rows of four."""
    if len(sources) == 1:
        probe = images.size_of(sources[0])
        side = max(fit(probe, SINGLE_BOX))
        sheet = images.contact_sheet(list(sources), thumb_side=side, columns=1, labels=labels)
    else:
        side = SHEET_SIDE
        columns = min(len(sources), 4)
        sheet = images.contact_sheet(list(sources), thumb_side=side, columns=columns, labels=labels)
    return images.to_jpeg_bytes(sheet, quality=SHEET_QUALITY)


def _style(**rules: str) -> str:
    return ";".join(f"{name.replace('_', '-')}:{value}" for name, value in rules.items())


_WRAP = _style(
    font_family="var(--jp-ui-font-family,system-ui,sans-serif)",
    font_size="var(--jp-ui-font-size1,13px)",
    line_height="1.4",
    color="var(--jp-ui-font-color1,inherit)",
    max_width="100%",
    margin="4px 0",
)
_CAPTION = _style(margin="0 0 6px", overflow_wrap="anywhere")
_BADGE = _style(
    padding="0 6px",
    margin_right="6px",
    border="1px solid var(--jp-warn-color0,#b45309)",
    border_radius="3px",
    color="var(--jp-warn-color0,#b45309)",
    font_size="0.85em",
    font_weight="700",
    letter_spacing="0.04em",
)
_ROW = _style(display="flex", flex_wrap="wrap", gap="6px", align_items="flex-start")
_IMG = _style(
    display="block",
    max_width="100%",
    height="auto",
    border="1px solid var(--jp-border-color2,rgba(127,127,127,.35))",
    border_radius="4px",
)
_QUIET = _style(margin_top="4px", color="var(--jp-ui-font-color2,#666)", overflow_wrap="anywhere")
_ERROR = _style(margin_top="4px", color="var(--jp-error-color1,#c62828)")
# A notice (the SIMULATED note, a plan's estimate): a warning bar in the theme's colours.
NOTICE_STYLE: Final = _style(
    margin="2px 0",
    padding="3px 8px",
    border_left="3px solid var(--jp-warn-color1,#e65100)",
    color="var(--jp-ui-font-color1,inherit)",
    font_family="var(--jp-ui-font-family,sans-serif)",
    font_size="var(--jp-ui-font-size1,13px)",
    background="var(--jp-layout-color2,transparent)",
)


def notice_html(text: str) -> str:
    """One notice, escaped, in the style every view gives notices."""
    return f'<div class="sj-notice" style="{NOTICE_STYLE}">{html.escape(text)}</div>'


def alt_text(prompt: str, index: int, count: int, simulated: bool) -> str:
    """``SIMULATED image 2 of 4: a red fox…``: every gallery image's alt text."""
    mark = f"{SIMULATED_MARK} " if simulated else ""
    return f"{mark}image {index + 1} of {count}: {prompt[:120]}"


def gallery_html(
    thumbs: Sequence[bytes],
    sizes: Sequence[Sequence[int]],
    *,
    caption: str,
    alts: Sequence[str],
    simulated: bool,
    notes: Sequence[str] = (),
    prompt: str = "",
    error: str = "",
    labels: Sequence[str] = (),
) -> str:
    """The HTML gallery (all text escaped; each image with its width, height and alt text,
    and its label under it when ``labels`` are given)."""
    box = box_for(len(thumbs))
    badge = f'<span style="{_BADGE}">{SIMULATED_MARK}</span>' if simulated else ""
    parts = [f'<div class="sj-static" style="{_WRAP}">']
    parts.append(
        f'<div class="sj-static-caption" style="{_CAPTION}">{badge}{html.escape(caption)}</div>'
    )
    if thumbs:
        parts.append(f'<div class="sj-static-gallery" style="{_ROW}">')
        for i, (thumb, size, alt) in enumerate(zip(thumbs, sizes, alts)):
            width, height = fit(size, box)
            uri = "data:image/jpeg;base64," + base64.b64encode(thumb).decode("ascii")
            img = (
                f'<img src="{uri}" width="{width}" height="{height}" '
                f'alt="{html.escape(alt, quote=True)}" style="{_IMG}">'
            )
            if i < len(labels):
                label = f'<figcaption style="{_QUIET}">{html.escape(labels[i])}</figcaption>'
                img = f'<figure style="margin:0;max-width:{width}px">{img}{label}</figure>'
            parts.append(img)
        parts.append("</div>")
    if prompt:
        parts.append(f'<div style="{_QUIET};font-style:italic">“{html.escape(prompt)}”</div>')
    if error:
        parts.append(f'<div style="{_ERROR}">{html.escape(error)}</div>')
    parts.extend(f'<div style="{_QUIET}">{html.escape(note)}</div>' for note in notes if note)
    parts.append("</div>")
    return "".join(parts)


def static_bundle(
    *,
    text: str,
    caption: str,
    sources: Sequence[bytes],
    sizes: Sequence[Sequence[int]],
    alts: Sequence[str],
    simulated: bool,
    notes: Sequence[str] = (),
    prompt: str = "",
    error: str = "",
    sheet_labels: Sequence[str] | None = None,
    labels: Sequence[str] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(data, metadata)``: text/plain, text/html and (with images) image/jpeg, marked."""
    thumbs = thumbnails(sources, sizes, HTML_QUALITY) if sources else []
    data: dict[str, Any] = {
        "text/plain": text,
        "text/html": gallery_html(
            thumbs,
            sizes,
            caption=caption,
            alts=alts,
            simulated=simulated,
            notes=notes,
            prompt=prompt,
            error=error,
            labels=labels,
        ),
    }
    metadata: dict[str, Any] = {}
    if sources:
        sheet = sheet_jpeg(sources, sheet_labels)
        data["image/jpeg"] = base64.b64encode(sheet).decode("ascii")
        metadata["image/jpeg"] = {"alt": caption}
    return data, marked(metadata)
