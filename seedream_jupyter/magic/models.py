"""``%seedream models`` as text: the catalog in 80 columns (``-v``: what each model is for,
its aliases and pixel sizes). In a notebook the command shows ``display.tables.models_html``."""

from __future__ import annotations

from collections.abc import Sequence

from .. import catalog

price = catalog.format_price

__all__ = ["MODELS_WIDTH", "models_table"]

MODELS_WIDTH = 80  # %seedream models fits an 80-column terminal (and a narrow notebook cell)


def _text_table(rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset()) -> list[str]:
    """Aligned columns (numbers right-aligned), a rule under the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: Sequence[str]) -> str:
        cells = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))
        ]
        return "  ".join(cells).rstrip()

    return [line(rows[0]), "  ".join("-" * w for w in widths), *(line(r) for r in rows[1:])]


def _wrapped(text: str, indent: str = "  ") -> list[str]:
    import textwrap

    return textwrap.wrap(text, MODELS_WIDTH, subsequent_indent=indent)


def models_table(verbose: bool = False) -> str:
    """The models at a glance (fits 80 columns); ``verbose``: summaries, aliases, pixel sizes."""
    short = {"generate": "gen", "image2image": "i2i", "reference": "ref"}
    rows = [["model", "$/image", "resolutions", "formats", "actions"]]
    for spec in catalog.MODELS.values():
        rows.append(
            [
                spec.id,
                price(spec.price_per_image_usd),
                " ".join(spec.resolutions),
                " ".join(spec.output_formats),
                " ".join(short.get(a, a) for a in spec.actions),
            ]
        )
    lines = _text_table(rows, right=frozenset({1}))
    lines.append("actions: gen = generate, i2i = image2image, edit, ref = reference, group")
    missing = "; ".join(
        f"{ratio} not on {', '.join(m.removeprefix('doubao-seedream-') for m in models)}"
        for ratio, models in catalog.ratio_exceptions().items()
    )
    ratios = f"aspect ratios: {' '.join(catalog.ASPECT_RATIOS)}" + (
        f" ({missing})" if missing else ""
    )
    lines += _wrapped(ratios)
    if not verbose:
        lines.append("%seedream models -v: what each model is for, aliases, pixel sizes")
        return "\n".join(lines)
    for spec in catalog.MODELS.values():
        lines += ["", spec.id]
        lines += _wrapped(f"  {spec.summary}", "    ")
        lines += _wrapped(f"  aliases: {', '.join(spec.aliases)}", "    ")
        lines += _wrapped(f"  actions: {', '.join(spec.actions)}", "    ")
        for res in spec.resolutions:
            sizes = []
            for ratio in spec.aspect_ratios:
                if ratio == "auto":
                    continue
                width, height = spec.pixel_size(res, ratio)
                sizes.append(f"{ratio} {width}×{height}")
            lines += _wrapped(f"  {res}: {', '.join(sizes)}", "      ")
    return "\n".join(lines)
