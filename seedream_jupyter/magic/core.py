"""``%%seedream`` (the cell body is the prompt) and ``%seedream`` (commands).

Thin by design: parse the line (``args``), build the request with ``api.build_request``,
start an ``api.Job`` and hand it to the display layer. Settings are traitlets on
``SeedreamMagic`` (``%config SeedreamMagic.model = "4.0"``), in the style of jupysql; every
change is handed to the session, so the helpers and the panel follow it too.

Blocking by default: the cell waits for the images while the TaskView updates live from
the loop thread. In a Jupyter kernel the cell *awaits* the job (an input transformer turns
the cell's call into ``await magic.run_awaited(...)``): the cell is still running, so the
next cell waits for it, but ipykernel (>= 7.4) handles widget messages meanwhile, so the
view's Cancel ("Stop waiting" once the server has started the task) works. A kernel
interrupt cancels a queued task (refunded) or stops waiting for a started one, and one line
says which. ``--background`` returns at once.
"""

from __future__ import annotations

import collections
import contextlib
import json
import sys
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Bool, Enum, Float, Int, TraitError, Unicode, observe, validate

from .. import catalog, upstream
from ..errors import SeedreamError, ValidationError
from ..request import GenerationRequest
from ..session import SETTINGS, session
from . import args as magic_args
from . import commands as magic_commands
from . import whole_api
from .awaiting import (
    AWAITED,
    PendingCell,
    await_seedream_cells,
    kernel_handles_widgets_while_awaiting,
)
from .help import help_text
from .running import CellRunner, short_error

if TYPE_CHECKING:
    from ..api import Job

__all__ = ["SeedreamMagic", "load_ipython_extension", "unload_ipython_extension"]


def _api() -> Any:
    """The api package, imported on first use so that ``%load_ext`` stays fast (it pulls in
    httpx, ~150 ms, which registering the magics does not need)."""
    from .. import api

    return api


def _all_resolutions() -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for spec in catalog.MODELS.values():
        seen.update(dict.fromkeys(spec.resolutions))
    return tuple(seen)


