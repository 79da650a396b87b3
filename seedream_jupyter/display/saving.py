"""Save every seedream output in its static form: a Jupyter Server pre-save hook.

A live widget view, saved as it is, names a widget model that only its kernel knows: reopened
later, JupyterLab and Notebook 7 prefer the widget mime type and show "Error displaying widget:
model not found" instead of the images the same output carries. So every output this package
displays carries its own static fallback (``gallery.static_bundle``: an HTML gallery, a JPEG
contact sheet and a text summary) and is marked in its metadata (``gallery.MARK``); when the
notebook is written to disk, this hook drops the widget view from the marked outputs. The page
that is open keeps its live widgets; the file holds images that every front-end shows.

Enabled by ``etc/jupyter/jupyter_server_config.d/seedream_jupyter.json`` (installed with the
package), or by hand: ``--ServerApp.jpserver_extensions='{"seedream_jupyter.display.saving":
True}'``. Nothing else of the package is imported into the server.
"""

from __future__ import annotations

import logging
from typing import Any, Final

WIDGET_MIME: Final = "application/vnd.jupyter.widget-view+json"
MARK: Final = "seedream_jupyter"  # output metadata key: {"fallback": true}

logger = logging.getLogger("seedream_jupyter")

__all__ = ["MARK", "WIDGET_MIME", "pre_save", "strip_live_widgets"]


def _marked(output: Any) -> bool:
    metadata = output.get("metadata")
    if not isinstance(metadata, dict):
        return False
    mark = metadata.get(MARK)
    return isinstance(mark, dict) and bool(mark.get("fallback"))


def strip_live_widgets(notebook: Any) -> int:
    """Drop the widget view from every marked output of ``notebook`` (a notebook dict, in
    place); returns how many outputs changed. Outputs of other libraries are left alone."""
    changed = 0
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    for cell in cells or []:
        if not isinstance(cell, dict):
            continue
        for output in cell.get("outputs") or []:
            if not isinstance(output, dict) or not _marked(output):
                continue
            data = output.get("data")
            if isinstance(data, dict) and WIDGET_MIME in data:
                del data[WIDGET_MIME]
                changed += 1
    return changed


def pre_save(model: dict[str, Any], path: str = "", **_: Any) -> None:
    """``ContentsManager`` pre-save hook: notebooks only; never blocks a save."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    try:
        changed = strip_live_widgets(model["content"])
    except Exception:  # a save must never fail because of us
        logger.warning("seedream: could not prepare %s for saving", path, exc_info=True)
        return
    if changed:
        logger.debug("seedream: saved %d widget outputs of %s in their static form", changed, path)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "seedream_jupyter.display.saving"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    server_app.contents_manager.register_pre_save_hook(pre_save)
    server_app.log.info("seedream_jupyter: widget outputs are saved with their static images")
