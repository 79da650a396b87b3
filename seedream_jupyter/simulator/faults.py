"""Fault injection: the ``--faults`` spec grammar and the deterministic fault plan.

Grammar (whitespace is ignored)::

    SPEC   := ITEM ("," ITEM)*
    ITEM   := NAME ["@" SCOPE ("+" SCOPE)*] [":" PROB] ["x" BURST] ["~" SECONDS] ["#" LIMIT]
              (the modifiers may come in any order, each at most once)

    NAME    one of the faults in ``FAULTS`` (``fault_kinds``)
    SCOPE   submit (POST /v1/tasks), sync (POST /v1/tasks/sync), get (GET /v1/tasks/{id}),
            cancel (POST /v1/tasks/{id}/cancel), download (GET /files/...);
            also ``api`` = submit+sync+get+cancel and ``all`` = every scope.
            Without ``@`` a fault applies to its default scopes (see ``FAULTS``).
    PROB    probability in [0, 1] that one request in scope triggers the fault; default 1.
    BURST   once triggered, the fault also hits the next BURST-1 requests in its scopes
            (a "429 burst"); default 1.
    SECONDS 429/503: the Retry-After value sent (default 1 for 429, none for 503);
            slow: the delay (default 2); slowheaders: the pause between header bytes
            (default 1).
    LIMIT   the fault fires at most LIMIT times in all (``500@submit#1``: only the first
            submit fails); default unlimited.

Examples: ``429:0.3x3~1`` (30 % of requests start a burst of three 429s with Retry-After: 1),
``500@get:0.5`` (half the polls fail with HTTP 500, submits are never touched),
``slow@download:1~0.5``, ``fail:0.2,expired:1``.

Draws are deterministic: the n-th request that a fault item sees is decided by a hash of
(fault seed, item position, fault name, n), so one client issuing the same request sequence
sees the same faults on every run, whatever other traffic the threads interleave.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field
from typing import Final

from .fault_kinds import API_SCOPES, FAULTS, SCOPES, STATUS_FAULTS, FaultKind, help_text

__all__ = [
    "API_SCOPES",
    "FAULTS",
    "SCOPES",
    "STATUS_FAULTS",
    "FaultHit",
    "FaultItem",
    "FaultKind",
    "FaultPlan",
    "help_text",
    "parse_spec",
]

_SCOPE_GROUPS: Final = {"api": API_SCOPES, "all": SCOPES}

_HEAD = re.compile(r"^(?P<name>[a-z]+|[0-9]+)(?:@(?P<scopes>[a-z+]+))?(?P<mods>.*)$")
_MODIFIER = re.compile(r"(?P<op>[:x~#])(?P<value>[0-9]*\.?[0-9]+)")
_MODIFIER_NAMES = {":": "PROB", "x": "BURST", "~": "SECONDS", "#": "LIMIT"}


@dataclass(frozen=True)
class FaultItem:
    """One parsed item of a fault spec."""

    name: str
    scopes: tuple[str, ...]
    probability: float = 1.0
    burst: int = 1
    seconds: float | None = None
    limit: int | None = None

    def describe(self) -> str:
        text = f"{self.name}@{'+'.join(self.scopes)}:{self.probability:g}"
        if self.burst > 1:
            text += f"x{self.burst}"
        if self.seconds is not None:
            text += f"~{self.seconds:g}"
        if self.limit is not None:
            text += f"#{self.limit}"
        return text


@dataclass(frozen=True)
class FaultHit:
    """A fault that fires on one request."""

    name: str
    seconds: float | None = None


def parse_spec(spec: str | None) -> tuple[FaultItem, ...]:
    """Parse a fault spec; raises ``ValueError`` with a precise message on bad input."""
    if spec is None:
        return ()
    items: list[FaultItem] = []
    for raw in "".join(spec.split()).lower().split(","):
        if not raw:
            continue
        name, scopes_text, mods = _split_item(raw)
        kind = FAULTS.get(name)
        if kind is None:
            raise ValueError(f"unknown fault {name!r}: choose from {', '.join(FAULTS)}")
        scopes = _parse_scopes(kind, scopes_text)
        probability = float(mods.get(":", 1.0))
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"fault {name!r}: probability {probability} is not in [0, 1]")
        burst = _whole(name, "BURST", mods.get("x", "1"))
        if burst < 1:
            raise ValueError(f"fault {name!r}: burst must be at least 1")
        seconds = float(mods["~"]) if "~" in mods else None
        if seconds is not None and not kind.takes_seconds:
            raise ValueError(f"fault {name!r} takes no ~SECONDS value")
        if seconds is None:
            seconds = kind.default_seconds
        limit = _whole(name, "LIMIT", mods["#"]) if "#" in mods else None
        items.append(FaultItem(name, scopes, probability, burst, seconds, limit))
    return tuple(items)


def _split_item(raw: str) -> tuple[str, str | None, dict[str, str]]:
    """(name, scopes text, {modifier: value}); modifiers may come in any order."""
    bad = ValueError(
        f"bad fault item {raw!r}: expected NAME[@SCOPE[+SCOPE]][:PROB][xBURST][~SECONDS][#LIMIT]"
    )
    head = _HEAD.match(raw)
    if head is None:
        raise bad
    mods: dict[str, str] = {}
    rest = head.group("mods")
    position = 0
    while position < len(rest):
        match = _MODIFIER.match(rest, position)
        if match is None:
            raise bad
        op = match.group("op")
        if op in mods:
            raise ValueError(f"bad fault item {raw!r}: {_MODIFIER_NAMES[op]} given twice")
        mods[op] = match.group("value")
        position = match.end()
    return head.group("name"), head.group("scopes"), mods


def _whole(name: str, what: str, value: str) -> int:
    if not value.isdigit():
        raise ValueError(f"fault {name!r}: {what} must be a whole number, got {value!r}")
    return int(value)


def _parse_scopes(kind: FaultKind, text: str | None) -> tuple[str, ...]:
    if not text:
        return kind.default
    scopes: list[str] = []
    for part in text.split("+"):
        expanded = _SCOPE_GROUPS.get(part, (part,))
        for scope in expanded:
            if scope not in SCOPES:
                raise ValueError(
                    f"fault {kind.name!r}: unknown scope {part!r}: choose from "
                    f"{', '.join(SCOPES)}, api, all"
                )
            if scope in kind.allowed and scope not in scopes:
                scopes.append(scope)
    if not scopes:
        raise ValueError(
            f"fault {kind.name!r} cannot apply to {text!r}: it applies to {', '.join(kind.allowed)}"
        )
    return tuple(scopes)


def _uniform(seed: int, position: int, name: str, n: int) -> float:
    # String seeds are hashed with SHA-512 by ``random``: stable across runs and machines.
    return random.Random(f"{seed}|{position}|{name}|{n}").random()


@dataclass
class _ItemState:
    item: FaultItem
    seen: int = 0
    burst_left: int = 0
    fired: int = 0


@dataclass
class FaultPlan:
    """Decides, request by request, which faults fire. Thread-safe."""

    items: tuple[FaultItem, ...] = ()
    seed: int = 0
    _states: list[_ItemState] = field(default_factory=list, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._states = [_ItemState(item) for item in self.items]

    @classmethod
    def from_spec(cls, spec: str | None, seed: int = 0) -> FaultPlan:
        return cls(parse_spec(spec), seed)

    def describe(self) -> str:
        return ",".join(item.describe() for item in self.items) or "none"

    def draw(self, scope: str) -> dict[str, FaultHit]:
        """The faults that fire for one request in ``scope`` (name -> hit)."""
        hits: dict[str, FaultHit] = {}
        with self._lock:
            for position, state in enumerate(self._states):
                item = state.item
                if scope not in item.scopes:
                    continue
                state.seen += 1
                if item.limit is not None and state.fired >= item.limit:
                    continue
                if state.burst_left > 0:
                    state.burst_left -= 1
                    fired = True
                else:
                    fired = _uniform(self.seed, position, item.name, state.seen) < item.probability
                    if fired:
                        state.burst_left = item.burst - 1
                if fired:
                    state.fired += 1
                    hits.setdefault(item.name, FaultHit(item.name, item.seconds))
        return hits
