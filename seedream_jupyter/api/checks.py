"""Argument checks for the history functions: a wrong type or sign is a ValidationError that
names the argument, never a raw TypeError, nor a filter that silently matches nothing (or
everything)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import ValidationError


def count(name: str, value: object, *, low: int = 0) -> int | None:
    """None, or a whole number >= ``low``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValidationError(name, value, f"a whole number, at least {low}")
    return value


def days(name: str, value: object) -> float | None:
    """None, or a finite number of days >= 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(name, value, "a number of days")
    if value < 0:
        raise ValidationError(name, value, "0 or more days")
    return float(value)


def ids(name: str, value: object) -> list[str] | None:
    """None, or a list of task ids (one id alone would be read as its characters)."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValidationError(name, value, "a list of task ids, e.g. [result.task_id]")
    if not all(isinstance(item, str) for item in value):
        raise ValidationError(name, value, "task ids are strings")
    return list(value)


def status(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValidationError("status", value, "a status name such as 'completed' or 'pending'")
    return value
