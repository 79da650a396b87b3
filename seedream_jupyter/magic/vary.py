"""``%%seedream --vary NAME=V1,V2 ... [VAR <<]``: a sweep from a cell.

The cell body is the sweep's template: ``{style}`` is an axis when ``--vary style=...`` names
it, any other ``{name}`` is filled from the notebook's variables first (as for one image).
The other options (``-m``, ``-s``, ``-a``, ``-r``, ``-i``, ``-n``, ``-g``...) are fixed for
every combination; an option that is also varied is refused. Before sending, the plan's
estimate is printed; above ``%config SeedreamMagic.confirm_above_usd`` a billed sweep asks
(``--confirm`` answers yes). The labelled grid fills in live; the Sweep goes to ``VAR``.
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from .. import api
from ..errors import SeedreamError, ValidationError
from ..session import session
from . import args as magic_args
from .running import short_error

if TYPE_CHECKING:
    from ..results import Sweep

SeedreamMagic = Any  # magic.core.SeedreamMagic (core imports this module: no cycle)

_FIXED = {  # option attribute -> the request field it sets
    "model": "model",
    "n": "n",
    "seed": "seed",
    "aspect_ratio": "aspect_ratio",
    "resolution": "resolution",
    "format": "output_format",
}


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def template_for(cell: str, namespace: dict[str, Any], axes: set[str]) -> str:
    """The cell as a sweep template: notebook variables filled in, axis fields kept."""
    formatter = magic_args._PromptFormatter(namespace)
    try:
        parsed = list(string.Formatter().parse(cell))
    except ValueError as exc:
        raise UsageError(
            f"%%seedream: the prompt has an unmatched brace ({exc}); write {{{{ and }}}} for "
            "literal braces"
        ) from None
    out: list[str] = []
    for literal, field, spec, conversion in parsed:
        out.append(_escape(literal))
        if field is None:
            continue
        head = field.split(".")[0].split("[")[0]
        if head in axes:
            if field != head or spec or conversion:
                raise UsageError(f"%%seedream: write the axis as {{{head}}}, plain")
            out.append("{" + head + "}")
            continue
        value, _ = formatter.get_field(field, (), {})
        value = formatter.convert_field(value, conversion)
        out.append(_escape(str(formatter.format_field(value, spec or ""))))
    template = "".join(out).strip()
    if not template:
        raise UsageError("%%seedream: the cell is empty; write the prompt in the cell body")
    return template


def _fixed(magic: SeedreamMagic, args: magic_args.CellArgs, axes: dict[str, Any]) -> dict[str, Any]:
    fixed: dict[str, Any] = {}
    for option, name in _FIXED.items():
        value = getattr(args, option)
        if value is not None:
            if name in axes:
                raise UsageError(f"%%seedream: {name} is both an option and --vary; give it once")
            fixed[name] = value
    given = magic_args.resolve_images(args.image, magic.user_ns)
    if given:
        fixed["images"] = given
    if args.group is not None:
        fixed["group_size"] = args.group
    action = (
        "group" if args.group is not None else args.action or ("image2image" if given else None)
    )
    if action is not None and "action" not in axes:
        fixed["action"] = action
    if args.watermark:
        fixed["watermark"] = True
    if args.timeout is not None:
        fixed["timeout"] = args.timeout or None
    if args.no_cache:
        fixed["cache"] = False
    return fixed


def _ask(plan: api.SweepPlan) -> bool:
    """Ask before a billed sweep above the threshold; False when nobody can answer."""
    question = f"{plan.describe()}. Send it? [y/N] "
    try:
        answer = input(question)
    except Exception:  # no stdin (a headless run): say how to confirm instead
        return False
    return answer.strip().lower() in ("y", "yes")


def run_sweep(magic: SeedreamMagic, args: magic_args.CellArgs, cell: str) -> Sweep | None:
    """Plan, price, confirm and run the sweep a ``--vary`` cell describes."""
    try:
        axes = api.parse_axes(args.vary)
        template = template_for(cell, magic.user_ns, set(axes))
        values: dict[str, Any] = {**_fixed(magic, args, axes), **axes}
        plan = api.plan_sweep(
            template, rows=args.rows, cols=args.cols, skip_invalid=args.skip_invalid, **values
        )
        if args.rows or args.cols:
            from ..display.grid import layout_of

            layout_of(plan).layout()  # a bad --rows/--cols is refused before sending
    except ValidationError as exc:
        text = str(exc).replace("pass skip_invalid=True", "add --skip-invalid")
        raise UsageError(f"%%seedream: {text}; {magic_args.HELP_HINT}") from None
    if args.dry_run:
        print(f"dry run: nothing sent. {plan.describe()}")
        for combo in plan.combinations:
            if combo.request is not None:
                print(f"{combo.label}: {combo.request.prompt!r} · {combo.request.model}")
        return None
    if plan.needs_confirmation and not args.confirm and not _ask(plan):
        limit = float(session().get("confirm_above_usd"))
        print(
            f"Nothing sent: {plan.describe()}, above the ${limit:.2f} of "
            "%config SeedreamMagic.confirm_above_usd. Add --confirm to send it."
        )
        return None
    text = magic.effective_display() == "text"
    try:
        sweep = plan.run(confirm=True, announce=True)
    except KeyboardInterrupt:
        print(
            "Interrupted: queued tasks were cancelled (refunded), running ones left to finish; "
            "sj.resume() fetches them later."
        )
        return None
    except SeedreamError as exc:  # one or two lines, not a traceback wall
        raise short_error(exc) from None
    if args.var is not None:
        magic.user_ns[args.var] = sweep
        return None
    if text:
        return sweep
    # the cell's value without a second copy of the grid (the live one is in the cell)
    hook = getattr(magic.shell, "displayhook", None)
    if hook is not None and hasattr(hook, "update_user_ns"):
        hook.update_user_ns(sweep)
    else:
        magic.user_ns["_"] = sweep
    return None
