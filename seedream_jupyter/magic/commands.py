"""The ``%seedream`` line commands: models, config, status, cancel, doctor, simulator,
and the history commands (history, show, resume, spend, export).

``COMMANDS`` is their one registry (name, usage, help, function); the help text is made from
it. Each function takes the magic and its remaining words and returns the value of the line
(shown by IPython, and reachable as ``_``) or None after printing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from IPython.core.error import UsageError

from .. import catalog, config
from ..errors import APIError, NotFoundError, SeedreamError
from ..session import SETTINGS, session
from .args import split_line
from .models import models_table
from .running import short_error

price = catalog.format_price
OK, BAD, WARN = "✓", "✗", "!"


def lazy_api() -> Any:
    """The api package, imported on first use so that ``%load_ext`` stays fast (it pulls in
    httpx, ~150 ms, which registering the magics does not need)."""
    from .. import api

    return api


class MagicLike(Protocol):
    """What the commands read of ``SeedreamMagic`` (no import of it: no cycle)."""

    shell: Any

    def effective_display(self) -> str: ...
    def trait_values(self, **metadata: Any) -> dict[str, Any]: ...


Function = Callable[[MagicLike, Sequence[str]], Any]


_MAX_COUNT = 1_000_000  # larger counts overflow SQLite's integers


def _usage(command: str, problem: str) -> UsageError:
    return UsageError(f"%seedream {command}: {problem}")


def _want(command: str, words: Sequence[str], low: int, high: int, usage: str) -> None:
    if not low <= len(words) <= high:
        raise _usage(command, f"usage: %seedream {usage}")


def _int_arg(command: str, word: str) -> int:
    try:
        value = int(word)
    except ValueError:
        raise _usage(command, f"{word!r} is not a whole number") from None
    if not 1 <= value <= _MAX_COUNT:
        raise _usage(command, f"{word!r} must be between 1 and {_MAX_COUNT}")
    return value


# -- catalog and settings ------------------------------------------------------------------------


def cmd_models(magic: MagicLike, words: Sequence[str]) -> None:
    verbose = [w for w in words if w in ("-v", "--verbose")]
    if len(verbose) != len(words) or len(words) > 1:
        raise _usage("models", "usage: %seedream models [-v]")
    text = models_table(verbose=bool(verbose))
    if verbose or magic.effective_display() != "widget":
        print(text)
        return
    from IPython.display import display

    from ..display.tables import models_html

    display({"text/html": models_html(), "text/plain": text}, raw=True)  # type: ignore[no-untyped-call,unused-ignore]


def target_text() -> str:
    return session().target().describe()


def cmd_config(magic: MagicLike, words: Sequence[str]) -> None:
    _want("config", words, 0, 0, "config")
    lines = ["%config SeedreamMagic (settings shared by %%seedream, the helpers and the panel):"]
    for name, value in sorted(magic.trait_values(config=True).items()):
        where = session().source(name) if name in SETTINGS else "magic"
        lines.append(f"  {name:<18} = {value!r}  ({where})")
    try:
        key = "set" if config.read_api_key() else "unset"
    except SeedreamError as exc:
        key = f"unreadable ({exc})"
    try:
        home = str(session().home)
    except Exception as exc:
        home = f"unavailable ({exc})"
    budget = session().budget_usd()
    lines += [
        "environment:",
        f"  {config.ENV_API_KEY:<22} {key}",
        f"  {config.ENV_BASE_URL:<22} {config.env_base_url() or '(default)'}",
        f"  {config.ENV_SIMULATOR:<22} {'on' if config.simulator_forced() else 'off'}",
        f"  {config.ENV_HOME:<22} {home}",
        f"  budget                 {'none' if budget is None else f'${budget:.2f}'}",
        f"requests go to: {target_text()}",
        f"display: {magic.effective_display()}",
    ]
    print("\n".join(lines))


# -- tasks on the server -------------------------------------------------------------------------


def _client() -> Any:
    return session().client()


def _server_id(command: str, task_id: str) -> str:
    """A task id the server knows: an unconfirmed submit's intent id is only ours."""
    from ..store import INTENT_PREFIX  # here: %load_ext stays light

    if task_id.startswith(INTENT_PREFIX):
        raise _usage(
            command,
            f"{task_id} is an unconfirmed submit: its task id never arrived, so the server "
            "cannot be asked about it; check the provider's console (%seedream show shows it)",
        )
    return task_id


def cmd_status(magic: MagicLike, words: Sequence[str]) -> Any:
    _want("status", words, 1, 1, "status TASK_ID")
    task_id = _server_id("status", words[0])
    try:
        task = _client().get(task_id)
    except NotFoundError:
        raise _usage("status", f"the server does not know task {task_id!r}") from None
    parts = [f"task {task.task_id}: {task.status}"]
    if str(task.status) == "processing":
        parts[0] += f" {task.progress}%"
    if task.model:
        parts.append(task.model)
    if task.images:
        parts.append(f"{len(task.images)} image(s)")
    if task.error_message:
        parts.append(f"error: {task.error_message}")
    print(" · ".join(parts))
    if str(task.status) == "completed":
        print(f"fetch it with sj.load({task_id!r}) (or sj.resume() if it was left pending)")
    return None


