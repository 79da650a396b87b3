"""The exception tree.

    SeedreamError
    ├── ValidationError          bad input, raised before any request is sent
    │   └── ConfirmationRequiredError  a sweep costs more than confirm_above_usd
    ├── ConfigurationError       bad settings (missing key file, bad URL, ...)
    ├── BudgetExceededError      the spend budget would be exceeded
    ├── APIError                 the server answered with an error
    │   ├── BadRequestError          400
    │   ├── AuthenticationError      401
    │   ├── InsufficientBalanceError 402
    │   ├── NotFoundError            404
    │   ├── RateLimitError           429
    │   └── ServerError              5xx
    ├── ConnectionFailedError    the network failed (for a submit: the task may exist)
    ├── TaskError                a task ended badly
    │   ├── TaskFailedError          status "failed" (server's code and message)
    │   ├── TaskCancelledError       status "cancelled"
    │   ├── TaskTimeoutError         we stopped waiting; the task may still run
    │   └── TaskDetachedError        we were told to stop waiting (interrupt, Cancel
    │                                on a processing task); the task may still run
    ├── HistoryError             the history (SEEDREAM_HOME) cannot be read or written
    ├── ImageTooLargeError       an image claims more pixels than any real output (a bomb)
    └── ImageDownloadError       a result image could not be fetched
        └── ImageRefusedError        it arrived but is unusable (a bomb, undecodable)

No message ever contains the API key: ``redact`` scrubs every string that
reaches an exception (and every server text before it is stored or shown), and the
client registers the key it uses. Bearer tokens and ``Authorization`` header values are
scrubbed even when the key is not one this process knows.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import ClassVar, Final

from . import catalog

_REDACTED: Final = "[REDACTED]"
MAY_BE_BILLED_HINT: Final = (
    "The task may exist and be billed: check sj.history() and the provider's console "
    "before submitting again."
)
UNEXPECTED_HINT: Final = (
    "An unexpected error: the details are in the log (logger 'seedream_jupyter')."
)
# A credential a server echoes back, whoever's it is: "Authorization: <...>", "api_key=<...>",
# and "Bearer <token>" where the token looks like one (8+ characters, a digit among them: so
# "the bearer bonds" in a prompt stays as it is). The value ends at whitespace or a separator.
_VALUE: Final = r"(?!\[REDACTED\]|bearer\b)[^\s\"',;&<>]{4,}"
_CREDENTIAL: Final = re.compile(
    r"(?i)(\bauthorization\b[\"']?\s*[:=]\s*[\"']?(?:bearer\s+)?|"
    r"\b(?:x-)?api[_-]?key\b[\"']?\s*[:=]\s*[\"']?)"
    + _VALUE
    + r"|(\bbearer\s+)(?=[^\s\"',;&<>]*\d)(?!\[REDACTED\])[^\s\"',;&<>]{8,}"
)


def _scrub(match: re.Match[str]) -> str:
    return (match.group(1) or match.group(2)) + _REDACTED


class _Redactor:
    """The secrets this process knows (API keys), and their removal from any text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def register(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            escaped = secret.encode("unicode_escape").decode("ascii")  # as reprs show it
            with self._lock:
                self._secrets.update({secret, escaped, secret.strip()} - {""})

    def holds_secret(self, text: str) -> bool:
        """True when ``text`` contains a registered secret of 8+ characters (a real key)."""
        with self._lock:
            secrets = list(self._secrets)
        return any(len(secret) >= 8 and secret in text for secret in secrets)

    def __call__(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, _REDACTED)
        return _CREDENTIAL.sub(_scrub, text)


redact: Final = _Redactor()
register_secret: Final = redact.register


class SeedreamError(Exception):
    """Base class of every error this package raises."""

    # True when a submit may have reached the server: the task may exist and be billed.
    maybe_submitted: bool = False
    # Set when the error came after the task was submitted (a poll or download failed): the
    # task goes on, so the advice is to fetch it later, never to submit again.
    submitted_task_id: str | None = None
    # One sentence saying what to do, shown under the message (the only place hints live).
    _hint: ClassVar[str] = ""

    def __init__(self, message: str) -> None:
        self.message = redact(message)
        super().__init__(self.message)

    def __str__(self) -> str:
        """The message, then what to do (views show the two apart: ``message``, ``hint``)."""
        return f"{self.message} — {self.hint}" if self.hint else self.message

    @property
    def hint(self) -> str:
        """What to do about it, in one sentence (empty when the message already says). A submit
        that may have reached the server gets one advice whatever the error's class: a "try
        again" would risk paying twice."""
        if self.maybe_submitted:
            return MAY_BE_BILLED_HINT
        if self.submitted_task_id is not None:
            task = self.submitted_task_id
            return (
                f"Task {task} was submitted and may still complete: sj.load({task!r}) or "
                "sj.resume() fetches its images later; do not submit it again."
            )
        return self._hint

    def with_note(self, note: str) -> SeedreamError:
        """This error with ``note`` appended to its message (returned for ``raise``)."""
        self.message = redact(self.message + note)
        self.args = (self.message,)
        return self


class ValidationError(SeedreamError, ValueError):
    """A request parameter is invalid; nothing was sent."""

    _hint = "Fix the parameter named above; nothing was sent."

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}={value!r} is not valid: {allowed}")


