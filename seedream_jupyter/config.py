"""Settings: explicit arguments > %config (passed in as arguments) > env vars > defaults.

The API key is read from ``WAVE_API_KEY`` or from the file named by
``WAVE_API_KEY_FILE``; it is never shown: ``Settings`` hides it from repr.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from . import catalog
from .errors import ConfigurationError, register_secret

ENV_API_KEY: Final = "WAVE_API_KEY"
ENV_API_KEY_FILE: Final = "WAVE_API_KEY_FILE"
ENV_BASE_URL: Final = "SEEDREAM_BASE_URL"
ENV_SIMULATOR: Final = "SEEDREAM_SIMULATOR"
ENV_HOME: Final = "SEEDREAM_HOME"
ENV_BUDGET: Final = "SEEDREAM_BUDGET_USD"
_TRUE = {"1", "true", "yes", "on"}


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def read_api_key() -> str | None:
    """The key from the environment or its key file, or None."""
    key = _env(ENV_API_KEY)
    if key is None and (path := _env(ENV_API_KEY_FILE)):
        try:
            key = Path(path).expanduser().read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ConfigurationError(
                f"{ENV_API_KEY_FILE}={path!r} cannot be read ({exc.strerror}); "
                "fix the path or set WAVE_API_KEY instead"
            ) from None
    register_secret(key)
    return _checked_key(key)


def _checked_key(key: str | None) -> str | None:
    """The key, refused (without echoing it) when it could not travel in an HTTP header."""
    if key and not all(33 <= ord(c) <= 126 for c in key):
        raise ConfigurationError(
            "the API key contains a space, a line break or a non-ASCII character, so it "
            "cannot be sent; copy it again (a key file may hold more than the key)"
        )
    register_secret(key)
    return key


def simulator_forced() -> bool:
    return (_env(ENV_SIMULATOR) or "").lower() in _TRUE


def normalize_base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"base URL {url!r} is not valid: give an http(s) URL such as {catalog.DEFAULT_BASE_URL}"
        )
    return url.strip().rstrip("/")


def home_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where history and saved images live."""
    if explicit is not None:
        return Path(explicit).expanduser()
    if env := _env(ENV_HOME):
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("seedream-jupyter", appauthor=False))


# The notebook's budget (%config SeedreamMagic.budget_usd), set by the magic so that every
# path (helpers, panel, magic) enforces the same one.
_session_budget_usd: float | None = None


def set_session_budget(value: float | None) -> None:
    global _session_budget_usd
    _session_budget_usd = None if value is None else float(value)


def budget_usd(explicit: float | None = None) -> float | None:
    """The spend budget: ``explicit``, else %config SeedreamMagic.budget_usd, else
    SEEDREAM_BUDGET_USD, else None."""
    if explicit is not None:
        return float(explicit)
    if _session_budget_usd is not None:
        return _session_budget_usd
    raw = _env(ENV_BUDGET)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(
            f"{ENV_BUDGET}={raw!r} is not a number; set it to a dollar amount such as 5"
        ) from None


@dataclass(frozen=True)
class Settings:
    """Where requests go. ``base_url`` is None when the embedded simulator should serve."""

    api_key: str | None = field(repr=False)
    base_url: str | None
    use_embedded_simulator: bool

    @property
    def key_is_set(self) -> bool:
        return self.api_key is not None

    def __repr__(self) -> str:
        key = "set" if self.api_key else "unset"
        target = "embedded simulator" if self.use_embedded_simulator else self.base_url
        return f"Settings(api_key={key}, target={target})"


def resolve(api_key: str | None = None, base_url: str | None = None) -> Settings:
    """Settings from arguments, then environment, then defaults (``api_key=""``: no key).

    With no key anywhere and no explicit base URL (or with SEEDREAM_SIMULATOR=1),
    the embedded simulator serves.
    """
    register_secret(api_key)
    # api_key="" means "no key" explicitly; None means "look in the environment".
    key = read_api_key() if api_key is None else (_checked_key(api_key.strip()) or None)
    if base_url is not None:
        return Settings(key, normalize_base_url(base_url), False)
    if simulator_forced():
        return Settings(None, None, True)
    env_url = _env(ENV_BASE_URL)
    if key is None and env_url is None:
        return Settings(None, None, True)
    return Settings(key, normalize_base_url(env_url or catalog.DEFAULT_BASE_URL), False)
