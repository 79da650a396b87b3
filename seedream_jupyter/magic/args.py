"""Parsing for ``%%seedream``: options, ``VAR <<``, ``{name}`` interpolation, ``-i`` images.

Every problem is raised as IPython's ``UsageError``: one line, no traceback, nothing sent.
"""

from __future__ import annotations

import argparse
import inspect
import keyword
import os
import re
import string
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, cast

from IPython.core.error import UsageError
from IPython.utils import process as _process

from .. import catalog
from . import whole_api

HELP_HINT = "see %%seedream? for the options"


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"%%seedream: {message}; {HELP_HINT}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or f"%%seedream: {HELP_HINT}")


def _positive_int(name: str, low: int, high: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be a whole number, not {text!r}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{name} must be between {low} and {high}, not {value}"
            )
        return value

    return parse


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the seed must be a whole number, not {text!r}") from None
    if not catalog.MIN_SEED <= value <= catalog.MAX_SEED:
        raise argparse.ArgumentTypeError(f"use -1 (random) or 0..{catalog.MAX_SEED}, not {value}")
    return value


def _timeout(text: str) -> float:
    if text.lower() in ("none", "inf", "0"):
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"the timeout is in seconds (or 'none'), not {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError("the timeout must be positive (or 'none')")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%%seedream", add_help=False, allow_abbrev=False)
    aliases = ", ".join(catalog.ALIASES)
    p.add_argument(
        "-m",
        "--model",
        help=f"model id or alias ({aliases}); default: %%config SeedreamMagic.model",
    )
    p.add_argument(
        "-n",
        type=_positive_int("n", catalog.MIN_IMAGES, catalog.MAX_IMAGES),
        help=f"number of images, {catalog.MIN_IMAGES}-{catalog.MAX_IMAGES} (default 1)",
    )
    p.add_argument(
        "-s",
        "--seed",
        type=_seed,
        help="seed; -1 = random (default). A fixed seed reproduces similar (not identical) "
        "results; an identical fixed-seed request already in the history is answered from "
        "disk, nothing billed (--no-cache to pay for a new one)",
    )
    p.add_argument(
        "-a",
        "--aspect-ratio",
        metavar="RATIO",
        help=f"{' '.join(catalog.ASPECT_RATIOS)}; default: %%config SeedreamMagic.aspect_ratio",
    )
    p.add_argument(
        "-r",
        "--resolution",
        metavar="RES",
        help=f"{' '.join(catalog.RESOLUTIONS)} (what the model offers); "
        "default: %%config SeedreamMagic.resolution",
    )
    p.add_argument(
        "-i",
        "--image",
        action="append",
        default=[],
        metavar="IMAGE",
        help="reference image: an http(s) URL, a file path, or the name of a variable holding "
        "an image, a list of images or a Result; repeatable",
    )
    p.add_argument(
        "--action",
        choices=catalog.ACTIONS,
        help="default: generate, or image2image when -i is given",
    )
    p.add_argument(
        "-g",
        "--group",
        metavar="N",
        type=_positive_int("the group size", catalog.MIN_IMAGES, catalog.MAX_IMAGES),
        help="an image group of up to N images (sequential_image_generation=auto)",
    )
    p.add_argument(
        "--format",
        choices=(*catalog.OUTPUT_FORMATS, "jpg"),
        help="output format (png on models that offer it)",
    )
    p.add_argument("--watermark", action="store_true", help="add the provider's watermark")
    p.add_argument(
        "--timeout",
        type=_timeout,
        metavar="SECONDS",
        help="stop waiting after this long ('none' = no limit); "
        "default: %%config SeedreamMagic.timeout",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="show the JSON that would be sent and its estimated cost; send nothing",
    )
    p.add_argument(
        "--background",
        action="store_true",
        help="return at once; the view keeps updating, its Cancel works, VAR is set on completion",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="submit even when an identical fixed-seed request is in the history",
    )
    # experiments (issue 14): a sweep from a cell
    p.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="sweep NAME over the values (repeatable: the product of all); a request field "
        "(model, seed, aspect_ratio, resolution, n) or a {NAME} in the cell body",
    )
    p.add_argument("--rows", metavar="AXIS", help="the axis on the grid's rows (with --vary)")
    p.add_argument("--cols", metavar="AXIS", help="the axis on the grid's columns (with --vary)")
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="with --vary: skip the combinations a model cannot do (else nothing is sent)",
    )
    p.add_argument(
        "--confirm",
        action="store_true",
        help="send a sweep above %%config SeedreamMagic.confirm_above_usd without asking",
    )
    whole_api.add_options(p)
    p.add_argument("-h", "--help", action="store_true", help="show this help")
    return p


