"""``%%seedream`` (the cell body is the prompt) and ``%seedream`` (commands).

Thin by design: parse the line (``args``), build the request with ``api.build_request``,
start an ``api.Job`` and hand it to the display layer. Settings are traitlets on
``SeedreamMagic`` (``%config SeedreamMagic.model = "4.0"``), in the style of jupysql, made from
``session.SETTINGS`` (``settings``); every change is handed to the session, so the helpers and
the panel follow it too.

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
from traitlets import Bool, Enum, Float, Int, Unicode

from .. import catalog
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
from .commands import lazy_api as _api
from .help import help_text
from .running import CellRunner, short_error
from .settings import MagicSettings, choice, trait

if TYPE_CHECKING:
    from ..api import Job

__all__ = ["SeedreamMagic", "load_ipython_extension", "unload_ipython_extension"]


@magics_class
class SeedreamMagic(Magics, MagicSettings, CellRunner):
    """Generate images with ByteDance Seedream from a cell: ``%%seedream [options] [VAR <<]``."""

    # every setting of the session (its default and help from ``session.SETTINGS``)
    model = trait(Unicode, "model")
    aspect_ratio = trait(Unicode, "aspect_ratio")
    resolution = trait(Unicode, "resolution")
    watermark = trait(Bool, "watermark")
    timeout = trait(Float, "timeout")
    cache = trait(Bool, "cache")
    budget_usd = trait(Float, "budget_usd")
    base_url = trait(Unicode, "base_url")
    home = trait(Unicode, "home")
    simulator = trait(Bool, "simulator")
    thumbnail_size = trait(Int, "thumbnail_size")
    confirm_above_usd = trait(Float, "confirm_above_usd", allow_none=True)
    history = trait(Bool, "history")
    strict_models = trait(Bool, "strict_models")
    price_per_image_usd = trait(Float, "price_per_image_usd")
    upstream_placement = choice("upstream_placement", catalog.UPSTREAM_PLACEMENTS)
    wait = choice("wait", catalog.WAIT_MODES)
    # the magic's own
    display_mode = Enum(
        ["auto", "widget", "text"],
        "auto",
        help="How progress is shown: 'widget' (TaskView), 'text' (a progress line), or "
        "'auto' (widget in a Jupyter kernel, text in a terminal).",
    ).tag(config=True)

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