def cmd_cancel(magic: MagicLike, words: Sequence[str]) -> None:
    _want("cancel", words, 1, 1, "cancel TASK_ID")
    task_id = _server_id("cancel", words[0])
    try:
        task = _client().cancel(task_id)
    except NotFoundError:
        raise _usage("cancel", f"the server does not know task {task_id!r}") from None
    except APIError as exc:
        raise _usage(
            "cancel", f"task {task_id} was not cancelled ({exc}); only queued tasks can be"
        ) from None
    refund = " (refunded)" if task.refunded is not False else ""
    print(f"task {task_id}: {task.status}{refund}")


# -- doctor --------------------------------------------------------------------------------------


def _version(dist: str) -> str | None:
    import importlib.metadata  # only here: 20-30 ms that %load_ext need not pay

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _major(version: str | None) -> int | None:
    if not version:
        return None
    head = version.split(".")[0]
    return int(head) if head.isdigit() else None


def _probe_server() -> tuple[str, str]:
    """Reach the API with one cheap GET of an unknown task: 404 = reachable, key accepted."""
    target = session().target()
    try:
        client = session().client()
        where = client.base_url
    except SeedreamError as exc:
        return BAD, f"cannot build a client: {exc}"
    try:
        client.get("task-seedream-doctor-probe", timeout=5.0)
    except NotFoundError:
        return OK, f"{where} answers (and accepts the key)" if target.api_key else (
            f"{where} answers"
        )
    except APIError as exc:
        if exc.status_code == 401:
            return BAD, f"{where} rejects the key: check WAVE_API_KEY"
        return WARN, f"{where} answered {exc}"
    except SeedreamError as exc:
        return BAD, f"{where} unreachable: {exc}"
    return OK, f"{where} answers"


def doctor_report(magic: MagicLike) -> list[tuple[str, str]]:
    checks: list[tuple[str, str]] = []
    try:
        key = config.read_api_key()
        if config.simulator_forced():
            checks.append((WARN, "SEEDREAM_SIMULATOR=1: the simulator answers even with a key"))
        elif key:
            checks.append((OK, "WAVE_API_KEY is set (value never shown)"))
        else:
            checks.append((WARN, "WAVE_API_KEY is unset: the embedded simulator answers"))
    except SeedreamError as exc:
        checks.append((BAD, str(exc)))
    checks.append((OK, f"requests go to: {target_text()}"))
    checks.append(_probe_server())
    ipyw, anyw, labw = _version("ipywidgets"), _version("anywidget"), _version("jupyterlab_widgets")
    if _major(ipyw) == 8 and (labw is None or _major(labw) == 3):
        checks.append((OK, f"ipywidgets {ipyw}, jupyterlab_widgets {labw or 'not installed'}"))
    else:
        checks.append(
            (
                BAD,
                f"ipywidgets {ipyw} with jupyterlab_widgets {labw}: install ipywidgets 8 with "
                "jupyterlab_widgets 3 in the environment that runs JupyterLab",
            )
        )
    anyw_ok = anyw is not None and tuple(int(x) for x in anyw.split(".")[:2] if x.isdigit()) >= (
        0,
        9,
    )
    checks.append(
        (
            OK if anyw_ok else BAD,
            f"anywidget {anyw}" + ("" if anyw_ok else ": install anywidget>=0.9"),
        )
    )
    lab = _version("jupyterlab")
    if lab is not None:
        checks.append((OK if _major(lab) == 4 else WARN, f"jupyterlab {lab}"))
    shell = magic.shell
    if shell is not None and hasattr(shell, "kernel"):
        checks.append(
            (
                OK,
                f"running in a Jupyter kernel (ipykernel {_version('ipykernel')}): views are "
                "widgets with a static image fallback",
            )
        )
    else:
        checks.append((WARN, "no widget front-end (terminal IPython): text progress is used"))
    checks.append((OK, f"display mode: {magic.effective_display()}"))
    try:
        store = session().store()
        checks.append((OK, f"history at {store.home}"))
    except Exception as exc:
        checks.append((BAD, f"history unavailable ({exc}): set SEEDREAM_HOME to a writable folder"))
    return checks


def cmd_doctor(magic: MagicLike, words: Sequence[str]) -> None:
    _want("doctor", words, 0, 0, "doctor")
    checks = doctor_report(magic)
    print("\n".join(f"{mark} {text}" for mark, text in checks))
    bad = sum(1 for mark, _ in checks if mark == BAD)
    print(f"{len(checks)} checks, {bad} problem{'s' if bad != 1 else ''}")


