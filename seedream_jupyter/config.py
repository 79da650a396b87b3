"""Settings sources: the environment and the key file. Pure readers, no state.

The precedence (arguments > %config > environment > defaults) is applied by
``session.Session``; this module only reads the environment, each time it is asked, so a
changed variable takes effect on the next call.

The API key is read from ``WAVE_API_KEY`` or from the file named by ``WAVE_API_KEY_FILE``;
it is registered with ``errors.redact`` the moment it is read and never shown.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from . import catalog
from .errors import ConfigurationError, register_secret

ENV_API_KEY: Final = "WAVE_API_KEY"
ENV_API_KEY_FILE: Final = "WAVE_API_KEY_FILE"
ENV_BASE_URL: Final = "SEEDREAM_BASE_URL"
ENV_SIMULATOR: Final = "SEEDREAM_SIMULATOR"
ENV_HOME: Final = "SEEDREAM_HOME"
ENV_BUDGET: Final = "SEEDREAM_BUDGET_USD"
ENV_ALLOW_PRIVATE_URLS: Final = "SEEDREAM_ALLOW_PRIVATE_URLS"
ENV_HISTORY: Final = "SEEDREAM_HISTORY"
SIMULATED_MARK: Final = "SIMULATED"
# Said once wherever simulated images are shown (a progress view's end, a warning, a grid).
SIMULATED_NOTICE: Final = (
    f"{SIMULATED_MARK}: synthetic images from the seedream-jupyter simulator, not Seedream "
    f"(no cost). Set {ENV_API_KEY} (and leave {ENV_SIMULATOR} unset) for real images."
)
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


def env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def env_flag(name: str) -> bool:
    """An on/off variable; a value that is neither is refused (a typo must not mean "off":
    SEEDREAM_SIMULATOR=y would then bill real calls)."""
    value = (env(name) or "").lower()
    if value in _TRUE:
        return True
    if not value or value in _FALSE:
        return False
    raise ConfigurationError(
        f"{name}={env(name)!r} is neither on nor off: use 1 / true / yes / on, "
        "or 0 / false / no / off (or unset it)"
    )


def read_api_key() -> str | None:
    """The key from the environment or its key file, or None."""
    key = env(ENV_API_KEY)
    if key is None and (path := env(ENV_API_KEY_FILE)):
        try:
            key = Path(path).expanduser().read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ConfigurationError(
                f"{ENV_API_KEY_FILE}={path!r} cannot be read ({exc.strerror}); "
                "fix the path or set WAVE_API_KEY instead"
            ) from None
    return checked_key(key)


def checked_key(key: str | None) -> str | None:
    """The key, refused (without echoing it) when it could not travel in an HTTP header."""
    register_secret(key)
    if key and not all(33 <= ord(c) <= 126 for c in key):
        raise ConfigurationError(
            "the API key contains a space, a line break or a non-ASCII character, so it "
            "cannot be sent; copy it again (a key file may hold more than the key)"
        )
    return key


def resolve_key(explicit: str | None) -> str | None:
    """``explicit`` (``""`` means "no key"), else the environment's key."""
    if explicit is None:
        return read_api_key()
    register_secret(explicit)
    return checked_key(explicit.strip()) or None


def simulator_forced() -> bool:
    return env_flag(ENV_SIMULATOR)


def allow_private_urls() -> bool:
    return env_flag(ENV_ALLOW_PRIVATE_URLS)


def env_base_url() -> str | None:
    return env(ENV_BASE_URL)


def normalize_base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"base URL {url!r} is not valid: give an http(s) URL such as {catalog.DEFAULT_BASE_URL}"
        )
    return url.strip().rstrip("/")


def home_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where history and saved images live."""
    if explicit is not None:
        return Path(explicit).expanduser()
    if value := env(ENV_HOME):
        return Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("seedream-jupyter", appauthor=False))


def dollars(name: str, raw: str) -> float:
    """The value ``raw`` of the environment variable ``name`` as US dollars."""
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(
            f"{name}={raw!r} is not a number; set it to a dollar amount such as 5"
        ) from None


# -- the checks of settings given by %config or the environment (session.SETTINGS) --------------
def at_least_zero_dollars(value: Any) -> float:
    """A budget or threshold in US dollars: a number, zero or more."""
    amount = _number(value, "a dollar amount such as 5")
    if amount < 0:
        raise ConfigurationError(f"{value!r} is below zero: give a dollar amount such as 5")
    return amount


def positive_seconds(value: Any) -> float:
    """A time limit: seconds above zero (None, the caller's, means no limit)."""
    seconds = _number(value, "seconds such as 300, or None for no limit")
    if seconds <= 0:
        raise ConfigurationError(
            f"{value!r} is not above zero: give seconds such as 300, or None for no limit"
        )
    return seconds


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigurationError(f"{value!r} is not a number: give {what}")
    try:
        number = float(value)
    except ValueError:
        raise ConfigurationError(f"{value!r} is not a number: give {what}") from None
    if not math.isfinite(number):
        raise ConfigurationError(f"{value!r} is not a finite number: give {what}")
    return number
