"""Starting and stopping simulators: ``start`` (one per call) and ``shared`` (one per process)."""

from __future__ import annotations

import atexit
import os
import threading
import warnings
from types import TracebackType
from typing import Final

from .engine import Simulator
from .options import SimConfig
from .server import SimulatorHTTPServer
from .timing import DEFAULT_CAPACITY, DEFAULT_JITTER
from .view import SimulatorView

SPEED_ENV: Final = "SEEDREAM_SIM_SPEED"
SHARED_SPEED: Final = 1.0  # a 2K image in about 3.7 s: feels real, is not slow


class SimulatorHandle(SimulatorView):
    """A running simulator: ``.url``, ``.stop()``, counters in ``.stats``; a context manager."""

    def __init__(self, sim: Simulator, server: SimulatorHTTPServer) -> None:
        self._sim = sim
        self._server = server
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        shown = f"[{shown}]" if ":" in shown else shown
        self.url = f"http://{shown}:{self.port}"
        sim.base_url = self.url
        self._stop_lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"seedream-simulator-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        return not self._stopped

    @property
    def open_connections(self) -> int:
        """Client connections open right now (keep-alive ones included)."""
        return self._server.open_connections

    # -- lifecycle ---------------------------------------------------------------------
    def stop(self) -> None:
        """Stop serving and close every connection. Idempotent."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self._sim.stop()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<SimulatorHandle {self.url} {state} speed={self.speed:g}>"


def start(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    speed: float = 1.0,
    faults: str | None = None,
    fault_seed: int = 0,
    api_key: str | None = None,
    url_ttl: float = 86400.0,
    queue_seconds: float | None = None,
    sync_timeout: float | None = None,
    jitter: float = DEFAULT_JITTER,
    timing_seed: int = 0,
    capacity: int | None = DEFAULT_CAPACITY,
    wire: str = "newest",
    verbose: bool = False,
    record_limit: int = 10_000,
    image_side: int | None = None,
    simulator_header: bool = True,
) -> SimulatorHandle:
    """Start a simulator on a background thread; it is listening when this returns.

    ``speed`` divides every duration; ``faults`` is a fault spec (see the package docstring),
    drawn deterministically from ``fault_seed``; with ``api_key`` every API request needs
    ``Authorization: Bearer <key>``; result URLs expire ``url_ttl`` seconds after completion;
    ``queue_seconds`` keeps every task queued that long (absolute seconds, not scaled, no
    jitter), so a test can cancel it; ``sync_timeout`` is the default wait of
    ``POST /v1/tasks/sync`` (default 30 s / speed; the ``?timeout=`` query parameter overrides
    it per request); ``jitter`` spreads each task's durations (lognormal sigma, 0 = exact),
    drawn from ``timing_seed``; at most ``capacity`` tasks process at once (None = no limit),
    the others stay queued; ``wire`` picks the response shapes (newest, legacy, envelope,
    legacy+envelope); ``record_limit`` bounds how many requests ``handle.requests`` keeps;
    ``image_side`` draws result images no longer than that on their long side, aspect kept
    (fast tests; the wire, ``task(id).size`` and the label keep the true size);
    ``simulator_header=False`` leaves out the ``catalog.SIMULATOR_HEADER`` header, so a
    client takes the simulator for the real, billed API (tests of budgets and confirmations).
    """
    config = SimConfig(
        speed=speed,
        faults=faults,
        fault_seed=fault_seed,
        api_key=api_key,
        url_ttl=url_ttl,
        queue_seconds=queue_seconds,
        sync_timeout=sync_timeout,
        jitter=jitter,
        timing_seed=timing_seed,
        capacity=capacity,
        wire=wire,
        verbose=verbose,
        record_limit=record_limit,
        image_side=image_side,
        simulator_header=simulator_header,
    )
    sim = Simulator(config)
    try:
        server = SimulatorHTTPServer((host, port), sim)
    except BaseException:
        sim.stop()
        raise
    return SimulatorHandle(sim, server)


_shared: SimulatorHandle | None = None
_SHARED_RECORD_LIMIT = 200
_shared_lock = threading.Lock()


def _shared_speed() -> float:
    raw = os.environ.get(SPEED_ENV, "").strip()
    if not raw:
        return SHARED_SPEED
    try:
        speed = float(raw)
        if speed > 0:
            return speed
    except ValueError:
        pass
    warnings.warn(f"ignoring {SPEED_ENV}={raw!r}: not a positive number", stacklevel=3)
    return SHARED_SPEED


def running_shared() -> SimulatorHandle | None:
    """The embedded simulator if it is running; never starts one."""
    with _shared_lock:
        return _shared if _shared is not None and _shared.running else None


def stop_shared() -> SimulatorHandle | None:
    """Stop the embedded simulator (its tasks are lost); returns it, or None if not running."""
    with _shared_lock:
        handle = _shared if _shared is not None and _shared.running else None
    if handle is not None:
        handle.stop()
    return handle


def shared() -> SimulatorHandle:
    """The process-wide embedded simulator, started on first use and stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            # a long notebook session must not keep every request body (data URIs) in memory
            _shared = start(speed=_shared_speed(), record_limit=_SHARED_RECORD_LIMIT)
            atexit.register(_shared.stop)
        return _shared
