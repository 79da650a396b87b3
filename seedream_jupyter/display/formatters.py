"""Results in a notebook: an HTML gallery with a header (model, size, cost, task, SIMULATED).

``Result`` and ``ResultSet`` (``results``, below this layer) give a JPEG contact sheet and a
text summary; in a Jupyter kernel this module adds their ``text/html`` through IPython's
formatter registry, so the layer below needs no notebook code. Registered once per shell by
the front-end the session finds (``frontend``) and by ``%load_ext seedream_jupyter``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from .. import catalog, images
from . import gallery

if TYPE_CHECKING:  # registered by name: %load_ext does not import the results (and the store)
    from ..results import Result, ResultSet

logger = logging.getLogger("seedream_jupyter")
MAX_SET_IMAGES: Final = 24

__all__ = ["register", "result_html", "result_set_html"]


def _alt(result: Result, index: int, count: int) -> str:
    return gallery.alt_text(result.prompt, index, count, result.simulated)


def result_html(result: Result) -> str:
    sources = result.sources()
    sizes = [images.size_of(source) for source in sources]
    thumbs = gallery.thumbnails(sources, sizes)
    notes = [f"files: {result.folder}"] if result.folder is not None else []
    return gallery.gallery_html(
        thumbs,
        sizes,
        caption=result.caption(),
        alts=[_alt(result, i, len(thumbs)) for i in range(len(thumbs))],
        simulated=result.simulated,
        notes=notes,
        prompt=result.prompt[:200],
    )


def result_set_html(results: ResultSet) -> str:
    from ..results import NOT_BILLED_NOTE

    shown = [(label, r) for label, r in zip(results.labels, results) if len(r)][:MAX_SET_IMAGES]
    sources = [r.sources()[0] for _, r in shown]
    sizes = [images.size_of(source) for source in sources]
    thumbs = gallery.thumbnails(sources, sizes, box=gallery.ROW_BOX)
    simulated = any(r.simulated for r in results)
    caption = (
        f"{len(results)} results · ≈ {catalog.format_usd(results.cost_usd)}"
        + (f" {NOT_BILLED_NOTE}" if simulated else "")
        + (f" · {len(results.failures)} failed" if results.failures else "")
    )
    notes = [f"{name}: {error}" for name, error in list(results.failures.items())[:10]]
    return gallery.gallery_html(
        thumbs,
        [list(size) for size in sizes],
        caption=caption,
        alts=[_alt(r, 0, 1) for _, r in shown],
        simulated=simulated,
        notes=notes,
        labels=[f"{label} · task {r.task_id}" for label, r in shown],
    )


def _safe(fn: Any) -> Any:
    def render(value: Any) -> str | None:
        try:
            return str(fn(value))
        except Exception:  # the sheet and the text are still there
            logger.debug("seedream: HTML view failed", exc_info=True)
            return None

    return render


def register(shell: Any) -> None:
    """Add the HTML views to ``shell``'s formatters (once; harmless if called again)."""
    try:
        formatter = shell.display_formatter.formatters["text/html"]
    except (AttributeError, KeyError):
        return
    formatter.for_type_by_name("seedream_jupyter.results.result", "Result", _safe(result_html))
    formatter.for_type_by_name(
        "seedream_jupyter.results.resultset", "ResultSet", _safe(result_set_html)
    )