@magics_class
class SeedreamMagic(Magics, whole_api.WholeApiSettings, CellRunner):
    """Generate images with ByteDance Seedream from a cell: ``%%seedream [options] [VAR <<]``."""

    model = Unicode(
        catalog.DEFAULT_MODEL,
        help=f"Default model for %%seedream: an id or alias ({', '.join(catalog.MODEL_IDS)}).",
    ).tag(config=True)
    aspect_ratio = Unicode(
        str(catalog.DEFAULTS["aspect_ratio"]),
        help=f"Default aspect ratio: {' '.join(catalog.ASPECT_RATIOS)}.",
    ).tag(config=True)
    resolution = Unicode(
        str(catalog.DEFAULTS["resolution"]),
        help=f"Default resolution: {' '.join(_all_resolutions())} (what the model offers).",
    ).tag(config=True)
    timeout = Float(
        300.0, help="Seconds to wait for a task before giving up waiting (0 = no limit)."
    ).tag(config=True)
    thumbnail_size = Int(
        SETTINGS["thumbnail_size"].default,
        help="Long side in pixels of the gallery thumbnails sent to the front-end.",
    ).tag(config=True)
    budget_usd = Float(
        None,
        allow_none=True,
        help="Refuse a real (billed) submit that would take the recorded spend past this "
        "many US dollars (also SEEDREAM_BUDGET_USD). None: no budget.",
    ).tag(config=True)
    cache = Bool(
        True,
        help="Answer an identical request with a fixed seed from the history on disk "
        "instead of paying again (--no-cache overrides per cell).",
    ).tag(config=True)
    watermark = Bool(False, help="Add the provider's watermark by default.").tag(config=True)
    confirm_above_usd = Float(
        1.0,
        allow_none=True,
        help="A billed sweep, comparison or batch estimated above this many US dollars asks "
        "first (%%seedream --vary, the panel) or needs confirm=True (the helpers). None: never.",
    ).tag(config=True)
    display_mode = Enum(
        ["auto", "widget", "text"],
        "auto",
        help="How progress is shown: 'widget' (TaskView), 'text' (a progress line), or "
        "'auto' (widget in a Jupyter kernel, text in a terminal).",
    ).tag(config=True)

    @validate("model")
    def _valid_model(self, proposal: Any) -> str:
        name = str(proposal["value"])
        spec = catalog.find_model(name)
        # strict_models may come later in the same config: read it there too
        configured = self.config.get(type(self).__name__, {}).get("strict_models", True)
        strict = self.strict_models and configured is not False
        if spec is None and not strict and catalog.MODEL_ID_PATTERN.match(name):
            return name  # sent with generic rules (strict_models = False)
        if spec is None:
            hint = upstream.typo_hint(name)
            did_you_mean = f"did you mean {hint!r}? " if hint else ""
            raise TraitError(
                f"unknown model {name!r}: {did_you_mean}choose one of "
                f"{', '.join(catalog.MODEL_IDS)}, or set %config SeedreamMagic.strict_models = "
                "False first to send an id the catalog does not know"
            )
        return spec.id

    @validate("aspect_ratio")
    def _valid_ratio(self, proposal: Any) -> str:
        ratio = str(proposal["value"]).strip().lower()
        if ratio not in catalog.ASPECT_RATIOS:
            raise TraitError(
                f"aspect ratio {ratio!r}: choose one of {' '.join(catalog.ASPECT_RATIOS)}"
            )
        return ratio

    @validate("resolution")
    def _valid_resolution(self, proposal: Any) -> str:
        res = str(proposal["value"]).strip().upper()
        if res not in _all_resolutions():
            raise TraitError(f"resolution {res!r}: choose one of {' '.join(_all_resolutions())}")
        return res

    base_url = Unicode(
        None,
        allow_none=True,
        help="The API's base URL (also SEEDREAM_BASE_URL). None: the provider's.",
    ).tag(config=True)
    home = Unicode(
        None,
        allow_none=True,
        help="Where the history and saved images live (also SEEDREAM_HOME).",
    ).tag(config=True)
    simulator = Bool(
        False,
        help="Always use the embedded simulator, even with a key (also SEEDREAM_SIMULATOR=1).",
    ).tag(config=True)
    history = Bool(
        True,
        help="Keep the history on disk; a submit is refused when it cannot be written. False: "
        "no history and no saved images, nothing refused (also SEEDREAM_HISTORY=0).",
    ).tag(config=True)

    @observe(*(name for name in SETTINGS))
    def _share(self, change: Any) -> None:
        self.share(change["name"])

    def share(self, name: str) -> None:
        """Hand one setting to the session, where the helpers and the panel read it."""
        value = getattr(self, name)
        if name == "timeout":
            value = value if value > 0 else None  # 0 = no limit
        session().configure(**{name: value})

    @validate("thumbnail_size")
    def _valid_thumb(self, proposal: Any) -> int:
        size = int(proposal["value"])
        if not 64 <= size <= 2048:
            raise TraitError("thumbnail_size must be between 64 and 2048 pixels")
        return size

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)  # type: ignore[no-untyped-call,unused-ignore]
        # the last jobs started by this magic, oldest first (bounded: jobs hold image bytes)
        self.jobs: collections.deque[Job] = collections.deque(maxlen=20)

    # -- the magic ---------------------------------------------------------------------------
    @line_cell_magic  # type: ignore[untyped-decorator,unused-ignore]
    def seedream(self, line: str, cell: str | None = None) -> Any:
        if cell is None:
            if line.strip() in ("-h", "--help", "help"):
                print(help_text())
                return None
            return magic_commands.run(self, line)
        return self._cell(line, cell)

    async def run_awaited(self, magic_name: str, line: str, cell: str) -> Any:
        """What an awaiting ``%%seedream`` cell runs (see ``await_seedream_cells``)."""
        assert self.shell is not None  # only IPython's transformed cells call this
        token = AWAITED.set(True)
        try:
            value = self.shell.run_cell_magic(magic_name, line, cell)  # type: ignore[no-untyped-call,unused-ignore]
        finally:
            AWAITED.reset(token)
        if isinstance(value, PendingCell):
            return await value.run()
        return value

    # -- helpers -----------------------------------------------------------------------------
    def effective_display(self) -> str:
        if self.display_mode != "auto":
            return str(self.display_mode)
        return "widget" if self.shell is not None and hasattr(self.shell, "kernel") else "text"

    def build_request(self, args: magic_args.CellArgs, prompt: str) -> GenerationRequest:
        """The request a cell describes; unset options take the preset's defaults (--preset),
        then the session's settings."""
        preset = whole_api.find_preset(args.preset, self.user_ns)
        given = magic_args.resolve_images(args.image, self.user_ns)
        action: str | None
        if args.group is not None:
            if args.action not in (None, "group"):
                raise UsageError(
                    f"%%seedream: -g/--group makes an image group; drop --action {args.action}"
                )
            if args.n is not None:
                raise UsageError(
                    "%%seedream: -g N already says how many images a group has; drop -n"
                )
            action = "group"
        else:
            fallback = None if preset is not None else "generate"  # a preset's action stands
            action = args.action or ("image2image" if given else fallback)
        build = preset.request if preset is not None else _api().build_request
        try:
            return build(
                prompt,
                warn=False,  # the cell says them itself (``_cell``), every time
                **whole_api.request_options(args),
                model=args.model,
                action=action,
                n=args.n,
                seed=args.seed,
                aspect_ratio=args.aspect_ratio,
                resolution=args.resolution,
                images=given or None,
                watermark=True if args.watermark else None,
                output_format=args.format,
                group_size=args.group,
            )
        except ValidationError as exc:
            raise UsageError(f"%%seedream: {exc}; {magic_args.HELP_HINT}") from None

    def _cell(self, line: str, cell: str) -> Any:
        args = magic_args.parse_line(line)
        if args.help:
            print(help_text())
            return None
        if args.vary and args.background:
            raise UsageError(
                "%%seedream: --background does not apply to --vary: a sweep runs while its grid "
                "fills in the cell; drop --background (sj.sweep in a thread runs one unseen)"
            )
        if args.vary:  # a sweep: the cell body is its template
            from .vary import run_sweep

            return run_sweep(self, args, cell)
        api = _api()
        prompt = magic_args.interpolate(cell, self.user_ns)
        request = self.build_request(args, prompt)
        for warning in request.warnings():  # sent anyway: an unknown id, an upstream limit
            print(f"{type(warning).__name__}: {warning}", file=sys.stderr)
        preset = whole_api.find_preset(args.preset, self.user_ns)
        bound = dict(preset.defaults) if preset is not None else {}
        wait = args.wait or bound.get("wait", api.UNSET)
        if args.dry_run:
            return self._dry_run(request, args.var, wait)
        timeout = api.UNSET if args.timeout is None else (args.timeout or None)
        if args.timeout is None and "timeout" in bound:
            timeout = bound["timeout"]
        cache = False if args.no_cache else bound.get("cache", api.UNSET)
        try:
            job = api.start(
                request, timeout=timeout, cache=cache, wait=wait, client=bound.get("client")
            )
        except SeedreamError as exc:  # e.g. an unreadable WAVE_API_KEY_FILE
            raise short_error(exc) from None
        self.jobs.append(job)
        if self.effective_display() == "text":
            return self._run_text(job, args)
        return self._run_widget(job, args)

    def _dry_run(self, request: GenerationRequest, var: str | None, wait: Any) -> None:
        payload = request.describe_payload()
        print(f"dry run: nothing sent. Requests would go to {magic_commands.target_text()}.")
        print(whole_api.cost_line(request))
        sync = (session().get("wait") if wait is _api().UNSET else wait) == "sync"
        print("POST /v1/tasks/sync" if sync else "POST /v1/tasks")
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        if var is not None:
            self.user_ns[var] = request.to_payload()
        return None


