"""The help of ``%%seedream`` / ``%seedream``, generated from the catalog and the command
registry, so it never disagrees with validation or with the commands that exist."""

from __future__ import annotations

from .. import catalog
from .args import PARSER
from .commands import COMMANDS

price = catalog.format_price


def _models_block() -> str:
    lines = []
    for spec in catalog.MODELS.values():
        lines.append(
            f"  {spec.id}  (aliases: {', '.join(spec.aliases)})  "
            f"${price(spec.price_per_image_usd)} per image"
        )
        lines.append(f"      {spec.summary}")
        lines.append(
            f"      actions: {', '.join(spec.actions)} · resolutions: "
            f"{', '.join(spec.resolutions)} · formats: {', '.join(spec.output_formats)}"
        )
        lines.append(f"      ratios: {' '.join(spec.aspect_ratios)}")
    return "\n".join(lines)


def _resolutions_block() -> str:
    lines = []
    for res in catalog.RESOLUTIONS:
        owners = [
            s.id.removeprefix("doubao-seedream-")
            for s in catalog.MODELS.values()
            if res in s.resolutions
        ]
        if owners:
            sample = next(s for s in catalog.MODELS.values() if res in s.resolutions)
            w, h = sample.pixel_size(res, "1:1")
            lines.append(f"  {res}  {w}×{h} at 1:1 · on {', '.join(owners)}")
    return "\n".join(lines)


def _upstream_block() -> str:
    lines = []
    for option in catalog.UPSTREAM_OPTIONS.values():
        takers = [
            s.id.removeprefix("doubao-seedream-")
            for s in catalog.MODELS.values()
            if s.takes(option.name)
        ]
        lines.append(f"  {option.name:<16} {option.help} · on {', '.join(takers)}")
    return "\n".join(lines)


def _limits_block() -> str:
    lines = []
    for limit in catalog.LIMITS.values():
        if limit.inferred:
            how = f"inferred: {limit.source}"
        else:
            how = f"{'refused' if limit.refused else 'warned, not refused'}; {limit.source}"
        lines.append(f"  {limit.text}: {limit.shown()} ({how})")
    return "\n".join(lines)


def help_text() -> str:
    """The docstring of ``%%seedream`` / ``%seedream``."""
    usage = PARSER.format_help().replace("usage: ", "", 1)
    actions = "\n".join(f"  {name:<12} {text}" for name, text in catalog.ACTION_HELP.items())
    commands = "\n".join(
        f"  %seedream {command.usage:<28} {command.help}" for command in COMMANDS.values()
    )
    return f"""Generate images with ByteDance Seedream; the cell body is the prompt.

    %%seedream [options] [VAR <<]
    a red fox in snow, {{style}} style

{{name}} in the prompt is filled from your variables ({{{{ for a literal brace).
VAR << stores the Result in VAR (otherwise it is _). The cell waits for the images,
showing live progress: Cancel cancels a queued task (refunded); once the server has
started it, Stop waiting frees the kernel (the task goes on and its images are saved when
it completes). Interrupting the kernel (■) does the same. With no WAVE_API_KEY the
embedded simulator answers, and every image and view says SIMULATED.
In terminal IPython, end the cell with two empty lines (Enter three times after the prompt).

{usage}
Models:
{_models_block()}

Actions:
{actions}

Aspect ratios: {" ".join(catalog.ASPECT_RATIOS)}
  ("auto": the first reference image's ratio, so it needs -i)

Seeds: -1 is random. A fixed seed reproduces similar (not identical) results. An identical
fixed-seed request already in the history is answered from disk, and the views say so:
"from the history on disk: nothing billed"; --no-cache pays for a new one.

Upstream options (sent where %config SeedreamMagic.upstream_placement says: top-level keys,
the default, or one "extra" object; which one the gateway wants is not confirmed):
{_upstream_block()}
  --extra KEY=VALUE sends any other upstream key as is; never a validated field (seed, n, ...)

Model ids the catalog does not know (e.g. doubao-seedream-5.0-pro) are refused; --no-strict
(or %config SeedreamMagic.strict_models = False) sends them with model-independent rules
and an unknown price (--price USD prices them; a budget refuses them until then).

Limits:
{_limits_block()}

Resolutions:
{_resolutions_block()}

Line commands:
{commands}

Settings: %config SeedreamMagic.<name> = value   (list them with %config SeedreamMagic)

Examples:
    %%seedream -m 4.5 -a 16:9 fox <<
    a red fox in snow at dawn

    %%seedream -g 4 -r 2K
    four seasons of one mountain lake

    %%seedream -i sketch.png --action image2image
    the same scene as a watercolour

    %%seedream -m 5.0-lite --web-search --optimize-prompt standard --extra stream=false
    today's weather over the Eiffel tower, as a poster

    %%seedream --preset fox --wait sync --callback-url https://example.com/hook
    a red fox in fresh snow
"""
