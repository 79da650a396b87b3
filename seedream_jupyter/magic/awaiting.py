"""A blocking ``%%seedream`` cell that awaits its job, so its view's buttons keep working.

The cell must stay running (the next cell may use its result), but a cell that blocks the
kernel's thread gets no widget messages until it ends: a Cancel button would be dead. So in a
Jupyter kernel the input transformer ``await_seedream_cells`` turns the call IPython makes of
a ``%%seedream`` cell into ``await magic.run_awaited(...)``: IPython runs the cell as a
coroutine on the kernel's loop, and ipykernel (>= 7.4) dispatches comm messages while such a
cell awaits. Elsewhere (older kernels, ``%autoawait off``, trio) the cell blocks as before and
the view says to interrupt the kernel instead.

Why not jupyter-ui-poll or a subshell: jupyter-ui-poll 1.1 drives ``kernel.do_one_iteration``,
which ipykernel 7 no longer has (its calls fail silently), and a kernel subshell helps only
when the front-end sends the widget's messages to that subshell, which JupyterLab's widget
manager does not.
"""

from __future__ import annotations

import contextvars
from typing import Any, Final

TICK_SECONDS: Final = 0.1

__all__ = [
    "AWAITED",
    "PendingCell",
    "await_seedream_cells",
    "kernel_handles_widgets_while_awaiting",
]

_CELL_CALL: Final = "get_ipython().run_cell_magic('seedream', "
AWAITED_CALL: Final = "await get_ipython().magics_manager.registry['SeedreamMagic'].run_awaited("
# set while ``run_awaited`` runs the magic: a blocking cell then returns a wait to be awaited
AWAITED: contextvars.ContextVar[bool] = contextvars.ContextVar("seedream_awaited", default=False)


def _version_tuple(text: str | None) -> tuple[int, ...]:
    parts = []
    for piece in (text or "").split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def kernel_handles_widgets_while_awaiting(shell: Any) -> bool:
    """True where a cell that awaits still gets its widgets' messages: ipykernel >= 7.4
    dispatches comm messages while an async cell runs (earlier kernels queue them until the
    cell ends), with IPython's asyncio runner."""
    if shell is None or not hasattr(shell, "kernel") or not getattr(shell, "autoawait", False):
        return False
    try:
        import ipykernel
        from IPython.core.async_helpers import _asyncio_runner
    except ImportError:
        return False
    if getattr(shell, "loop_runner", None) is not _asyncio_runner:
        return False
    return _version_tuple(getattr(ipykernel, "__version__", None)) >= (7, 4)


def await_seedream_cells(lines: list[str]) -> list[str]:
    """IPython input transformer (post): a ``%%seedream`` cell awaits its job instead of
    blocking the kernel's thread. Only the one-line call IPython makes of the cell is changed."""
    if len(lines) == 1 and lines[0].startswith(_CELL_CALL):
        return [AWAITED_CALL + lines[0][len("get_ipython().run_cell_magic(") :]]
    return lines


class PendingCell:
    """A blocking ``%%seedream`` cell's wait, run by ``run_awaited`` on the kernel's loop.

    Ends when the job ends, when the view's "Stop waiting" is clicked, or on a kernel
    interrupt (which ipykernel turns into a cancellation of the awaiting cell): a queued task
    is then cancelled on the server (refunded); a started one goes on in the background and
    its images are saved when it completes. Each outcome is said once.
    """

    def __init__(
        self,
        magic: Any,
        job: Any,
        view: Any,
        args: Any,
        refresh: Any,
    ) -> None:
        self.magic, self.job, self.view, self.args, self.refresh = magic, job, view, args, refresh

    async def run(self) -> None:
        import asyncio  # here, like the api: %load_ext imports neither (a bare shell has none)

        from .. import api  # here, not at import: %load_ext must not pull in httpx
        from ..api.job import follow

        job, view, var = self.job, self.view, self.args.var
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()
        view.on_stop_waiting(lambda _v: loop.call_soon_threadsafe(stopped.set))
        finished = follow(job.future)
        stop = asyncio.ensure_future(stopped.wait())
        try:
            # Short waits: a SIGINT that lands on another thread only runs its handler once the
            # main thread runs Python again, so the loop must not sleep through it.
            while not (finished.done() or stop.done()):
                await asyncio.wait({finished, stop}, timeout=TICK_SECONDS)
        except asyncio.CancelledError:  # a kernel interrupt
            await self._interrupted()
            return None
        finally:
            stop.cancel()
        if not finished.done():  # "Stop waiting"
            finished.cancel()
            self._continue_in_background(self.magic.stop_line(job, var))
            return None
        view.blocking = False
        self.refresh(view)
        error = job.future.exception()
        if error is not None and job.state == api.JobState.CANCELLED:
            return None  # the view's Cancel: the view says what happened (once)
        if error is not None:
            raise self.magic._fail(job, error) from None
        self.magic._deliver(job.future.result(), var)
        return None

    async def _interrupted(self) -> None:
        import asyncio

        from .. import api

        job, view = self.job, self.view
        if job.state in (api.JobState.PROCESSING, api.JobState.DOWNLOADING) and not job.done:
            view.stop_waiting()
            self._continue_in_background(
                "Interrupted. " + self.magic.stop_line(self.job, self.args.var)
            )
            return
        view.reported_elsewhere = True  # the line below says it; the view shows the state
        await asyncio.to_thread(job.cancel)
        await asyncio.to_thread(self.magic._settle, job)
        view.blocking = False
        self.refresh(view)
        print(self.magic.interrupt_line(job))

    def _continue_in_background(self, line: str) -> None:
        self.view.blocking = False
        self.view.reported_elsewhere = True
        self.magic._when_done(self.job, self.args.var)
        self.view.on_done(self.refresh)
        print(line)
