"""Procedural pictures for the simulator, drawn with Pillow at the true output size.

A picture is a small landscape (sky gradient, a glowing sun, mountain ridges, bokeh) painted on
a canvas whose longest side is ``CANVAS_SIDE`` pixels, scaled up to the requested size, and
then labelled at full resolution: a red "SIMULATED" band, the prompt (wrapped), the seed, the
model and the image number. Everything derives from (seed, prompt, model, index) through
string-seeded ``random.Random`` instances, so the same request gives the same bytes; the images
of one group share a palette and differ in composition. Reference images are composited in:
used as the base layer for ``edit`` / ``image2image``, shown as framed panels for
``reference``, and as a strip of thumbnails otherwise.
"""

from __future__ import annotations

import colorsys
import functools
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageDraw, ImageFont, ImageOps

from .references import Reference

CANVAS_SIDE: Final = 640
JPEG_QUALITY: Final = 88
PNG_COMPRESS_LEVEL: Final = 1  # fast; the pictures are smooth and compress well anyway
BANNER_RED: Final = (200, 24, 32)
TITLE: Final = "SIMULATED · not a real Seedream image"
RGB = tuple[int, int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class Picture:
    """Everything that determines one output image."""

    prompt: str
    model: str
    action: str
    seed: int
    index: int  # 0-based position in the task's output
    count: int  # number of images in the task
    size: tuple[int, int]  # (width, height) in pixels
    fmt: str = "jpeg"  # "jpeg" or "png"
    resolution: str = ""
    ratio: str = ""

    @property
    def content_type(self) -> str:
        return "image/png" if self.fmt == "png" else "image/jpeg"


def render(
    picture: Picture, refs: Sequence[Reference] = (), size: tuple[int, int] | None = None
) -> bytes:
    """The encoded image (JPEG or PNG) at ``size`` (default ``picture.size``)."""
    image = render_image(picture, refs, size or picture.size)
    out = io.BytesIO()
    if picture.fmt == "png":
        image.save(out, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    else:
        image.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def render_image(picture: Picture, refs: Sequence[Reference], size: tuple[int, int]) -> Image.Image:
    """The picture as a PIL image at ``size`` (the true size, or smaller for previews)."""
    width, height = size
    layout = _Layout(picture, width, height)
    # Never paint more pixels than are shown: small images (previews, tests) stay cheap.
    scale = min(CANVAS_SIDE, max(width, height)) / max(width, height)
    canvas_size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small = _paint(picture, refs, canvas_size, layout)
    image = small.resize(size, Image.Resampling.BILINEAR)
    layout.draw_text(ImageDraw.Draw(image))
    return image


# -- colour --------------------------------------------------------------------------------
def _rng(picture: Picture, *parts: object) -> random.Random:
    key = "|".join(str(p) for p in (picture.seed, picture.prompt, picture.model, *parts))
    return random.Random(key)


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, max(0.0, min(1.0, s)), max(0.0, min(1.0, v)))
    return round(r * 255), round(g * 255), round(b * 255)


def palette(picture: Picture) -> list[RGB]:
    """Five colours shared by every image of a task (the set looks like a set)."""
    rng = _rng(picture, "palette")
    hue = rng.random()
    spread = rng.uniform(0.05, 0.18)
    return [
        _hsv(hue + 0.5, 0.45, 0.95),  # sky top
        _hsv(hue + spread, 0.55, 0.98),  # sky bottom / glow
        _hsv(hue - spread, 0.65, 0.72),  # far ridge
        _hsv(hue - 2 * spread, 0.7, 0.48),  # mid ridge
        _hsv(hue + 0.45, 0.6, 0.25),  # near ridge
    ]


# -- painting (small canvas) ----------------------------------------------------------------
def _paint(
    picture: Picture, refs: Sequence[Reference], size: tuple[int, int], layout: _Layout
) -> Image.Image:
    width, height = size
    colors = palette(picture)
    rng = _rng(picture, "scene", picture.index)
    gradient = Image.linear_gradient("L").resize(size, Image.Resampling.BILINEAR)
    image = ImageOps.colorize(gradient, colors[0], colors[1]).convert("RGBA")

    # The sun and its glow.
    radius = rng.uniform(0.06, 0.12) * min(width, height)
    cx, cy = rng.uniform(0.15, 0.85) * width, rng.uniform(0.25, 0.5) * height
    glow_r = int(radius * 3.2)
    # radial_gradient reaches 181 at the middle of an edge: fade to 0 there, no square edges.
    glow = Image.radial_gradient("L").point(lambda v: int(max(0, 181 - v) * 0.75))
    glow = glow.resize((2 * glow_r, 2 * glow_r), Image.Resampling.BILINEAR)
    sun_layer = Image.new("RGBA", size, (*colors[1], 0))
    sun_layer.paste((255, 250, 235, 255), (int(cx) - glow_r, int(cy) - glow_r), glow)
    image.alpha_composite(sun_layer)
    draw = ImageDraw.Draw(image)
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=(255, 248, 230))

    # Mountain ridges, far to near.
    for layer, color in enumerate(colors[2:]):
        base = height * (0.5 + 0.14 * layer)
        y = base + rng.uniform(-0.05, 0.05) * height
        points = [(0.0, float(height))]
        steps = 14 + 4 * layer
        for step in range(steps + 1):
            x = width * step / steps
            y += rng.uniform(-0.07, 0.07) * height
            y = max(height * 0.3, min(height * 0.95, y))
            points.append((x, y))
        points.append((float(width), float(height)))
        draw.polygon(points, fill=color)

    # Bokeh.
    bokeh = Image.new("RGBA", size, (0, 0, 0, 0))
    bokeh_draw = ImageDraw.Draw(bokeh)
    for _ in range(18):
        r = rng.uniform(0.005, 0.03) * max(width, height)
        x, y = rng.uniform(0, width), rng.uniform(0, height * 0.6)
        bokeh_draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, rng.randint(30, 90)))
    image.alpha_composite(bokeh)

    image = _composite_references(picture, image, refs, rng)
    _watermark(image)
    _panels(image, layout)
    return image.convert("RGB")


