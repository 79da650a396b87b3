"""``compare``: one request on several models, side by side (a Sweep with the axis ``model``).

What a model lacks maps to the nearest it has, and the notes say so: a resolution by pixel
count, an aspect ratio by shape, an output format by jpeg. An action a model cannot do is
refused, or skipped with ``skip_invalid=True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import catalog
from ..errors import ValidationError
from ..request import resolve_model
from ..results import Sweep
from ..session import session
from .experiments import SweepPlan, plan_sweep


def _megapixels(spec: catalog.ModelSpec, resolution: str, ratio: str) -> float:
    width, height = spec.pixel_size(resolution, ratio)
    return width * height / 1e6


def fit_to_model(params: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``params`` with what its model lacks replaced by the nearest it has, and notes saying so:
    a resolution by pixel count, an aspect ratio by shape, an output format by jpeg."""
    spec = resolve_model(session().get("model", params.get("model")))
    out, notes = dict(params), []
    ratio = str(session().get("aspect_ratio", params.get("aspect_ratio"))).lower()
    if ratio not in spec.aspect_ratios:
        a, b = (int(x) for x in ratio.split(":")) if ":" in ratio else (1, 1)
        nearest = catalog.nearest_ratio(a, b, spec.aspect_ratios)
        notes.append(f"{spec.id} has no {ratio}: {nearest} instead")
        out["aspect_ratio"] = ratio = nearest
    shape = ratio if ratio in spec.aspect_ratios and ratio != catalog.AUTO_RATIO else "1:1"
    resolution = str(session().get("resolution", params.get("resolution"))).upper()
    if resolution not in spec.resolutions:
        wanted = next(
            (
                _megapixels(m, resolution, "1:1")
                for m in catalog.MODELS.values()
                if resolution in m.resolutions
            ),
            None,
        )
        if wanted is not None:  # an unknown resolution is left for validation to name
            nearest = min(spec.resolutions, key=lambda r: abs(_megapixels(spec, r, shape) - wanted))
            notes.append(f"{spec.id} has no {resolution}: {nearest} instead")
            out["resolution"] = nearest
    fmt = params.get("output_format")
    if fmt is not None and str(fmt).lower() not in spec.output_formats:
        notes.append(f"{spec.id} has no {fmt} output: {spec.output_formats[0]} instead")
        out["output_format"] = spec.output_formats[0]
    return out, tuple(notes)


def plan_compare(
    prompt: str,
    models: Sequence[str] | None = None,
    *,
    concurrency: int = 4,
    skip_invalid: bool = False,
    **kw: Any,
) -> SweepPlan:
    """``compare``'s plan: the request on each model, fitted to what each offers."""
    chosen = list(models) if models is not None else list(catalog.MODEL_IDS)
    if not chosen or isinstance(models, str):
        raise ValidationError("models", models, "a list of model ids or aliases")
    ids = [resolve_model(m).id for m in chosen]
    if len(set(ids)) != len(ids):
        raise ValidationError("models", chosen, "each model once")
    if "model" in kw:
        raise ValidationError("model", kw["model"], "compare takes models=[...], not model=")
    template = prompt.replace("{", "{{").replace("}", "}}")
    return plan_sweep(
        template,
        cols="model",
        concurrency=concurrency,
        skip_invalid=skip_invalid,
        adjust=fit_to_model,
        kind="compare",
        model=ids,
        **kw,
    )


def compare(
    prompt: str,
    models: Sequence[str] | None = None,
    *,
    concurrency: int = 4,
    skip_invalid: bool = False,
    confirm: bool = False,
    **kw: Any,
) -> Sweep:
    """The same request on each model (default: every model), side by side: a Sweep with the
    axis ``model``. What a model lacks maps to its nearest (a resolution by pixel count, a
    ratio by shape) and the notes say so; an action a model cannot do is refused, or skipped
    with ``skip_invalid=True``. ``grid()`` shows each model's time and cost."""
    plan = plan_compare(prompt, models, concurrency=concurrency, skip_invalid=skip_invalid, **kw)
    return plan.run(confirm=confirm)
