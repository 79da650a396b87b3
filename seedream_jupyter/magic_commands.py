"""The ``%seedream`` line commands: models, config, status, cancel, doctor, simulator,
and the history commands (history, show, resume, spend, export).

Each takes the magic and its remaining words and returns the value of the line (shown
by IPython, and reachable as ``_``) or None after printing.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from . import catalog, config
from .errors import APIError, NotFoundError, SeedreamError
from .magic_args import SUBCOMMANDS, price

if TYPE_CHECKING:
    from .magic import SeedreamMagic

Command = Callable[["SeedreamMagic", Sequence[str]], Any]
OK, BAD, WARN = "✓", "✗", "!"


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


def models_table() -> str:
    rows = [("model", "aliases", "actions", "resolutions", "formats", "$/image")]
    for spec in catalog.MODELS.values():
        rows.append(
            (
                spec.id,
                ", ".join(spec.aliases[:3]),
                ", ".join(spec.actions),
                " ".join(spec.resolutions),
                " ".join(spec.output_formats),
                price(spec.price_per_image_usd),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"{spec.id}: {spec.summary}" for spec in catalog.MODELS.values()]
    missing = "; ".join(
        f"{ratio} not on {', '.join(m.removeprefix('doubao-seedream-') for m in models)}"
        for ratio, models in catalog.ratio_exceptions().items()
    )
    ratios = f"aspect ratios: {' '.join(catalog.ASPECT_RATIOS)}" + (
        f" ({missing})" if missing else ""
    )
    return "\n".join([*lines, "", *notes, ratios])


def cmd_models(magic: SeedreamMagic, words: Sequence[str]) -> None:
    _want("models", words, 0, 0, "models")
    print(models_table())


def target_text() -> str:
    settings = config.resolve()
    if settings.use_embedded_simulator:
        why = "SEEDREAM_SIMULATOR=1" if config.simulator_forced() else "no WAVE_API_KEY"
        return f"embedded simulator ({why}): synthetic images, no cost"
    return f"{settings.base_url} (real Seedream, billed)"


def cmd_config(magic: SeedreamMagic, words: Sequence[str]) -> None:
    _want("config", words, 0, 0, "config")
    lines = ["%config SeedreamMagic:"]
    for name in sorted(magic.class_own_traits(config=True)):
        lines.append(f"  {name:<15} = {getattr(magic, name)!r}")
    try:
        key = "set" if config.read_api_key() else "unset"
    except SeedreamError as exc:
        key = f"unreadable ({exc})"
    home: str
    try:
        home = str(config.home_dir())
    except Exception as exc:
        home = f"unavailable ({exc})"
    budget = config.budget_usd(magic.budget_usd)
    lines += [
        "environment:",
        f"  {config.ENV_API_KEY:<22} {key}",
        f"  {config.ENV_BASE_URL:<22} {os.environ.get(config.ENV_BASE_URL) or '(default)'}",
        f"  {config.ENV_SIMULATOR:<22} {'on' if config.simulator_forced() else 'off'}",
        f"  {config.ENV_HOME:<22} {home}",
        f"  budget                 {'none' if budget is None else f'${budget:.2f}'}",
        f"requests go to: {target_text()}",
        f"display: {magic.effective_display()}",
    ]
    print("\n".join(lines))


# -- tasks on the server -------------------------------------------------------------------------


def _client() -> Any:
    from . import api

    return api.default_client()


def cmd_status(magic: SeedreamMagic, words: Sequence[str]) -> Any:
    _want("status", words, 1, 1, "status TASK_ID")
    task_id = words[0]
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


def cmd_cancel(magic: SeedreamMagic, words: Sequence[str]) -> None:
    _want("cancel", words, 1, 1, "cancel TASK_ID")
    task_id = words[0]
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
    from .client import Client

    settings = config.resolve()
    try:
        client = Client(timeout=5.0, max_retries=0)
        where = client.base_url
    except SeedreamError as exc:
        return BAD, f"cannot build a client: {exc}"
    try:
        client.get("task-seedream-doctor-probe")
    except NotFoundError:
        return OK, f"{where} answers (and accepts the key)" if settings.key_is_set else (
            f"{where} answers"
        )
    except APIError as exc:
        if exc.status_code == 401:
            return BAD, f"{where} rejects the key: check WAVE_API_KEY"
        return WARN, f"{where} answered {exc}"
    except SeedreamError as exc:
        return BAD, f"{where} unreachable: {exc}"
    finally:
        with contextlib.suppress(Exception):
            client.close()
    return OK, f"{where} answers"


def doctor_report(magic: SeedreamMagic) -> list[tuple[str, str]]:
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
        from .api import default_store

        store = default_store()
        if store is not None:
            checks.append((OK, f"history at {store.home}"))
        else:
            checks.append((BAD, "history unavailable: set SEEDREAM_HOME to a writable folder"))
    except Exception as exc:
        checks.append((BAD, f"history unavailable ({exc}): set SEEDREAM_HOME to a writable folder"))
    return checks


def cmd_doctor(magic: SeedreamMagic, words: Sequence[str]) -> None:
    _want("doctor", words, 0, 0, "doctor")
    checks = doctor_report(magic)
    print("\n".join(f"{mark} {text}" for mark, text in checks))
    bad = sum(1 for mark, _ in checks if mark == BAD)
    print(f"{len(checks)} checks, {bad} problem{'s' if bad != 1 else ''}")


# -- simulator -----------------------------------------------------------------------------------


def cmd_simulator(magic: SeedreamMagic, words: Sequence[str]) -> None:
    _want("simulator", words, 1, 1, "simulator start|stop|status")
    action = words[0]
    from . import api, simulator

    settings = config.resolve()
    used = settings.use_embedded_simulator
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
        api.reset_default_clients()
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


def cmd_history(magic: SeedreamMagic, words: Sequence[str]) -> Any:
    _want("history", words, 0, 1, "history [N]")
    from . import archive

    limit = _int_arg("history", words[0]) if words else 20
    return archive.list_history(limit)


def cmd_show(magic: SeedreamMagic, words: Sequence[str]) -> Any:
    _want("show", words, 1, 1, "show TASK_ID")
    from . import archive

    return archive.load(words[0])


def cmd_resume(magic: SeedreamMagic, words: Sequence[str]) -> Any:
    _want("resume", words, 0, 0, "resume")
    from . import archive

    timeout = magic.timeout if magic.timeout > 0 else None
    return archive.resume(timeout=timeout)


def cmd_spend(magic: SeedreamMagic, words: Sequence[str]) -> Any:
    _want("spend", words, 0, 1, "spend [DAYS]")
    from . import archive

    days = _int_arg("spend", words[0]) if words else None
    return archive.spend(days=days, budget_usd=magic.budget_usd)


def cmd_export(magic: SeedreamMagic, words: Sequence[str]) -> None:
    _want("export", words, 1, 2, "export DIR [N]")
    from . import archive

    limit = _int_arg("export", words[1]) if len(words) > 1 else None
    written = archive.export(words[0], limit=limit)
    print(f"exported {len(written)} image(s) to {words[0]} with manifest.jsonl")


COMMANDS: dict[str, Command] = {
    "models": cmd_models,
    "config": cmd_config,
    "status": cmd_status,
    "cancel": cmd_cancel,
    "doctor": cmd_doctor,
    "simulator": cmd_simulator,
    "history": cmd_history,
    "show": cmd_show,
    "resume": cmd_resume,
    "spend": cmd_spend,
    "export": cmd_export,
}


def unknown_command(word: str) -> UsageError:
    listing = "; ".join(f"{name}" for name in SUBCOMMANDS)
    if not word:
        return UsageError(f"%seedream needs a command: {listing}. For images use %%seedream.")
    return UsageError(
        f"%seedream: unknown command {word!r}; use one of: {listing}. "
        "To generate, write the prompt in a %%seedream cell."
    )


def run(magic: SeedreamMagic, line: str) -> Any:
    from .magic_args import split_line

    words = split_line(line)
    if not words or words[0] in ("-h", "--help", "help"):
        if words:
            from .magic_args import help_text

            print(help_text())
            return None
        raise unknown_command("")
    command = COMMANDS.get(words[0].lower())
    if command is None:
        raise unknown_command(words[0])
    try:
        return command(magic, words[1:])
    except (SeedreamError, OSError) as exc:  # said in a line, not a traceback wall
        line = f"{type(exc).__name__}: {exc}"
        exc._render_traceback_ = lambda: [line]  # type: ignore[union-attr]
        raise


__all__ = ["COMMANDS", "doctor_report", "models_table", "run"]
