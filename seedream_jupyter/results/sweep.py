"""Sweep: the Results of a cartesian product, laid out by their axes.

``Sweep.axes`` is ``{name: [values]}``; each Result knows its combination
(``axis_values``). ``grid(rows=, cols=)`` draws the labelled comparison sheet (``grid.py``):
the named axes on the rows and the columns, every other axis side by side within a cell,
captions with scores, ratings and (for ``compare``) each model's time and cost. Combinations
that were skipped or failed keep their place in the sheet, saying why.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import errors
from ..request import GenerationRequest
from .caption import SIMULATED_MARK, SIMULATED_NOTICE, sheet_bundle
from .grid import GridSpec, Tile, draw_grid
from .result import Result
from .resultset import ResultSet

if TYPE_CHECKING:
    from PIL import Image as PILImage

Axes = str | Sequence[str] | None


def show(value: Any) -> str:
    """An axis value as a header shows it."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return f"{len(value)} image{'s' if len(value) != 1 else ''}"
    return str(value)


def _brief(value: Any) -> Any:
    return show(value) if isinstance(value, (list, tuple)) else value


def fmt_score(value: float) -> str:
    """A score as a caption shows it: 1277, 84.5, 0.912."""
    size = abs(value)
    return f"{value:.0f}" if size >= 100 else f"{value:.1f}" if size >= 1 else f"{value:.3f}"


@dataclass(frozen=True)
class Combination:
    """One point of the product: its axis values (and their positions), its request, and
    why it was skipped or what was adjusted to fit the model."""

    values: Mapping[str, Any]
    indices: Mapping[str, int]
    label: str
    request: GenerationRequest | None
    skipped: str | None = None
    notes: tuple[str, ...] = ()