PARSER = build_parser()


@dataclass
class CellArgs:
    """The parsed ``%%seedream`` line."""

    var: str | None
    model: str | None = None
    n: int | None = None
    seed: int | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    image: list[str] = field(default_factory=list)
    action: str | None = None
    group: int | None = None
    format: str | None = None
    watermark: bool = False
    timeout: float | None = None
    dry_run: bool = False
    background: bool = False
    no_cache: bool = False
    vary: list[str] = field(default_factory=list)
    rows: str | None = None
    cols: str | None = None
    skip_invalid: bool = False
    confirm: bool = False
    help: bool = False
    # the whole API
    extra: list[tuple[str, Any]] = field(default_factory=list)
    optimize_prompt: str | None = None
    web_search: bool = False
    callback_url: str | None = None
    wait: str | None = None
    preset: str | None = None
    no_strict: bool = False
    price: float | None = None


def split_line(line: str) -> list[str]:
    try:
        split = cast(Callable[..., list[str]], getattr(_process, "arg_split"))  # noqa: B009
        return list(split(line, posix=not sys.platform.startswith("win")))
    except ValueError as exc:
        raise UsageError(f"%%seedream: cannot read the options ({exc}); check the quotes") from None


def take_target(tokens: list[str]) -> tuple[list[str], str | None]:
    """Remove ``VAR <<`` (also ``VAR<<``) from the tokens; return (rest, VAR)."""
    marker = "<<"
    for index, token in enumerate(tokens):
        if token == marker or (token.endswith(marker) and not token.startswith("-")):
            if token == marker:
                if index == 0:
                    raise UsageError("%%seedream: '<<' needs a variable name before it: VAR <<")
                name, drop = tokens[index - 1], (index - 1, index + 1)
            else:
                name, drop = token[:-2], (index, index + 1)
            if not name.isidentifier() or keyword.iskeyword(name):
                raise UsageError(
                    f"%%seedream: {name!r} cannot be a variable name; write e.g. result <<"
                )
            rest = tokens[: drop[0]] + tokens[drop[1] :]
            if any(t == "<<" or t.endswith("<<") for t in rest):
                raise UsageError("%%seedream: give one 'VAR <<' only")
            return rest, name
    return tokens, None


def parse_line(line: str) -> CellArgs:
    tokens, var = take_target(split_line(line))
    namespace, extra = PARSER.parse_known_args(tokens)
    if extra:
        word = extra[0]
        if word.startswith("-"):
            raise UsageError(f"%%seedream: unknown option {word}; {HELP_HINT}")
        raise UsageError(
            f"%%seedream: unexpected {word!r} on the first line: the prompt goes in the cell "
            "body, and a variable to store the result is written 'VAR <<'"
        )
    return CellArgs(var=var, **vars(namespace))


# -- the prompt ---------------------------------------------------------------------------------


_FIELD_HEAD = re.compile(r"[^.\[]*")


