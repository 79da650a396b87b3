"""Running a ``%%seedream`` cell's job to its end: the widget or text view, the wait, an
interrupt, and handing the Result to the notebook (``VAR``, ``_``, ``Out[n]``)."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any

from ..errors import SeedreamError, describe
from . import args as magic_args
from .awaiting import AWAITED, PendingCell

if TYPE_CHECKING:
    from ..api import Job
    from ..display.taskview import TaskView
    from ..results import Result

_WAIT_AFTER_INTERRUPT = 10.0  # seconds to let a cancel / detach settle before reporting


def short_error(exc: BaseException) -> BaseException:
    """Make IPython show ``exc`` as one or two lines (the error, what to do: ``errors.describe``,
    redacted) instead of a traceback wall."""
    message, hint = describe(exc)
    if isinstance(exc, SeedreamError):
        message = f"{type(exc).__name__}: {message}"
    lines = [message, *([hint] if hint else [])]
    exc._render_traceback_ = lambda: lines  # type: ignore[attr-defined]
    return exc


class CellRunner:
    """The part of ``SeedreamMagic`` that sees a cell's job through."""

    shell: Any
    thumbnail_size: int

    @property
    def user_ns(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

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

    # -- widget front-end --------------------------------------------------------------------
    def _run_widget(self, job: Job, args: magic_args.CellArgs) -> Any:
        from IPython.display import display

        from ..display.taskview import TaskView

        awaited = AWAITED.get() and not args.background
        view = TaskView(
            job,
            thumb_size=self.thumbnail_size,
            blocking=not args.background,
            interactive=awaited,
        )
        handle = display(view, display_id=True)  # type: ignore[no-untyped-call,unused-ignore]

        def refresh(v: TaskView) -> None:
            if handle is not None:
                handle.update(v)

        if args.background:
            self._when_done(job, args.var)
            view.on_done(refresh)
            return None
        if awaited:
            return PendingCell(self, job, view, args, refresh)
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
            raise short_error(exc) from None
        view.blocking = False
        refresh(view)
        self._deliver(result, args.var)
        return None

    def stop_line(self, job: Job, var: str | None) -> str:
        """What stopping to wait for a started task means (the task goes on)."""
        then = f", and {var} holds its Result then" if var else f" (sj.load({job.task_id!r}))"
        return (
            f"Stopped waiting: task {job.task_id} had started, which the server cannot cancel. "
            f"It goes on: its images are saved to the history when it completes{then}."
        )

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
            raise short_error(exc) from None
        if args.var is not None:
            self.user_ns[args.var] = result
            return None
        return result