class ConfirmationRequiredError(ValidationError):
    """A sweep, comparison or batch would cost more than ``confirm_above_usd``; nothing was
    sent."""

    _hint = (
        "Pass confirm=True to send it (or raise %config SeedreamMagic.confirm_above_usd); "
        "nothing was sent."
    )

    def __init__(self, cost_usd: float, limit_usd: float, images: int) -> None:
        self.cost_usd, self.limit_usd, self.images = cost_usd, limit_usd, images
        super().__init__(
            "confirm",
            False,
            f"these {images} image(s) cost up to {catalog.format_usd(cost_usd)}, more than the "
            f"${limit_usd:.2f} that needs a confirmation",
        )


class ConfigurationError(SeedreamError):
    """Settings are missing or malformed."""


class BudgetExceededError(SeedreamError):
    """Submitting would exceed the configured spend budget; nothing was sent."""

    _hint = "Raise %config SeedreamMagic.budget_usd (or SEEDREAM_BUDGET_USD) to continue."


class APIError(SeedreamError):
    """The server answered with an HTTP error."""

    status_code: int | None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        task_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.task_id = task_id
        self.retry_after = retry_after
        prefix = f"HTTP {status_code}" if status_code is not None else "API error"
        detail = f" [{code}]" if code else ""
        super().__init__(f"{prefix}{detail}: {message}")


class BadRequestError(APIError):
    """HTTP 400: the server rejected the parameters."""


class AuthenticationError(APIError):
    """HTTP 401: the API key is missing or wrong. Set WAVE_API_KEY."""

    _hint = "Check WAVE_API_KEY (or unset it to use the simulator), then run the cell again."


class InsufficientBalanceError(APIError):
    """HTTP 402: the account balance is too low. Top up, then retry."""

    _hint = "Top up the account balance, then run the cell again."


class NotFoundError(APIError):
    """HTTP 404: unknown task id (or another account's)."""


class RateLimitError(APIError):
    """HTTP 429: too many requests. Retried automatically for reads."""

    _hint = "Too many requests: wait a moment, or run fewer at once."


class ServerError(APIError):
    """HTTP 5xx: the server failed. Retried automatically for reads."""

    _hint = "The server failed: try again in a minute."