class _PromptFormatter(string.Formatter):
    """``str.format`` over the user's namespace, with errors that say what to write."""

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self._ns = namespace

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        first = _FIELD_HEAD.match(field_name).group(0)  # type: ignore[union-attr]
        if not first or first.isdigit():
            raise UsageError(
                "%%seedream: the prompt has a {...} without a variable name; "
                "write {{ and }} for literal braces"
            )
        if first not in self._ns:
            raise UsageError(
                f"%%seedream: the prompt uses {{{first}}} but no variable {first!r} is defined; "
                f"define it first, or write {{{{{first}}}}} for literal braces"
            )
        if _is_environment(self._ns[first]):
            raise UsageError(
                f"%%seedream: {{{field_name}}} reads the environment, which holds the API key; "
                "put the value you mean in a variable of its own first"
            )
        try:  # attributes and [items] after the name, as str.format reads them
            value, _ = super().get_field(field_name, args, self._ns)
        except Exception as exc:
            raise UsageError(
                f"%%seedream: cannot fill {{{field_name}}} in the prompt "
                f"({type(exc).__name__}: {exc})"
            ) from None
        if inspect.isroutine(value):  # its repr would go into a paid prompt
            raise UsageError(
                f"%%seedream: {{{field_name}}} is a function or method, not a value; call it "
                "in Python first and put the result in a variable"
            )
        if _is_environment(value) or _holds_key(value):
            raise UsageError(
                f"%%seedream: {{{field_name}}} holds the environment or the API key, which "
                "must never go into a prompt (nor the history, nor the image's metadata)"
            )
        return value, first

    def format_field(self, value: Any, format_spec: str) -> Any:
        try:
            return super().format_field(value, format_spec)
        except (TypeError, ValueError) as exc:
            raise UsageError(
                f"%%seedream: cannot format {type(value).__name__} with {format_spec!r} ({exc})"
            ) from None


def _is_environment(value: Any) -> bool:
    """``os``, ``os.environ`` (or a copy of it): the environment, where the API key lives."""
    if value is os or value is os.environ or isinstance(value, type(os.environ)):
        return True
    if not isinstance(value, Mapping) or len(value) < 3:
        return False
    try:  # a copy of it (dict(os.environ)): most of its items are the environment's
        shared = sum(1 for k, v in value.items() if isinstance(k, str) and os.environ.get(k) == v)
    except Exception:
        return False
    return shared * 2 > len(value)


def _holds_key(value: Any) -> bool:
    """True when the value's text is, or contains, the API key."""
    from .. import config
    from ..errors import redact

    try:
        text = str(value)
    except Exception:
        return False
    try:
        key = config.read_api_key()  # registers the key with redact as a side effect
    except Exception:
        key = None
    return bool(key and key in text) or redact.holds_secret(text)


def interpolate(cell: str, namespace: Mapping[str, Any]) -> str:
    """The cell body with ``{name}`` filled from the namespace (``{{`` / ``}}`` for braces)."""
    try:
        text = _PromptFormatter(namespace).vformat(cell, (), {})
    except ValueError as exc:
        raise UsageError(
            f"%%seedream: the prompt has an unmatched brace ({exc}); write {{{{ and }}}} for "
            "literal braces"
        ) from None
    text = text.strip()
    if not text:
        raise UsageError("%%seedream: the cell is empty; write the prompt in the cell body")
    return text


# -- reference images --------------------------------------------------------------------------


def _lookup_name(token: str, namespace: Mapping[str, Any]) -> tuple[bool, Any]:
    """(found, value) for ``name`` or ``name.attr.attr`` in the namespace."""
    head, *attrs = token.split(".")
    if not head.isidentifier() or head not in namespace:
        return False, None
    value = namespace[head]
    for attr in attrs:
        if not attr.isidentifier() or not hasattr(value, attr):
            return False, None
        value = getattr(value, attr)
    return True, value


def resolve_images(tokens: Sequence[str], namespace: Mapping[str, Any]) -> list[Any]:
    """``-i`` values (variables, URLs, paths) as the images to send: a variable's value as it
    is (a Result among them), for ``api.build_request`` to check, convert and trace."""
    values: list[Any] = []
    for token in tokens:
        found, value = _lookup_name(token, namespace)
        if found:
            values.extend(value if isinstance(value, (list, tuple)) else [value])
        elif token.lower().startswith(("http://", "https://", "data:")):
            values.append(token)
        elif Path(token).expanduser().is_file():
            values.append(Path(token).expanduser())
        else:
            where = os.getcwd()
            raise UsageError(
                f"%%seedream: -i {token}: no variable, file (in {where}) or URL by that name; "
                "give a path, an http(s) URL or a variable holding an image"
            )
    return values
