"""ResultSet: the Results of a batch or a sweep, as a list, a contact sheet, a table, and scores.

``to_records()`` is one dict per image (what ``to_pandas()`` turns into a DataFrame; pandas
is the optional extra ``seedream-jupyter[pandas]``). ``score(fn)`` runs ``fn(image, record)``
on every image and keeps the numbers as a column of the records.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .. import errors
from .. import images as _images
from ..store import Store
from .caption import sheet_bundle
from .result import Result

if TYPE_CHECKING:
    from PIL import Image as PILImage

# fn(image, record) -> float; a one-argument fn(image) works too
Scorer = Callable[..., float]
PANDAS_HINT: Final = (
    "to_pandas() needs pandas: pip install 'seedream-jupyter[pandas]' (or pip install pandas); "
    "to_records() gives the same rows as dicts without it"
)


def scorer_name(fn: Scorer, name: str | None) -> str:
    """The column a scorer fills: ``name``, else its ``name`` attribute, else its function name."""
    found = name or getattr(fn, "name", None) or getattr(fn, "__name__", None)
    if not isinstance(found, str) or not found or found == "<lambda>":
        return "score"
    return found


def _takes_record(fn: Scorer) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


class ResultSet(list[Result]):
    """Results of a batch or sweep, in request order; ``labels`` name each for the grid."""

    def __init__(self, results: Sequence[Result], labels: Sequence[str] | None = None) -> None:
        super().__init__(results)
        self.labels = list(labels) if labels is not None else [r.prompt[:40] for r in results]
        self.failures: dict[str, BaseException] = {}
        # score name -> {(result position, image index): value}
        self.scores: dict[str, dict[tuple[int, int], float]] = {}

    @property
    def images(self) -> list[PILImage.Image]:
        return [img for result in self for img in result.images]

    @property
    def simulated(self) -> bool:
        return any(r.simulated for r in self)

    @property
    def cost_usd(self) -> float:
        return round(sum(r.cost_usd for r in self), 6)

    def grid(self, columns: int | None = None, thumb_side: int = 384) -> PILImage.Image:
        """A comparison sheet: the first image of each result, labelled."""
        firsts = [r.sources()[0] for r in self if len(r)]
        labels = [label for label, r in zip(self.labels, self) if len(r)]
        return _images.contact_sheet(firsts, thumb_side=thumb_side, columns=columns, labels=labels)

    def save(self, directory: str | os.PathLike[str] = ".") -> list[Path]:
        return [path for result in self for path in result.save(directory)]

    # -- the table -------------------------------------------------------------------------
    def axis_values(self, position: int) -> dict[str, Any]:
        """The axis values of the result at ``position`` (a Sweep has some; a batch none)."""
        return {}

    def _judgements(self) -> dict[str, tuple[dict[int, int], dict[int, tuple[str, ...]]]]:
        by_store: dict[int, tuple[Store, list[str]]] = {}
        for result in self:
            store = result._history()
            by_store.setdefault(id(store), (store, []))[1].append(result.task_id)
        found: dict[str, tuple[dict[int, int], dict[int, tuple[str, ...]]]] = {}
        for store, ids in by_store.values():
            found.update(store.judgements(ids))
        return found

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per image: the axes, then prompt, model, seed, aspect_ratio, resolution,
        task_id, index, path, width, height, cost_usd, elapsed_s, rating, tags, simulated, and
        every score."""
        judged = self._judgements() if len(self) else {}
        rows: list[dict[str, Any]] = []
        for position, result in enumerate(self):
            stars, tags = judged.get(result.task_id, ({}, {}))
            p = result.params
            try:
                sizes: list[tuple[int, int] | None] = list(result.sizes())
            except (errors.SeedreamError, OSError, ValueError):
                sizes = [None] * len(result)
            each = result.cost_usd / len(result) if len(result) else 0.0
            for index, size in enumerate(sizes):
                row = dict(self.axis_values(position))
                row.update(
                    prompt=p.prompt,
                    model=p.model,
                    seed=result.seed,
                    aspect_ratio=p.aspect_ratio,
                    resolution=p.resolution,
                    task_id=result.task_id,
                    index=index,
                    path=str(result.paths[index]) if index < len(result.paths) else None,
                    width=size[0] if size else None,
                    height=size[1] if size else None,
                    cost_usd=round(each, 6),
                    elapsed_s=None if result.elapsed is None else round(result.elapsed, 3),
                    rating=stars.get(index),
                    tags=list(tags.get(index, ())),
                    simulated=result.simulated,
                )
                for name, values in self.scores.items():
                    row[name] = values.get((position, index))
                rows.append(row)
        return rows

    def to_pandas(self) -> Any:
        """``to_records()`` as a pandas DataFrame (the optional extra ``[pandas]``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(PANDAS_HINT) from None
        return pd.DataFrame.from_records(self.to_records())

    def score(self, fn: Scorer, name: str | None = None) -> list[float]:
        """Run ``fn(image, record) -> float`` on every image (a PIL image and its row of
        ``to_records()``) and keep the numbers as the column ``name`` (default: the
        function's name). Returns them in record order. See ``sj.scores``."""
        column = scorer_name(fn, name)
        with_record = _takes_record(fn)
        rows = self.to_records()
        taken = (set(rows[0]) if rows else set()) - set(self.scores)
        if column in taken:  # a score must not overwrite the record it describes
            raise errors.ValidationError(
                "name", column, "a column of to_records() already has this name; pick another"
            )
        records = iter(rows)
        values: dict[tuple[int, int], float] = {}
        for position, result in enumerate(self):
            for index, source in enumerate(result.sources()):
                record = next(records)
                # one full-size image at a time: a big sweep never sits in memory at once
                picture = source if hasattr(source, "getpixel") else _images.decode(source)
                raw = fn(picture, record) if with_record else fn(picture)
                if isinstance(raw, bool) or not isinstance(raw, (int, float)) or math.isnan(raw):
                    raise errors.ValidationError(
                        "score", raw, f"{column}: a scorer must return a number for every image"
                    )
                values[(position, index)] = float(raw)
        self.scores[column] = values
        return [values[key] for key in sorted(values)]

    def score_of(self, position: int, index: int) -> Mapping[str, float]:
        """Every score of image ``index`` of the result at ``position``."""
        return {
            name: v[(position, index)] for name, v in self.scores.items() if (position, index) in v
        }

    def __repr__(self) -> str:
        unknown = sum(not r.params.price_known for r in self)
        more = f" + {unknown} of unknown price" if unknown else ""
        return f"<ResultSet {len(self)} results, ≈ ${self.cost_usd:.4f}{more}>"

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        lines = [f"{label}: {r!r}" for label, r in zip(self.labels, self)]
        sheet = self.grid(thumb_side=256) if any(len(r) for r in self) else None
        return sheet_bundle("\n".join([repr(self), *lines]), sheet)
