"""``%%seedream`` (the cell body is the prompt) and ``%seedream`` (commands).

Thin by design: parse the line (``args``), build the request with ``api.build_request``,
start an ``api.Job`` and hand it to the display layer. Settings are traitlets on
``SeedreamMagic`` (``%config SeedreamMagic.model = "4.0"``), in the style of jupysql; every
change is handed to the session, so the helpers and the panel follow it too.

Blocking by default: the cell waits for the images while the TaskView updates live from
the loop thread. A kernel interrupt cancels a queued task (refunded) or stops waiting for
a processing one, and prints one line saying which. ``--background`` returns at once.
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

from .. import catalog
from ..errors import SeedreamError, ValidationError
from ..request import GenerationRequest
from ..session import SETTINGS, session
from . import args as magic_args
from . import commands as magic_commands
from .help import help_text

if TYPE_CHECKING:
    from ..api import Job
    from ..display.taskview import TaskView
    from ..results import Result

__all__ = ["SeedreamMagic", "load_ipython_extension", "unload_ipython_extension"]

_WAIT_AFTER_INTERRUPT = 10.0  # seconds to let a cancel / detach settle before reporting


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


def _short_error(exc: BaseException) -> BaseException:
    """Make IPython show ``exc`` as one or two lines (the error, what to do) instead of a
    traceback wall."""
    if isinstance(exc, SeedreamError):
        lines = [f"{type(exc).__name__}: {exc.message}", *([exc.hint] if exc.hint else [])]
    else:
        lines = [f"{type(exc).__name__}: {exc}"]
    exc._render_traceback_ = lambda: lines  # type: ignore[attr-defined]
    return exc


@magics_class
class SeedreamMagic(Magics):
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
        512, help="Long side in pixels of the gallery thumbnails sent to the front-end."
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
        if spec is None:
            hint = catalog.suggest_model(name)
            did_you_mean = f"did you mean {hint!r}? " if hint else ""
            raise TraitError(
                f"unknown model {name!r}: {did_you_mean}choose one of "
                f"{', '.join(catalog.MODEL_IDS)}"
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

    # -- helpers -----------------------------------------------------------------------------
    def effective_display(self) -> str:
        if self.display_mode != "auto":
            return str(self.display_mode)
        return "widget" if self.shell is not None and hasattr(self.shell, "kernel") else "text"

    @property
    def user_ns(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

    def build_request(self, args: magic_args.CellArgs, prompt: str) -> GenerationRequest:
        """The request a cell describes; unset options take the session's settings."""
        urls = magic_args.resolve_images(args.image, self.user_ns)
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
            action = args.action or ("image2image" if urls else "generate")
        try:
            request: GenerationRequest = _api().build_request(
                prompt,
                model=args.model,
                action=action,
                n=args.n,
                seed=args.seed,
                aspect_ratio=args.aspect_ratio,
                resolution=args.resolution,
                images=list(urls) or None,
                watermark=True if args.watermark else None,
                output_format=args.format,
                group_size=args.group,
            )
        except ValidationError as exc:
            raise UsageError(f"%%seedream: {exc}; {magic_args.HELP_HINT}") from None
        return request

    def _cell(self, line: str, cell: str) -> Any:
        args = magic_args.parse_line(line)
        if args.help:
            print(help_text())
            return None
        prompt = magic_args.interpolate(cell, self.user_ns)
        request = self.build_request(args, prompt)
        if args.dry_run:
            return self._dry_run(request, args.var)
        api = _api()
        timeout = api.UNSET if args.timeout is None else (args.timeout or None)
        try:
            job = api.start(request, timeout=timeout, cache=False if args.no_cache else api.UNSET)
        except SeedreamError as exc:  # e.g. an unreadable WAVE_API_KEY_FILE
            raise _short_error(exc) from None
        self.jobs.append(job)
        if self.effective_display() == "text":
            return self._run_text(job, args)
        return self._run_widget(job, args)

    def _dry_run(self, request: GenerationRequest, var: str | None) -> None:
        payload = request.describe_payload()
        spec = request.spec
        count = request.output_count
        print(f"dry run: nothing sent. Requests would go to {magic_commands.target_text()}.")
        print(
            f"estimated cost: ≈ ${request.estimate_cost():.4f} (up to {count} image"
            f"{'s' if count != 1 else ''} × ${catalog.format_price(spec.price_per_image_usd)}); "
            f"{request.pixel_size[0]}×{request.pixel_size[1]} px each"
        )
        print("POST /v1/tasks")
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        if var is not None:
            self.user_ns[var] = request.to_payload()
        return None

    # -- outcomes ----------------------------------------------------------------------------
    def _deliver(self, result: Result, var: str | None) -> None:
        """Store the Result in VAR, or make it the cell's value (``_``, ``Out[n]``)."""
        if var is not None:
            self.user_ns[var] = result
            return
        hook = getattr(self.shell, "displayhook", None)
        if hook is not None and hasattr(hook, "update_user_ns"):
            hook.update_user_ns(result)
        else:
            self.user_ns["_"] = result

    @staticmethod
    def _settle(job: Job) -> None:
        """Let a cancel or detach reach its final state (the loop thread finishes it)."""
        with contextlib.suppress(BaseException):
            job.future.exception(timeout=_WAIT_AFTER_INTERRUPT)

    @staticmethod
    def interrupt_line(job: Job) -> str:
        task_id = job.task_id
        if job.state == "cancelled" and task_id:
            # Only a queued task can be cancelled, and a cancel is refunded; say so even when
            # a poll saw the cancel first and the job's note is the bare error.
            note = job.message or ""
            if "refunded" not in note:
                note = f"task {task_id} was queued and has been cancelled on the server (refunded)"
            return f"Interrupted: {note.rstrip('.')}."
        if job.state == "detached" and job.message:
            return f"Interrupted: {job.message.rstrip('.')}."
        if task_id is None:
            return (
                "Interrupted while submitting: if the server accepts the task it is cancelled "
                "at once; check with %seedream history."
            )
        return (
            f"Interrupted: stopped waiting for task {task_id} ({job.state}); fetch it "
            f"later with sj.resume() or sj.load({task_id!r})."
        )

    def _fail(self, job: Job, exc: BaseException) -> BaseException:
        return _short_error(exc)

    # -- widget front-end --------------------------------------------------------------------
    def _run_widget(self, job: Job, args: magic_args.CellArgs) -> Any:
        from IPython.display import display

        from ..display.taskview import TaskView

        view = TaskView(job, thumb_size=self.thumbnail_size, blocking=not args.background)
        handle = display(view, display_id=True)  # type: ignore[no-untyped-call,unused-ignore]

        def refresh(v: TaskView) -> None:
            if handle is not None:
                handle.update(v)

        if args.background:
            self._when_done(job, args.var)
            view.on_done(refresh)
            return None
        try:
            result = job.wait()
        except KeyboardInterrupt:
            self._settle(job)
            view.blocking = False
            refresh(view)
            print(self.interrupt_line(job))
            return None
        except SeedreamError as exc:
            view.blocking = False
            refresh(view)
            raise self._fail(job, exc) from None
        view.blocking = False
        refresh(view)
        self._deliver(result, args.var)
        return None

    def _when_done(self, job: Job, var: str | None) -> None:
        if var is None:
            return
        names = self.user_ns

        def fill(j: Job) -> None:
            if j.state == "completed" and j.result is not None:
                names[var] = j.result

        job.subscribe(fill)

    # -- terminal ----------------------------------------------------------------------------
    def _run_text(self, job: Job, args: magic_args.CellArgs) -> Any:
        from ..display.terminal import TextProgress

        if args.background:
            self._when_done(job, args.var)
            print(
                f"started in the background: {job.request.model} · {job.request.action}"
                + (f"; {args.var} is set when it completes" if args.var else "")
            )
            return None
        TextProgress(job, stream=sys.stdout)
        try:
            result = job.wait()
        except KeyboardInterrupt:
            self._settle(job)
            print(self.interrupt_line(job))
            return None
        except SeedreamError as exc:
            raise self._fail(job, exc) from None
        if args.var is not None:
            self.user_ns[args.var] = result
            return None
        return result


SeedreamMagic.seedream.__doc__ = help_text()


def load_ipython_extension(ip: Any) -> None:
    """``%load_ext seedream_jupyter``: register %%seedream / %seedream and %config support."""
    if ip.magics_manager.registry.get(SeedreamMagic.__name__) is not None:
        return
    magic = SeedreamMagic(shell=ip, config=ip.config)
    ip.register_magics(magic)
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
    if magic in ip.configurables:
        ip.configurables.remove(magic)
    session().reset()