def _composite_references(
    picture: Picture, image: Image.Image, refs: Sequence[Reference], rng: random.Random
) -> Image.Image:
    if not refs:
        return image
    width, height = image.size
    first = refs[0]
    if picture.action in ("edit", "image2image") and isinstance(first, Image.Image):
        base = ImageOps.fit(first.convert("RGB"), image.size).convert("RGBA")
        image = Image.blend(base, image, 0.3)
        if picture.action == "edit":
            draw = ImageDraw.Draw(image)
            w, h = width * rng.uniform(0.2, 0.35), height * rng.uniform(0.2, 0.35)
            x, y = rng.uniform(0.1, 0.9 - w / width) * width, rng.uniform(0.15, 0.5) * height
            box = (x, y, x + w, y + h)
            draw.rectangle(box, outline=(255, 255, 255), width=max(2, width // 160))
        rest: Sequence[Reference] = refs[1:]
        if rest:
            _strip(image, rest)
        return image
    if picture.action == "reference":
        _panels_of_references(image, refs)
        return image
    _strip(image, refs)
    return image


def _panels_of_references(image: Image.Image, refs: Sequence[Reference]) -> None:
    width, height = image.size
    count = len(refs)
    cols = min(count, 5)
    rows = (count + cols - 1) // cols
    cell_w = width * 0.9 / cols
    cell_h = height * 0.5 / rows
    for i, ref in enumerate(refs):
        col, row = i % cols, i // cols
        box = (
            int(width * 0.05 + col * cell_w + cell_w * 0.06),
            int(height * 0.2 + row * cell_h + cell_h * 0.06),
            int(width * 0.05 + (col + 1) * cell_w - cell_w * 0.06),
            int(height * 0.2 + (row + 1) * cell_h - cell_h * 0.06),
        )
        _framed(image, ref, box)


def _strip(image: Image.Image, refs: Sequence[Reference]) -> None:
    width, height = image.size
    side = int(min(width, height) * 0.22)
    for i, ref in enumerate(refs[:6]):
        x1 = width - int(width * 0.03) - side
        y0 = int(height * 0.14) + i * int(side * 1.08)
        if y0 + side > height * 0.75:
            break
        _framed(image, ref, (x1, y0, x1 + side, y0 + side))


def _framed(image: Image.Image, ref: Reference, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    draw = ImageDraw.Draw(image)
    border = max(1, (x1 - x0) // 40)
    draw.rectangle(box, fill=(250, 250, 250))
    inner = (x0 + border, y0 + border, x1 - border, y1 - border)
    size = (inner[2] - inner[0], inner[3] - inner[1])
    if isinstance(ref, Image.Image):
        image.paste(ImageOps.fit(ref.convert("RGB"), size), inner[:2])
        return
    draw.rectangle(inner, fill=(120, 120, 128))
    draw.line(inner, fill=(90, 90, 96), width=border)
    draw.line((inner[0], inner[3], inner[2], inner[1]), fill=(90, 90, 96), width=border)
    font = _font(max(6, size[0] // 9))
    draw.text(
        ((inner[0] + inner[2]) / 2, (inner[1] + inner[3]) / 2),
        ref,
        fill=(255, 255, 255),
        font=font,
        anchor="mm",
    )


def _watermark(image: Image.Image) -> None:
    width, height = image.size
    text_layer = Image.new("L", (width, height // 3), 0)
    font = _fitted_font("SIMULATED", width * 0.7, max(8, height // 7))
    ImageDraw.Draw(text_layer).text(
        (width / 2, height / 6), "SIMULATED", fill=70, font=font, anchor="mm"
    )
    rotated = text_layer.rotate(18, expand=True, resample=Image.Resampling.BILINEAR)
    rotated = ImageOps.fit(rotated, (width, height)) if rotated.size != image.size else rotated
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    image.paste(white, (0, 0), rotated)


def _panels(image: Image.Image, layout: _Layout) -> None:
    width, height = image.size
    shade = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(shade)
    top = layout.band_fraction * height
    draw.rectangle((0, 0, width, top), fill=(*BANNER_RED, 235))
    bottom = (1.0 - layout.panel_fraction) * height
    draw.rectangle((0, bottom, width, height), fill=(0, 0, 0, 150))
    image.alpha_composite(shade)


# -- text (full resolution) ------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _font(size: int) -> Font:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ValueError):  # no FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text_width(font: Font, text: str) -> float:
    return float(font.getlength(text))


def _fitted_font(text: str, max_width: float, size: int) -> Font:
    """The default font at ``size``, or smaller so that ``text`` fits in ``max_width``."""
    font = _font(size)
    width = _text_width(font, text)
    if width > max_width:
        font = _font(max(5, int(size * max_width / width)))
    return font


def wrap(text: str, font: Font, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap by pixel width; long words are split; an ellipsis marks a cut."""
    words = " ".join(text.split()).split(" ")
    lines: list[str] = []
    line = ""
    for word in words:
        candidate = f"{line} {word}" if line else word
        if _text_width(font, candidate) <= max_width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = word
        while _text_width(font, line) > max_width and len(line) > 1:
            cut = len(line) - 1
            while cut > 1 and _text_width(font, line[:cut]) > max_width:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and _text_width(font, last + " …") > max_width:
            last = last[:-1]
        lines[-1] = last.rstrip() + " …"
    return lines


class _Layout:
    """Where the text goes, computed once at the output size."""

    def __init__(self, picture: Picture, width: int, height: int) -> None:
        self.picture = picture
        self.width, self.height = width, height
        unit = min(width, height)
        self.margin = max(2, round(unit * 0.03))
        title_room = width - 2 * self.margin - (unit * 0.2 if picture.count > 1 else 0)
        self.title_font = _fitted_font(TITLE, title_room, max(6, round(unit * 0.055)))
        self.prompt_font = _font(max(5, round(unit * 0.034)))
        self.meta_font = _font(max(5, round(unit * 0.026)))
        self.band = round(unit * 0.085)
        self.prompt_lines = wrap(
            picture.prompt, self.prompt_font, width - 2 * self.margin, max_lines=4
        )
        self.prompt_step = round(unit * 0.034 * 1.3)
        self.meta_step = round(unit * 0.026 * 1.6)
        panel = 2 * self.margin + len(self.prompt_lines) * self.prompt_step + self.meta_step
        self.panel = min(panel, height // 2)
        self.band_fraction = self.band / height
        self.panel_fraction = self.panel / height

    def meta(self) -> str:
        p = self.picture
        parts = [
            f"seed {p.seed}",
            p.model,
            p.action,
            f"{p.resolution} {p.ratio}".strip(),
            f"{p.size[0]}x{p.size[1]} px",
        ]
        return " · ".join(part for part in parts if part)

    def draw_text(self, draw: ImageDraw.ImageDraw) -> None:
        p = self.picture
        mid_band = self.band / 2
        draw.text(
            (self.margin, mid_band),
            TITLE,
            fill=(255, 255, 255),
            font=self.title_font,
            anchor="lm",
        )
        if p.count > 1:
            draw.text(
                (self.width - self.margin, mid_band),
                f"{p.index + 1}/{p.count}",
                fill=(255, 255, 255),
                font=self.title_font,
                anchor="rm",
            )
        y = self.height - self.panel + self.margin
        for line in self.prompt_lines:
            draw.text((self.margin, y), line, fill=(255, 255, 255), font=self.prompt_font)
            y += self.prompt_step
        draw.text((self.margin, y), self.meta(), fill=(225, 225, 225), font=self.meta_font)
