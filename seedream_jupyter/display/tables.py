"""Tables for a notebook: the history and the spend, as HTML (escaped, with small thumbnails)."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from .. import catalog, images
from ..api import HistoryList, SpendTable
from ..api.archive import when
from ..config import SIMULATED_MARK

HISTORY_THUMBNAIL_ROWS: Final = 50  # rows beyond this show no thumbnail (keeps notebooks small)
HISTORY_THUMBNAIL_HEIGHT: Final = 48  # shown height in CSS px; made at twice that (sharp on HiDPI)
HISTORY_HTML_ROWS: Final = 200
PROMPT_CHARS: Final = 90


def _thumb_uri(path: Path, side: int) -> str | None:
    try:
        data = images.thumbnail_jpeg(path, side, quality=70)
    except Exception:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


# A dataframe-like table: one line per row, text left, numbers right (tabular figures), theme
# colours only. The class is doubled to outrank JupyterLab's own rendered-HTML table rules
# (right-aligned, wrapping cells); a narrow cell scrolls the table instead of wrapping it.
_T: Final = ".sj-table.sj-table"
_RULES: Final = (
    (
        "",
        "border-collapse:collapse;font-size:var(--jp-ui-font-size1,13px);"
        "font-family:var(--jp-ui-font-family,system-ui,sans-serif);"
        "color:var(--jp-ui-font-color1,inherit)",
    ),
    (
        " th, {T} td",
        "padding:3px 10px;text-align:left;vertical-align:middle;white-space:nowrap;"
        "border-bottom:1px solid var(--jp-border-color2,rgba(128,128,128,.3))",
    ),
    (" th", "font-weight:600;border-bottom-width:2px"),
    (" tbody tr:nth-child(even)", "background:var(--jp-layout-color2,rgba(128,128,128,.06))"),
    (" .sj-num", "text-align:right;font-variant-numeric:tabular-nums"),
    (
        " code",
        "font-family:var(--jp-code-font-family,monospace);font-size:0.92em;"
        "white-space:nowrap;word-break:normal",
    ),
    (" .sj-prompt", "max-width:32em;overflow:hidden;text-overflow:ellipsis"),
    (" .sj-thumb-cell", "padding:2px 6px"),
    (" img", "display:block;border-radius:3px"),
    # the title sits above the scrolling box, so a narrow notebook wraps it instead of clipping
    ("-title", "text-align:left;font-weight:600;padding:2px 0 6px;white-space:normal"),
    (" .sj-sim", "color:var(--jp-warn-color0,#b45309);font-weight:700"),
)
_CSS: Final = (
    "<style>"
    + "".join(f"{_T}{sel.replace('{T}', _T)}{{{rules}}}" for sel, rules in _RULES)
    + "</style>"
)


def _table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    caption: str,
    numeric: frozenset[int] = frozenset(),
    classes: dict[int, str] | None = None,
) -> str:
    """A compact HTML table; cells are HTML already escaped by the caller."""
    classes = dict(classes or {})
    for i in numeric:
        classes[i] = (classes.get(i, "") + " sj-num").strip()

    def cls(i: int) -> str:
        return f' class="{classes[i]}"' if i in classes else ""

    head = "".join(f"<th{cls(i)}>{html.escape(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{cell}</td>" for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    return (
        f'{_CSS}<div class="sj-table sj-table-title">{html.escape(caption)}</div>'
        f'<div class="sj-table-wrap" style="overflow-x:auto;max-width:100%">'
        f'<table class="sj-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _short_when(timestamp: float | None) -> str:
    text = when(timestamp)
    return text[:16] if len(text) >= 16 else text  # minutes are enough in a table


def seed_text(seed: int | None) -> str:
    """The seed a row was made with; a random one the server did not report is "random"."""
    return "random" if seed is None or seed < 0 else str(seed)


def history_html(records: HistoryList) -> str:
    if not records:
        return "<em>No tasks in the history yet.</em>"
    rows: list[list[str]] = []
    for position, rec in enumerate(records[:HISTORY_HTML_ROWS]):
        thumb = ""
        paths = rec.paths if position < HISTORY_THUMBNAIL_ROWS else []
        if paths:
            uri = _thumb_uri(paths[0], HISTORY_THUMBNAIL_HEIGHT * 4)
            if uri:
                alt = html.escape(f"first image of {rec.task_id}", quote=True)
                thumb = (
                    f'<img src="{uri}" alt="{alt}" style="height:{HISTORY_THUMBNAIL_HEIGHT}px;'
                    f'width:auto;max-width:{HISTORY_THUMBNAIL_HEIGHT * 3}px">'
                )
        prompt = " ".join((rec.prompt or "").split())
        short = prompt if len(prompt) <= PROMPT_CHARS else prompt[: PROMPT_CHARS - 1] + "…"
        status = html.escape(rec.status_text)
        if rec.error_message and rec.status != "completed":
            status += f' <span title="{html.escape(rec.error_message)}">ⓘ</span>'
        kind = f'<span class="sj-sim">{SIMULATED_MARK}</span>' if rec.simulated else "real"
        rows.append(
            [
                thumb,
                html.escape(_short_when(rec.created_at)),
                f'<code title="{html.escape(rec.task_id)}">{html.escape(rec.task_id)}</code>',
                status,
                html.escape((rec.model or "?").removeprefix("doubao-seedream-")),
                html.escape(rec.action or ""),
                str(len(rec.images)),
                html.escape(seed_text(rec.seed)),
                cost_cell(rec.model, rec.cost_usd),
                kind,
                f'<span title="{html.escape(prompt)}">{html.escape(short)}</span>',
            ]
        )
    more = len(records) - len(rows)
    caption = f"seedream history: {len(records)} task(s), newest first"
    if more > 0:
        caption += f" ({more} more not shown)"
    headers = ["", "created", "task", "status", "model", "action", "images", "seed", "≈ cost"]
    headers += ["kind", "prompt"]
    return _table(
        headers,
        rows,
        caption,
        numeric=frozenset({6, 7, 8}),
        classes={0: "sj-thumb-cell", 10: "sj-prompt"},
    )


def cost_cell(model: str | None, cost_usd: float) -> str:
    """``$0.0298``; ``price unknown`` for an unpriced id the catalog does not know."""
    if not cost_usd and model and model not in catalog.MODELS:
        return "price unknown"
    return catalog.format_usd(cost_usd)


def spend_html(table: SpendTable) -> str:
    rows = [
        [
            html.escape(r.day),
            html.escape(r.model),
            "simulated (free)" if r.simulated else "real",
            str(r.tasks),
            str(r.images),
            cost_cell(r.model, r.cost_usd),
        ]
        for r in table
    ]
    rows.append(
        ["<b>total</b>", "", "real", "", "", f"<b>{catalog.format_usd(table.real_usd)}</b>"]
    )
    if table.simulated_usd:
        rows.append(["", "", "simulated", "", "", catalog.format_usd(table.simulated_usd)])
    caption = "estimated spend by day and model" + table._budget_line()
    headers = ["day", "model", "kind", "tasks", "images", "≈ cost"]
    return _table(headers, rows, caption, numeric=frozenset({3, 4, 5}))


def models_html() -> str:
    """``%seedream models`` in a notebook: the catalog as a table (the text form is
    ``magic.commands.models_table``)."""
    from .. import catalog

    actions = list(catalog.ACTIONS)
    rows = []
    for spec in catalog.MODELS.values():
        rows.append(
            [
                f"<code>{html.escape(spec.id)}</code>",
                html.escape(", ".join(spec.aliases[:2])),
                f"${catalog.format_price(spec.price_per_image_usd)}",
                html.escape(" ".join(spec.resolutions)),
                html.escape(" ".join(spec.output_formats)),
                *("✓" if a in spec.actions else "·" for a in actions),
            ]
        )
    missing = "; ".join(
        f"{ratio} not on {', '.join(m.removeprefix('doubao-seedream-') for m in models)}"
        for ratio, models in catalog.ratio_exceptions().items()
    )
    caption = f"Seedream models · aspect ratios {' '.join(catalog.ASPECT_RATIOS)}" + (
        f" ({missing})" if missing else ""
    )
    headers = ["model", "aliases", "per image", "resolutions", "formats", *actions]
    return _table(headers, rows, caption, numeric=frozenset({2}))
