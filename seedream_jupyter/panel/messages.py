"""What the panel says: escaped message blocks, and a readable sentence for any error."""

from __future__ import annotations

from ..errors import ValidationError, describe
from .choices import quiet_html


def message_html(text: str, kind: str = "info") -> str:
    """One escaped message block (``kind``: info, ok, error)."""
    if not text:
        return ""
    color = {
        "info": "var(--jp-ui-font-color2, #555)",
        "ok": "var(--jp-success-color1, #2e7d32)",
        "error": "var(--jp-error-color1, #c62828)",
    }[kind]
    return quiet_html(
        text, f"sjp-msg sjp-{kind}", f"color: {color}; white-space: pre-wrap; line-height: 1.4"
    )


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def images_text(count: int) -> str:
    return plural(count, "image")


def describe_error(exc: BaseException) -> str:
    """A readable one-paragraph message for any error a click can raise (``errors.describe``;
    a refused field says what to fix by itself, next to the form)."""
    message, hint = describe(exc)
    if hint and not isinstance(exc, ValidationError):
        return f"{message} — {hint}"
    return message
