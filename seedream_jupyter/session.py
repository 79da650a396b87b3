"""Session: the value of every setting, and what the settings decide.

What each setting is (default, help, environment variable, check) is ``settings.SETTINGS``.

Precedence, for every setting: an explicit argument > ``%config SeedreamMagic.<name>`` (which
the magic hands to ``Session.configure``) > the environment > the default. Every surface — the
helpers, the magic, the panel, the history — reads the one ``session()``, so a ``%config``
change reaches ``sj.generate``, ``Panel()`` and ``sj.batch`` alike.

The session, not the client, decides where requests go (``target``): the real API when a key
is set (or a base URL is given), else the embedded simulator, started on first use. It owns
the shared clients, the history stores, the budget lock, the history writer thread, and the
front-end that shows progress. The front-end is found at call time: in a Jupyter kernel the
notebook views, on a terminal a text line, elsewhere nothing — however the helpers were
imported. It is looked up by name (``seedream_jupyter.display.frontend``), the one plug-in
point below the display layer, so that ``api`` never imports ``display``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from . import catalog, config
from .errors import ConfigurationError
from .settings import SETTINGS, Setting

if TYPE_CHECKING:  # imported on use: ``%load_ext`` needs none (httpx alone is ~150 ms)
    import asyncio

    from .client import Client
    from .store import Store

logger = logging.getLogger("seedream_jupyter")
T = TypeVar("T")

SIMULATOR_NOTICE: Final = config.SIMULATED_NOTICE  # the one text (``results`` shows it too)
FRONTEND_MODULE: Final = "seedream_jupyter.display.frontend"


class ProgressView(Protocol):
    """What the helpers drive while they wait; refreshed from the waiting thread."""

    def add(self, job: Any) -> None: ...
    def refresh(self) -> None: ...
    def close(self) -> None: ...


class Frontend(Protocol):
    """What shows progress and notices: the notebook, a terminal, or a test's recorder."""

    def progress(self, title: str) -> ProgressView | None: ...
    def notice(self, text: str) -> None: ...


@dataclass(frozen=True)
class Target:
    """Where requests go; decided by the session from the settings, once per change."""

    base_url: str | None  # None: the embedded simulator (started when a client is needed)
    api_key: str | None = field(repr=False)
    simulated: bool
    why: str

    def describe(self) -> str:
        if self.simulated:
            return f"embedded simulator ({self.why}): synthetic images, no cost"
        return f"{self.base_url} (real Seedream, billed)"


