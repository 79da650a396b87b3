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

HISTORY_THUMBNAIL_ROWS: Final = 50  # rows beyond this show no thumbnail (keeps notebooks small)
HISTORY_THUMBNAIL_SIDE: Final = 64
HISTORY_HTML_ROWS: Final = 200


def _thumb_uri(path: Path, side: int) -> str | None:
    try:
        data = images.thumbnail_jpeg(path, side, quality=70)
    except Exception:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


_CSS: Final = (
    "<style>.sj-table{border-collapse:collapse;font-size:12px}"
    ".sj-table th,.sj-table td{padding:2px 8px;text-align:left;vertical-align:middle;"
    "border-bottom:1px solid rgba(128,128,128,.3)}"
    ".sj-table caption{text-align:left;font-weight:bold}"
    ".sj-sim{color:#c60;font-weight:bold}</style>"
)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], caption: str) -> str:
    """A compact HTML table; cells are HTML already escaped by the caller."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return (
        f'{_CSS}<table class="sj-table"><caption>{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def history_html(records: HistoryList) -> str:
    if not records:
        return "<em>No tasks in the history yet.</em>"
    rows: list[list[str]] = []
    for position, rec in enumerate(records[:HISTORY_HTML_ROWS]):
        thumb = ""
        paths = rec.paths if position < HISTORY_THUMBNAIL_ROWS else []
        if paths:
            uri = _thumb_uri(paths[0], HISTORY_THUMBNAIL_SIDE)
            if uri:
                thumb = f'<img src="{uri}" style="max-height:{HISTORY_THUMBNAIL_SIDE}px" alt="">'
        prompt = rec.prompt or ""
        short = prompt if len(prompt) <= 80 else prompt[:77] + "..."
        status = html.escape(rec.status)
        if rec.error_message and rec.status != "completed":
            status += f' <span title="{html.escape(rec.error_message)}">ⓘ</span>'
        kind = '<span class="sj-sim">SIMULATED</span>' if rec.simulated else "real"
        rows.append(
            [
                thumb,
                html.escape(when(rec.created_at)),
                f"<code>{html.escape(rec.task_id)}</code>",
                status,
                html.escape(rec.model or "?"),
                html.escape(rec.action or ""),
                str(len(rec.images)),
                "" if rec.seed is None else str(rec.seed),
                cost_cell(rec.model, rec.cost_usd),
                kind,
                f'<span title="{html.escape(prompt)}">{html.escape(short)}</span>',
            ]
        )
    more = len(records) - len(rows)
    caption = f"seedream history: {len(records)} task(s), newest first"
    if more > 0:
        caption += f" ({more} more not shown)"
    headers = [
        "",
        "created",
        "task",
        "status",
        "model",
        "action",
        "images",
        "seed",
        "≈ cost",
        "kind",
        "prompt",
    ]
    return _table(headers, rows, caption)


def cost_cell(model: str | None, cost_usd: float) -> str:
    """``$0.0298``; ``price unknown`` for an unpriced id the catalog does not know."""
    if not cost_usd and model and model not in catalog.MODELS:
        return "price unknown"
    return f"${cost_usd:.4f}"


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
    rows.append(["<b>total</b>", "", "real", "", "", f"<b>${table.real_usd:.4f}</b>"])
    if table.simulated_usd:
        rows.append(["", "", "simulated", "", "", f"${table.simulated_usd:.4f}"])
    caption = "estimated spend by day and model" + table._budget_line()
    return _table(["day", "model", "kind", "tasks", "images", "≈ cost"], rows, caption)