_STATUS_MAP: Final[dict[int, type[APIError]]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientBalanceError,
    404: NotFoundError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_for_status(status_code: int) -> type[APIError]:
    if status_code >= 500:
        return ServerError
    return _STATUS_MAP.get(status_code, APIError)


class ConnectionFailedError(SeedreamError):
    """The network failed. After a submit was sent the task may exist and be billed
    (``maybe_submitted``)."""

    def __init__(
        self, message: str, *, task_id: str | None = None, maybe_submitted: bool = False
    ) -> None:
        self.task_id = task_id
        self.maybe_submitted = maybe_submitted
        super().__init__(message)


NOT_SUBMITTED: Final = "(not submitted)"  # the task id of a job stopped before its submit


class TaskError(SeedreamError):
    """A task did not produce images."""

    def __init__(self, message: str, *, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(message)


class TaskFailedError(TaskError):
    """The task failed on the server; ``code`` and ``server_message`` say why."""

    _hint = "The server refused this task: rephrase the prompt or change parameters, then retry."

    def __init__(self, task_id: str, code: str | None, server_message: str | None) -> None:
        self.code = code
        self.server_message = server_message
        reason = server_message or "no reason given"
        detail = f" [{code}]" if code else ""
        super().__init__(f"task {task_id} failed{detail}: {reason}", task_id=task_id)


class TaskCancelledError(TaskError):
    """The task was cancelled (its quota refunded)."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id} was cancelled", task_id=task_id)


class TaskTimeoutError(TaskError):
    """We stopped waiting; the task may still be running and will be billed if it completes.
    ``task_id`` is ``NOT_SUBMITTED`` when the time ran out before anything was sent."""

    def __init__(self, task_id: str, waited_seconds: float, status: str | None = None) -> None:
        self.waited_seconds = waited_seconds
        self.status = status
        state = f" (last status: {status})" if status else ""
        if task_id == NOT_SUBMITTED:
            doing = f" (while {status})" if status else ""
            super().__init__(
                f"the timeout ran out after {waited_seconds:.3g} s{doing}, before the submit "
                "reached the server: nothing was sent",
                task_id=task_id,
            )
            return
        super().__init__(
            f"stopped waiting for task {task_id} after {waited_seconds:.0f} s{state}. "
            f"It may still complete: fetch it later with sj.load({task_id!r}) or "
            f"sj.resume(), which save its images, or wait again with client.wait({task_id!r}).",
            task_id=task_id,
        )


class TaskDetachedError(TaskError):
    """We stopped waiting on request; a processing task cannot be cancelled and may complete."""

    def __init__(self, task_id: str) -> None:
        super().__init__(
            f"stopped waiting for task {task_id}: it is still processing on the server (the "
            f"provider cannot cancel a started task, so it will be billed). Fetch it later with "
            f"sj.resume() or sj.load({task_id!r}).",
            task_id=task_id,
        )


class HistoryError(SeedreamError):
    """The history under ``SEEDREAM_HOME`` cannot be read or written (a full disk, a read-only
    folder, a damaged database). Before a submit this refuses it: nothing was sent."""

    _hint = (
        "Free disk space or set SEEDREAM_HOME to a writable folder; to generate without a "
        "history (nothing saved to disk), %config SeedreamMagic.history = False or "
        "SEEDREAM_HISTORY=0."
    )

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        super().__init__(message)


class HistoryWarning(UserWarning):
    """A paid task could not be fully recorded (its images are kept in memory: save them)."""


class ImageTooLargeError(SeedreamError, ValueError):
    """An image claims more pixels than any real output (a decompression bomb); not decoded."""


class ImageDownloadError(SeedreamError):
    """A result image could not be downloaded (expired link, truncated body, ...)."""

    def __init__(self, message: str, *, task_id: str | None = None, url: str | None = None) -> None:
        self.task_id = task_id
        self.url = url
        super().__init__(message)

    @property
    def hint(self) -> str:
        where = f"sj.load({self.task_id!r})" if self.task_id else "sj.history()"
        return f"The task completed but an image could not be fetched: try {where}."


class ImageRefusedError(ImageDownloadError):
    """A result image arrived but cannot be used (a decompression bomb, undecodable bytes);
    it was not kept. The task's other images are saved."""

    @property
    def hint(self) -> str:
        where = f"task {self.task_id}" if self.task_id else "the task"
        return (
            f"The server sent an unusable image; the other images of {where} are saved "
            "(sj.load shows them). Report the task id to the provider."
        )


def describe(exc: BaseException) -> tuple[str, str]:
    """What went wrong and what to do about it, as every view shows an error: ``(message,
    hint)``, both redacted. A SeedreamError gives its message and its hint (a
    ``ValidationError`` says what was not sent and why); any other exception its type and text,
    with the log as the hint (an ``OSError`` says enough by itself)."""
    if isinstance(exc, ValidationError):
        return redact(f"Not sent — {exc.field}: {exc.allowed} (got {exc.value!r})."), exc.hint
    if isinstance(exc, SeedreamError):
        return exc.message, exc.hint
    text = redact(f"{type(exc).__name__}: {exc}")
    return text, "" if isinstance(exc, OSError) else UNEXPECTED_HINT