# -- simulator -----------------------------------------------------------------------------------


def cmd_simulator(magic: MagicLike, words: Sequence[str]) -> None:
    _want("simulator", words, 1, 1, "simulator start|stop|status")
    action = words[0]
    from .. import simulator

    used = session().target().simulated
    note = (
        ""
        if used
        else " (not used by %%seedream: a key or SEEDREAM_BASE_URL is set; "
        "set SEEDREAM_SIMULATOR=1 to use it)"
    )
    if action == "start":
        started = simulator.shared()
        print(f"simulator running at {started.url}, speed {started.speed:g}{note}")
    elif action == "stop":
        sim = simulator.stop_shared()
        if sim is None:
            print("the embedded simulator is not running")
            return
        session().forget_clients()
        print(
            f"simulator at {sim.url} stopped; its pending tasks are lost. The next "
            "generation without a key starts a new one."
        )
    elif action == "status":
        sim = simulator.running_shared()
        if sim is None:
            print(f"the embedded simulator is not running (it starts on first use){note}")
            return
        stats = sim.stats
        counts = ", ".join(
            f"{name} {getattr(stats, name)}"
            for name in ("submits", "polls", "cancels")
            if hasattr(stats, name)
        )
        print(f"simulator running at {sim.url}, speed {sim.speed:g}, {counts}{note}")
    else:
        raise _usage("simulator", f"unknown action {action!r}; use start, stop or status")


# -- history ---------------------------------------------------------------------------------------


def cmd_history(magic: MagicLike, words: Sequence[str]) -> Any:
    _want("history", words, 0, 1, "history [N]")
    limit = _int_arg("history", words[0]) if words else 20
    return lazy_api().list_history(limit)


def cmd_show(magic: MagicLike, words: Sequence[str]) -> Any:
    _want("show", words, 1, 1, "show TASK_ID")
    return lazy_api().load(words[0])


def cmd_resume(magic: MagicLike, words: Sequence[str]) -> Any:
    _want("resume", words, 0, 0, "resume")
    timeout = session().get("timeout")
    return lazy_api().resume(timeout=timeout if timeout else None)


def cmd_spend(magic: MagicLike, words: Sequence[str]) -> Any:
    _want("spend", words, 0, 1, "spend [DAYS]")
    days = _int_arg("spend", words[0]) if words else None
    return lazy_api().spend(days=days)


def cmd_export(magic: MagicLike, words: Sequence[str]) -> None:
    _want("export", words, 1, 2, "export DIR [N]")
    limit = _int_arg("export", words[1]) if len(words) > 1 else None
    written = lazy_api().export(words[0], limit=limit)
    print(f"exported {len(written)} image(s) to {words[0]} with manifest.jsonl")


@dataclass(frozen=True)
class Command:
    usage: str
    help: str
    run: Function


COMMANDS: dict[str, Command] = {
    "models": Command(
        "models [-v]", "the models: prices, resolutions, actions (-v: more)", cmd_models
    ),
    "config": Command("config", "the settings in effect (the key only as set/unset)", cmd_config),
    "status": Command("status TASK_ID", "a task's status on the server", cmd_status),
    "cancel": Command("cancel TASK_ID", "cancel a queued task (refunded)", cmd_cancel),
    "doctor": Command(
        "doctor", "check key, server, simulator, widget versions and front-end", cmd_doctor
    ),
    "simulator": Command("simulator start|stop|status", "the embedded simulator", cmd_simulator),
    "history": Command("history [N]", "the last N tasks, with thumbnails", cmd_history),
    "show": Command("show TASK_ID", "a task's images from disk", cmd_show),
    "resume": Command(
        "resume", "finish tasks left pending (timeout, interrupt, restart)", cmd_resume
    ),
    "spend": Command("spend [DAYS]", "estimated spend by day and model", cmd_spend),
    "export": Command("export DIR [N]", "copy images + manifest.jsonl into DIR", cmd_export),
}


def unknown_command(word: str) -> UsageError:
    listing = "; ".join(COMMANDS)
    if not word:
        return UsageError(f"%seedream needs a command: {listing}. For images use %%seedream.")
    return UsageError(
        f"%seedream: unknown command {word!r}; use one of: {listing}. "
        "To generate, write the prompt in a %%seedream cell."
    )


def run(magic: MagicLike, line: str) -> Any:
    """Run one ``%seedream`` line (``%seedream help`` is answered by the magic itself)."""
    words = split_line(line)
    if not words:
        raise unknown_command("")
    command = COMMANDS.get(words[0].lower())
    if command is None:
        raise unknown_command(words[0])
    try:
        return command.run(magic, words[1:])
    except (SeedreamError, OSError) as exc:  # said in a line or two, not a traceback wall
        raise short_error(exc) from None


__all__ = ["COMMANDS", "doctor_report", "models_table", "run"]
