"""What tests read from a simulator, whatever its transport (socket server or mock)."""

from __future__ import annotations

from .engine import Simulator, TaskState
from .faults import FaultPlan
from .options import SimConfig
from .stats import RecordedRequest, Stats


class SimulatorView:
    """The inspection API common to ``SimulatorHandle`` and ``MockSimulator``."""

    _sim: Simulator
    url: str

    @property
    def config(self) -> SimConfig:
        return self._sim.config

    @property
    def speed(self) -> float:
        return self._sim.config.speed

    @property
    def stats(self) -> Stats:
        """Counters (``submits``, ``submit_requests``, ``polls``, ``cancels``, ...)."""
        return self._sim.stats

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, oldest first (bounded by ``record_limit``; bodies over
        256 KiB are counted in ``body_size`` but not kept), with its ``status``, the JSON it
        was answered (``reply``, ``reply_json()``) and when (``answered``)."""
        return self._sim.stats.requests

    def task(self, task_id: str) -> TaskState | None:
        """The server-side state of one task (with the body, ``extra`` and upstream options
        it was created from), or None if it does not exist."""
        return self._sim.state(task_id)

    def task_ids(self) -> list[str]:
        return self._sim.task_ids()

    @property
    def faults(self) -> FaultPlan:
        """The current fault plan (``.describe()`` prints it)."""
        return self._sim.faults

    def set_faults(self, spec: str | None, seed: int | None = None) -> None:
        """Replace the fault plan (e.g. submit cleanly, then fault the polls)."""
        self._sim.set_faults(spec, seed)