SeedreamMagic.seedream.__doc__ = help_text()


def load_ipython_extension(ip: Any) -> None:
    """``%load_ext seedream_jupyter``: register %%seedream / %seedream and %config support."""
    if ip.magics_manager.registry.get(SeedreamMagic.__name__) is not None:
        return
    magic = SeedreamMagic(shell=ip, config=ip.config)
    ip.register_magics(magic)
    from ..display.formatters import register

    register(ip)  # results as an HTML gallery with a header
    if kernel_handles_widgets_while_awaiting(ip) and await_seedream_cells not in getattr(
        ip, "input_transformers_post", [await_seedream_cells]
    ):
        ip.input_transformers_post.append(await_seedream_cells)
    if magic not in ip.configurables:
        ip.configurables.append(magic)
    # values from a config file fire no observer: hand them to the session now
    for name in ip.config.get(SeedreamMagic.__name__, {}):
        if name in SETTINGS:
            magic.share(name)


def unload_ipython_extension(ip: Any) -> None:
    magic = ip.magics_manager.registry.pop(SeedreamMagic.__name__, None)
    if magic is None:
        return
    for kind in ("line", "cell"):
        ip.magics_manager.magics[kind].pop("seedream", None)
    with contextlib.suppress(ValueError, AttributeError):
        ip.input_transformers_post.remove(await_seedream_cells)
    if magic in ip.configurables:
        ip.configurables.remove(magic)
    session().reset()