class Sweep(ResultSet):
    """The Results of ``sj.sweep`` / ``sj.compare``, with their axes; a labelled grid."""

    def __init__(
        self,
        template: str,
        axes: Mapping[str, Sequence[Any]],
        combinations: Sequence[Combination],
        outcomes: Mapping[int, Result | BaseException],
        *,
        rows: Axes = None,
        cols: Axes = None,
        kind: str = "sweep",
    ) -> None:
        done = [i for i, c in enumerate(combinations) if isinstance(outcomes.get(i), Result)]
        results = [r for i in done if isinstance(r := outcomes[i], Result)]
        super().__init__(results, [combinations[i].label for i in done])
        self.template = template
        self.kind = kind
        self.combinations = list(combinations)
        self._axes = {name: list(values) for name, values in axes.items()}
        self._combo_of = {id(r): combinations[i] for i, r in zip(done, results)}
        self._outcomes = dict(outcomes)
        self.failures = {
            combinations[i].label: error
            for i, error in sorted(outcomes.items())
            if not isinstance(error, Result)
        }
        self.skipped = {c.label: c.skipped for c in combinations if c.skipped is not None}
        self.notes = list(dict.fromkeys(n for c in combinations for n in c.notes))
        self.rows, self.cols = rows, cols

    @property
    def axes(self) -> dict[str, list[Any]]:
        """``{name: [values]}`` of the axes that vary, in the order given."""
        return {name: list(values) for name, values in self._axes.items()}

    def axis_values(self, position: int) -> dict[str, Any]:
        combo = self._combo_of.get(id(self[position]))
        return dict(combo.values) if combo is not None else {}

    # -- the grid ----------------------------------------------------------------------------
    def _names(self, value: Axes, what: str) -> list[str]:
        names = [value] if isinstance(value, str) else list(value or [])
        for name in names:
            if name not in self._axes:
                allowed = ", ".join(self._axes) or "(this sweep has no axes)"
                raise errors.ValidationError(what, name, f"name an axis of this sweep: {allowed}")
        return names

    def layout(self, rows: Axes = None, cols: Axes = None) -> tuple[list[str], list[str]]:
        """The axes on the rows and on the columns (the rest share a cell)."""
        row_names = self._names(rows if rows is not None else self.rows, "rows")
        col_names = self._names(cols if cols is not None else self.cols, "cols")
        if rows is None and cols is None and self.rows is None and self.cols is None:
            names = list(self._axes)
            row_names, col_names = (names[:1], names[1:2]) if len(names) > 1 else ([], names)
        overlap = set(row_names) & set(col_names)
        if overlap:
            raise errors.ValidationError("cols", sorted(overlap)[0], "an axis goes on rows or cols")
        return row_names, col_names

    def _keys(self, names: list[str]) -> list[tuple[int, ...]]:
        return list(itertools.product(*(range(len(self._axes[n])) for n in names)))

    def _label(self, names: list[str], key: tuple[int, ...]) -> str:
        return " · ".join(show(self._axes[n][i]) for n, i in zip(names, key))

    def grid(  # type: ignore[override]
        self,
        rows: Axes = None,
        cols: Axes = None,
        *,
        columns: int | None = None,
        thumb_side: int = 256,
        title: str | None = None,
        details: bool | None = None,
    ) -> PILImage.Image:
        """The labelled comparison sheet: ``rows`` and ``cols`` name axes (one or several);
        ``columns=`` alone gives the flat contact sheet of a ResultSet, as before.
        ``details`` adds each image's time and cost (on by default for ``compare``)."""
        if columns is not None and rows is None and cols is None:
            return super().grid(columns=columns, thumb_side=thumb_side)
        row_names, col_names = self.layout(rows, cols)
        inner = [n for n in self._axes if n not in row_names and n not in col_names]
        row_keys, col_keys = self._keys(row_names), self._keys(col_names)
        judged = self._judgements() if len(self) else {}
        with_details = self.kind == "compare" if details is None else details
        cells: dict[tuple[int, int], list[Tile] | str] = {}
        notes: dict[tuple[int, int], list[str]] = {}
        for number, combo in enumerate(self.combinations):
            where = (
                row_keys.index(tuple(combo.indices[n] for n in row_names)),
                col_keys.index(tuple(combo.indices[n] for n in col_names)),
            )
            outcome = self._outcomes.get(number)
            prefix = [" · ".join(f"{n} {show(combo.values[n])}" for n in inner)] if inner else []
            if isinstance(outcome, Result):
                tiles = cells.setdefault(where, [])
                assert isinstance(tiles, list)
                position = self.index(outcome)
                stars, tags = judged.get(outcome.task_id, ({}, {}))
                for index, source in enumerate(outcome.sources()):
                    caption = list(prefix)
                    scores = self.score_of(position, index)
                    if scores:
                        caption.append(" · ".join(f"{k} {fmt_score(v)}" for k, v in scores.items()))
                    judgement = [f"rated {stars[index]}/5"] if index in stars else []
                    judgement += list(tags.get(index, ()))
                    if judgement:
                        caption.append(" · ".join(judgement))
                    if with_details:
                        elapsed = f"{outcome.elapsed:.1f} s · " if outcome.elapsed else ""
                        caption.append(f"{elapsed}${outcome.cost_usd / len(outcome):.4f}")
                    tiles.append(Tile(source, caption))
            else:
                why = combo.skipped or errors.redact(str(outcome or "not run"))
                state = "skipped" if combo.skipped else "failed"
                notes.setdefault(where, []).append(" ".join([*prefix, f"{state}: {why}"]))
        for where, lines in notes.items():
            shown = cells.get(where)
            if isinstance(shown, list) and shown:
                shown[-1] = Tile(shown[-1].source, [*shown[-1].caption, *lines])
            else:
                cells[where] = "\n".join(lines)
        footer = [*self.notes]
        if self.simulated:
            footer.append(SIMULATED_NOTICE)
        spec = GridSpec(
            row_labels=[self._label(row_names, k) for k in row_keys] if row_names else [],
            col_labels=[self._label(col_names, k) for k in col_keys] if col_names else [],
            cells=cells,
            row_title=" · ".join(row_names),
            col_title=" · ".join(col_names),
            title=self.template if title is None else title,
            footer="\n".join(footer),
            footer_warning=self.simulated,
            extra={"rows": row_names, "cols": col_names},
        )
        sheet = draw_grid(spec, thumb_side=thumb_side)
        sheet.info["cell_keys"] = {
            (r, c): (row_keys[r], col_keys[c])
            for r in range(len(row_keys))
            for c in range(len(col_keys))
        }
        return sheet

    # -- display -----------------------------------------------------------------------------
    def summary(self) -> str:
        mark = f" [{SIMULATED_MARK}]" if self.simulated else ""
        over = " × ".join(f"{n} ({len(v)})" for n, v in self._axes.items()) or "no axis"
        head = (
            f"{'Compare' if self.kind == 'compare' else 'Sweep'}{mark}: {len(self)} of "
            f"{len(self.combinations)} combinations over {over} · {sum(len(r) for r in self)} "
            f"image(s) · ≈ ${self.cost_usd:.4f}"
        )
        lines = [head, f"prompt: {self.template[:200]}"]
        if self.kind == "compare":
            for result in self:
                took = f"{result.elapsed:.1f} s" if result.elapsed is not None else "from cache"
                lines.append(f"{result.model}: {took} · ${result.cost_usd:.4f} · {len(result)} img")
        lines += [f"skipped {label}: {why}" for label, why in self.skipped.items()]
        lines += [f"failed {label}: {error}" for label, error in self.failures.items()]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        axes = ", ".join(f"{n}={[_brief(v) for v in vals]}" for n, vals in self._axes.items())
        return f"<Sweep {len(self)} results ({axes}), ≈ ${self.cost_usd:.4f}>"

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        sheet = self.grid(thumb_side=192) if self.combinations else None
        return sheet_bundle(self.summary(), sheet)
