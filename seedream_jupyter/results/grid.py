"""A labelled comparison sheet: row headers on the left, column headers on top, the images of
each cell side by side, captions (scores, ratings, time and cost) under each image.

The margins are measured from the text they hold: a longer row label makes the left margin
wider (up to ``max_header_width``, then it wraps and the row grows taller); a longer column
label wraps onto more lines and the top margin grows. Thumbnails come from
``images.thumbnail`` (draft-decoded, never the full-size pixels). The sheet's
``info["cells"]`` maps each (row, column) to the box its images were drawn in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from .. import images as _images

if TYPE_CHECKING:
    from PIL import Image as PILImage
    from PIL import ImageDraw

BACKGROUND: Final = (255, 255, 255)
CELL_BACKGROUND: Final = (238, 238, 238)
TEXT: Final = (25, 25, 25)
QUIET_TEXT: Final = (95, 95, 95)
WARN_TEXT: Final = (190, 70, 0)
GAP: Final = 8  # between cells
INNER_GAP: Final = 4  # between the images of one cell
PAD: Final = 6  # around header text


@dataclass
class Tile:
    """One image in a cell, with the caption lines shown under it."""

    source: _images.ImageSource
    caption: Sequence[str] = ()


@dataclass
class GridSpec:
    """What to draw: labels, titles, and for each (row, column) its tiles or a note."""

    row_labels: Sequence[str]
    col_labels: Sequence[str]
    cells: dict[tuple[int, int], list[Tile] | str]
    row_title: str = ""
    col_title: str = ""
    title: str = ""
    footer: str = ""
    footer_warning: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def font(size: int) -> Any:
    """Pillow's own scalable font (no system fonts needed); the bitmap one without FreeType."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ValueError, OSError):  # Pillow built without FreeType
        return ImageFont.load_default()


def text_width(face: Any, text: str) -> float:
    return float(face.getlength(text))


def wrap(face: Any, text: str, width: float) -> list[str]:
    """``text`` in lines no wider than ``width`` (long words are cut by character)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if text_width(face, candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while text_width(face, word) > width and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and text_width(face, word[:cut]) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


def draw_grid(
    spec: GridSpec, *, thumb_side: int = 256, max_header_width: int | None = None
) -> PILImage.Image:
    """The comparison sheet described by ``spec`` (see the module docstring)."""
    from PIL import Image, ImageDraw

    size = max(11, min(22, thumb_side // 16))
    face, small = font(size), font(max(10, size - 2))
    line_h, small_h = round(size * 1.35), round((size - 2) * 1.35)
    n_rows, n_cols = max(1, len(spec.row_labels)), max(1, len(spec.col_labels))
    row_labels = list(spec.row_labels) or [""]
    col_labels = list(spec.col_labels) or [""]

    thumbs: dict[tuple[int, int], list[tuple[PILImage.Image, Sequence[str]]]] = {}
    for key, content in spec.cells.items():
        if isinstance(content, list):
            thumbs[key] = [
                (
                    _images.thumbnail(t.source, thumb_side),
                    [line for text in t.caption for line in wrap(small, text, thumb_side - 4)],
                )
                for t in content
            ]
    slots = max([len(v) for v in thumbs.values()] + [1])
    col_w = slots * thumb_side + (slots - 1) * INNER_GAP

    header_cap = max_header_width or max(160, thumb_side)
    widest = max(text_width(face, label) for label in [*row_labels, spec.row_title])
    left_w = round(min(header_cap, widest)) + 2 * PAD if widest > 0 else 0
    row_lines = [wrap(face, label, left_w - 2 * PAD) if left_w else [] for label in row_labels]
    col_lines = [wrap(face, label, col_w - 2 * PAD) for label in col_labels]
    col_band = max(len(lines) for lines in col_lines) * line_h + PAD if any(col_labels) else 0
    col_title_h = line_h if spec.col_title else 0

    row_heights: list[int] = []
    for r in range(n_rows):
        tiles = [t for c in range(n_cols) for t in thumbs.get((r, c), [])]
        image_h = max([img.height for img, _ in tiles] + [0]) or thumb_side // 2
        caption_h = max([len(caption) for _, caption in tiles] + [0]) * small_h
        notes = [spec.cells.get((r, c)) for c in range(n_cols)]
        note_h = max(
            [len(wrap(small, n, col_w - 2 * PAD)) * small_h for n in notes if isinstance(n, str)]
            + [0]
        )
        header_h = len(row_lines[r]) * line_h
        row_heights.append(max(image_h + caption_h, note_h + 2 * PAD, header_h + PAD))

    width = left_w + n_cols * (col_w + GAP) + GAP
    title_lines = wrap(face, spec.title, width - 2 * PAD) if spec.title else []
    footer_lines = wrap(small, spec.footer, width - 2 * PAD) if spec.footer else []
    title_h = len(title_lines) * line_h + (PAD if title_lines else 0)
    top = title_h + col_title_h + col_band
    height = top + sum(row_heights) + GAP * (n_rows + 1) + len(footer_lines) * small_h
    height += PAD if footer_lines else 0

    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    y = PAD // 2
    for line in title_lines:
        draw.text((PAD, y), line, fill=TEXT, font=face)
        y += line_h
    grid_x0 = left_w + GAP
    grid_w = n_cols * (col_w + GAP) - GAP
    if spec.col_title:
        _centered(draw, face, spec.col_title, grid_x0, grid_w, title_h, QUIET_TEXT)
    if spec.row_title and left_w:
        draw.text((PAD, top - line_h), spec.row_title, fill=QUIET_TEXT, font=face)
    for c, lines in enumerate(col_lines):
        x0 = grid_x0 + c * (col_w + GAP)
        for i, line in enumerate(lines):
            _centered(draw, face, line, x0, col_w, title_h + col_title_h + i * line_h, TEXT)

    boxes: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    y0 = top + GAP
    for r, row_h in enumerate(row_heights):
        header = row_lines[r]
        hy = y0 + (row_h - len(header) * line_h) // 2
        for i, line in enumerate(header):
            draw.text((PAD, hy + i * line_h), line, fill=TEXT, font=face)
        for c in range(n_cols):
            x0 = grid_x0 + c * (col_w + GAP)
            box = (x0, y0, x0 + col_w, y0 + row_h)
            boxes[(r, c)] = box
            draw.rectangle(box, fill=CELL_BACKGROUND)
            note = spec.cells.get((r, c))
            if isinstance(note, str):
                for i, line in enumerate(wrap(small, note, col_w - 2 * PAD)):
                    draw.text((x0 + PAD, y0 + PAD + i * small_h), line, fill=WARN_TEXT, font=small)
            for k, (img, caption) in enumerate(thumbs.get((r, c), [])):
                sx = x0 + k * (thumb_side + INNER_GAP)
                sheet.paste(img.convert("RGB"), (sx + (thumb_side - img.width) // 2, y0))
                for i, line in enumerate(caption):
                    cy = y0 + img.height + i * small_h
                    draw.text((sx + 2, cy), line, fill=QUIET_TEXT, font=small)
        y0 += row_h + GAP
    fy = y0
    for line in footer_lines:
        draw.text((PAD, fy), line, fill=WARN_TEXT if spec.footer_warning else TEXT, font=small)
        fy += small_h
    sheet.info["cells"] = boxes
    sheet.info.update(spec.extra)
    return sheet


def _centered(
    draw: ImageDraw.ImageDraw, face: Any, text: str, x0: int, width: int, y: int, fill: Any
) -> None:
    x = x0 + max(0, round((width - text_width(face, text)) / 2))
    draw.text((x, y), text, fill=fill, font=face)