class Session:
    """The settings of this process and the shared things they decide."""

    @classmethod
    def current(cls) -> Session:
        """The process's session (also ``session()``)."""
        return _SESSION

    def __init__(self) -> None:
        self._overrides: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._clients: dict[tuple[Any, ...], Client] = {}
        self._stores: dict[Path, Store] = {}
        self._frontend: Frontend | None = None
        self._frontend_set = False
        self._budget_lock: asyncio.Lock | None = None
        self._request_gates: dict[str, tuple[asyncio.Lock, int]] = {}
        # One thread writes history rows in order, so SQLite never blocks the event loop
        # (``api.history_writes`` is how every write reaches it).
        self.history_writer = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="seedream-history"
        )

    # -- settings --------------------------------------------------------------------
    def configure(self, **values: Any) -> None:
        """Set ``%config``-level values (``None`` for budget_usd / base_url / home means "none")."""
        unknown = set(values) - set(SETTINGS)
        if unknown:
            raise ConfigurationError(
                f"unknown setting {sorted(unknown)[0]!r}; settings: {', '.join(SETTINGS)}"
            )
        checked = {name: SETTINGS[name].checked(name, value) for name, value in values.items()}
        with self._lock:
            self._overrides.update(checked)

    def reset(self, *names: str) -> None:
        """Forget ``%config``-level values (all of them with no names)."""
        with self._lock:
            for name in names or list(self._overrides):
                self._overrides.pop(name, None)

    def get(self, name: str, explicit: Any = None) -> Any:
        """``explicit`` when not None, else %config, else the environment, else the default."""
        if explicit is not None:
            return explicit
        setting = SETTINGS[name]
        with self._lock:
            if name in self._overrides:
                return self._overrides[name]
        if setting.env is not None and (raw := config.env(setting.env)) is not None:
            if isinstance(setting.default, bool):
                return config.env_flag(setting.env)
            return setting.checked(name, setting.parse(raw), f"{setting.env}={raw!r}")
        return setting.default

    def source(self, name: str) -> str:
        """Where a setting's value comes from: "%config", the env var, or "default"."""
        with self._lock:
            if name in self._overrides:
                return "%config"
        env = SETTINGS[name].env
        return env if env is not None and config.env(env) is not None else "default"

    @property
    def home(self) -> Path:
        return config.home_dir(self.get("home")).expanduser()

    def budget_usd(self, explicit: float | None = None) -> float | None:
        value = self.get("budget_usd", explicit)
        return None if value is None else float(value)

    # -- where requests go -----------------------------------------------------------
    def target(self) -> Target:
        """The real API or the embedded simulator, from the settings as they are now."""
        # Read the key even when the simulator serves: reading registers it, so that it is
        # redacted from any text and refused in any request field all the same.
        with contextlib.suppress(ConfigurationError):
            config.read_api_key()
        if self.get("simulator"):  # %config beats SEEDREAM_SIMULATOR, like every setting
            source = self.source("simulator")
            why = "%config simulator" if source == "%config" else f"{source}=1"
            return Target(None, None, True, why)
        key = config.read_api_key()
        base_url = self.get("base_url")
        if base_url is not None:
            return Target(config.normalize_base_url(base_url), key, False, "base URL set")
        if key is None:
            return Target(None, None, True, "no WAVE_API_KEY")
        return Target(catalog.DEFAULT_BASE_URL, key, False, "WAVE_API_KEY set")

    def client(self) -> Client:
        """One shared Client per target (the embedded simulator started when needed)."""
        from .client import Client

        target = self.target()
        if target.simulated:
            from . import simulator

            url = simulator.shared().url
            key: tuple[Any, ...] = ("simulator", url)
        else:
            url = target.base_url or catalog.DEFAULT_BASE_URL
            key = ("api", url, target.api_key)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = Client(
                    api_key="" if target.simulated else target.api_key,
                    base_url=url,
                    simulated=target.simulated,
                )
                self._clients[key] = client
                if not target.simulated:
                    self._learn_durations(client)
            return client

    def _learn_durations(self, client: Client) -> None:
        """Seed a new client's poller with how long this server's tasks took before."""
        from .client.durations import TaskShape

        rows = guarded(
            "reading past task durations", lambda: self.store().durations(base_url=client.base_url)
        )
        client.aio.durations.load(
            (TaskShape(model, action, resolution, images), seconds)
            for model, action, resolution, images, seconds in rows or ()
        )

    def client_for(self, base_url: str, *, with_key: bool) -> Client:
        """A shared Client for a server the history names (not the current target): with the
        environment's key, or with none (a stopped simulator's port may be anyone's now)."""
        from .client import Client  # here: importing httpx at start-up costs ~150 ms

        key = ("server", base_url, with_key)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = Client(api_key=None if with_key else "", base_url=base_url)
                self._clients[key] = client
            return client

    def forget_clients(self, *, simulated_only: bool = True) -> None:
        """Drop shared clients (e.g. after the embedded simulator stopped)."""
        with self._lock:
            dropped = [
                self._clients.pop(k)
                for k, c in list(self._clients.items())
                if c.simulated or not simulated_only
            ]
        for client in dropped:  # close their connection pools
            with contextlib.suppress(Exception):
                client.close()

    # -- history ---------------------------------------------------------------------
    def store(self, home: str | os.PathLike[str] | None = None) -> Store:
        """The Store of a home directory (this session's by default), one per path."""
        from .store import Store

        path = config.home_dir(home if home is not None else self.get("home"))
        path = path.expanduser().resolve()
        with self._lock:
            store = self._stores.get(path)
            if store is None:
                store = self._stores[path] = Store(path)
            return store

    @contextlib.asynccontextmanager
    async def same_request(self, key: str) -> AsyncIterator[asyncio.Lock]:
        """The lock of one cache key (on the private loop), shared by every job with that key;
        each acquires and releases it itself (with its own deadline). Idle keys are forgotten."""
        import asyncio  # here: start-up stays free of asyncio

        with self._lock:
            lock, users = self._request_gates.get(key, (asyncio.Lock(), 0))
            self._request_gates[key] = (lock, users + 1)
        try:
            yield lock
        finally:
            with self._lock:
                lock, users = self._request_gates[key]
                if users <= 1:
                    del self._request_gates[key]
                else:
                    self._request_gates[key] = (lock, users - 1)

    def budget_lock(self) -> asyncio.Lock:
        """The lock that makes check-budget-then-submit atomic (on the private loop)."""
        if self._budget_lock is None:
            import asyncio

            self._budget_lock = asyncio.Lock()
        return self._budget_lock

    # -- front-end -------------------------------------------------------------------
    def set_frontend(self, frontend: Frontend | None) -> None:
        """Use this front-end from now on (None: show nothing); tests and embedders use it."""
        self._frontend, self._frontend_set = frontend, True

    def detect_frontend(self) -> None:
        """Go back to finding the front-end at each call (the default)."""
        self._frontend, self._frontend_set = None, False

    def frontend(self) -> Frontend | None:
        """The front-end for this moment: notebook, terminal, or none (decided at each call)."""
        if self._frontend_set:
            return self._frontend
        try:
            module = importlib.import_module(FRONTEND_MODULE)
            found: Frontend | None = module.detect()
        except Exception:
            logger.exception("choosing a front-end failed")
            return None
        return found

    def progress(self, title: str) -> ProgressView | None:
        frontend = self.frontend()
        if frontend is None:
            return None
        try:
            return frontend.progress(title)
        except Exception:
            logger.exception("the progress view failed to start")
            return None

    def notice(self, text: str, *, fallback: Callable[[str], None] | None = None) -> None:
        """Say something once, in the front-end's style; without one, ``fallback(text)``."""
        frontend = self.frontend()
        if frontend is not None:
            try:
                frontend.notice(text)
                return
            except Exception:
                logger.exception("the front-end could not show a notice")
        if fallback is not None:
            fallback(text)


def guarded(what: str, fn: Callable[[], T]) -> T | None:
    """``fn()``, or None with a logged warning: history must never cost a generation."""
    try:
        return fn()
    except Exception:
        logger.warning("history: %s failed", what, exc_info=True)
        return None


_SESSION: Final = Session()


def session() -> Session:
    """The process's session."""
    return _SESSION


__all__ = [
    "SETTINGS",
    "SIMULATOR_NOTICE",
    "Frontend",
    "ProgressView",
    "Session",
    "Setting",
    "Target",
    "guarded",
    "session",
]
