"""seedream-jupyter: generate images with ByteDance Seedream from Jupyter.

    import seedream_jupyter as sj
    res = sj.generate("a red fox in snow", model="4.5", aspect_ratio="16:9")
    res.images[0]            # a PIL image

    %load_ext seedream_jupyter
    %%seedream -m 4.5 -a 16:9 fox <<
    a red fox in snow

Names are imported on first use, so ``import seedream_jupyter`` stays fast and
pulls in neither PIL nor IPython nor widgets. The layers, top to bottom (each imports only
from those above it; held by the import-linter contract in pyproject.toml)::

    catalog, _version, _loop → _formats, errors → upstream → request, task, config
    → client | simulator → images → store | scores → results → session → api → display
    → magic | panel
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

_EXPORTS: dict[str, str] = {
    # api
    "generate": "api",
    "agenerate": "api",
    "image2image": "api",
    "aimage2image": "api",
    "edit": "api",
    "aedit": "api",
    "reference": "api",
    "areference": "api",
    "group": "api",
    "agroup": "api",
    "batch": "api",
    "sweep": "api",
    "compare": "api",
    "replay": "api",
    "lineage": "api",
    "start": "api",
    "Job": "api",
    "SimulatorWarning": "api",
    "default_client": "api",
    "JobState": "api",
    "build_request": "api",
    "preset": "api",
    "Preset": "api",
    "LimitWarning": "request",
    "UnknownModelWarning": "request",
    # history
    "history": "api",
    "load": "api",
    "resume": "api",
    "spend": "api",
    "export": "api",
    "prune": "api",
    "list_history": "api",
    # building blocks
    "Client": "client",
    "AsyncClient": "client",
    "PollPolicy": "client",
    "Deadline": "client",
    "Session": "session",
    "GenerationRequest": "request",
    "Task": "task",
    "TaskStatus": "task",
    "Result": "results",
    "ResultSet": "results",
    "Sweep": "results",
    "MODELS": "catalog",
    "SeedreamError": "errors",
    "ValidationError": "errors",
    "ConfirmationRequiredError": "errors",
    "ConfigurationError": "errors",
    "BudgetExceededError": "errors",
    "APIError": "errors",
    "BadRequestError": "errors",
    "AuthenticationError": "errors",
    "InsufficientBalanceError": "errors",
    "NotFoundError": "errors",
    "RateLimitError": "errors",
    "ServerError": "errors",
    "ConnectionFailedError": "errors",
    "TaskError": "errors",
    "TaskFailedError": "errors",
    "TaskCancelledError": "errors",
    "TaskTimeoutError": "errors",
    "TaskDetachedError": "errors",
    "ImageDownloadError": "errors",
    "ImageTooLargeError": "errors",
    "ImageRefusedError": "errors",
    "HistoryError": "errors",
    "HistoryWarning": "errors",
    # notebook front-ends
    "Panel": "panel",
    "TaskView": "display",
}
_SUBMODULES = {
    "simulator",
    "catalog",
    "config",
    "errors",
    "api",
    "client",
    "display",
    "magic",
    "panel",
    "store",
    "images",
    "results",
    "scores",
    "request",
    "task",
    "upstream",
}

__all__ = ["__version__", *sorted(_EXPORTS), "load_ipython_extension", "unload_ipython_extension"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'seedream_jupyter' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext seedream_jupyter``: registers %%seedream and %seedream."""
    from .magic import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .magic import unload_ipython_extension as unload

    unload(ipython)


if TYPE_CHECKING:
    from .api import (
        Job,
        JobState,
        Preset,
        SimulatorWarning,
        aedit,
        agenerate,
        agroup,
        aimage2image,
        areference,
        batch,
        build_request,
        compare,
        default_client,
        edit,
        export,
        generate,
        group,
        history,
        image2image,
        lineage,
        list_history,
        load,
        preset,
        prune,
        reference,
        replay,
        resume,
        spend,
        start,
        sweep,
    )
    from .catalog import MODELS
    from .client import AsyncClient, Client, Deadline, PollPolicy
    from .errors import (
        APIError,
        AuthenticationError,
        BadRequestError,
        BudgetExceededError,
        ConfigurationError,
        ConfirmationRequiredError,
        ConnectionFailedError,
        ImageDownloadError,
        ImageTooLargeError,
        InsufficientBalanceError,
        NotFoundError,
        RateLimitError,
        SeedreamError,
        ServerError,
        TaskCancelledError,
        TaskDetachedError,
        TaskError,
        TaskFailedError,
        TaskTimeoutError,
        ValidationError,
    )
    from .request import GenerationRequest, LimitWarning, UnknownModelWarning
    from .results import Result, ResultSet, Sweep
    from .session import Session
    from .task import Task, TaskStatus
