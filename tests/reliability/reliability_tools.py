"""Accounting shared by the reliability tests: what the server created against what the history
knows, images returned against images on disk, and the API key searched for everywhere."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import seedream_jupyter as sj
from seedream_jupyter.client import PollPolicy
from seedream_jupyter.simulator import SimulatorHandle
from seedream_jupyter.store import UNCONFIRMED, Store

KEY = "sk-reliability-SENTINEL-7f3a9c1e5b20"
FAST_POLL = PollPolicy(first_delay=0.01, min_interval=0.01, max_interval=0.05)
# Links a client refuses on purpose or cannot fetch: the images were never deliverable.
UNDELIVERABLE_FAULTS = frozenset({"expired", "private"})


def client_for(sim: SimulatorHandle, **options: Any) -> sj.Client:
    options.setdefault("poll", FAST_POLL)
    return sj.Client(api_key=KEY, base_url=sim.url, **options)


def leaks(home: Path, secret: str = KEY) -> list[str]:
    """Files under ``home`` (the SQLite database, its WAL and SHM, images) holding ``secret``."""
    needle = secret.encode()
    found = []
    for path in sorted(home.rglob("*")):
        if path.is_file() and needle in path.read_bytes():
            found.append(str(path.relative_to(home)))
    return found


@dataclass
class Accounting:
    """Server tasks against history rows; images the server returned against files on disk."""

    server_tasks: int = 0
    task_rows: int = 0
    intents: int = 0  # unconfirmed rows: submits whose task id never arrived
    intents_matched: int = 0  # ... that stand for a server task (same prompt, no task row)
    # A reused id given to two submits at once: the client cannot tell which one created it,
    # so the first answer parsed holds the row and the other stays an intent ("may be
    # billed"). Its prompt is then the one of the task whose id was reused, not of the task
    # the server made for it: matched through that pair.
    intents_swapped: int = 0
    unrecorded: list[str] = field(default_factory=list)  # server tasks with no row: LOSS
    phantoms: list[str] = field(default_factory=list)  # rows naming a task the server never made
    duplicates: list[str] = field(default_factory=list)  # prompts the server saw twice
    images_returned: int = 0  # images of completed tasks that the client keeps (min(asked, n))
    images_on_disk: int = 0
    images_refused: int = 0  # bombs and undecodable bodies: recorded, never kept
    images_undeliverable: int = 0  # expired or private links (the server's doing)
    images_lost: list[str] = field(default_factory=list)  # returned, deliverable, not on disk
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    unexplained: list[str] = field(default_factory=list)  # failed / unconfirmed rows with no why

    @property
    def clean(self) -> bool:
        return (
            not (self.unrecorded or self.phantoms or self.duplicates or self.images_lost)
            and not self.unexplained
        )

    def line(self) -> str:
        return (
            f"server tasks {self.server_tasks} = task rows {self.task_rows} + intents matched "
            f"{self.intents_matched} (intents {self.intents}"
            + (f", {self.intents_swapped} through a reused id" if self.intents_swapped else "")
            + "); duplicate submits "
            f"{len(self.duplicates)}; images returned {self.images_returned} = on disk "
            f"{self.images_on_disk} + refused {self.images_refused} + undeliverable "
            f"{self.images_undeliverable} (lost {len(self.images_lost)}); statuses "
            f"{dict(sorted(self.statuses.items()))}"
        )


def account(sim: SimulatorHandle, store: Store) -> Accounting:
    """Match every task the simulator created with the history (by id, else by its prompt
    against an unconfirmed intent: every prompt is unique in these tests)."""
    out = Accounting()
    records = store.history()
    rows = {r.task_id: r for r in records if r.status != UNCONFIRMED}
    intents = collections.Counter(r.prompt for r in records if r.status == UNCONFIRMED)
    out.task_rows, out.intents = len(rows), sum(intents.values())
    out.statuses.update(r.status for r in records)
    for record in records:
        if record.status in ("failed", "lost", UNCONFIRMED) and not record.error_message:
            out.unexplained.append(record.task_id)
    server_ids = sim.task_ids()
    out.server_tasks = len(server_ids)
    server_prompt = {}
    for task_id in server_ids:
        state = sim.task(task_id)
        assert state is not None
        server_prompt[task_id] = state.body.get("prompt")
    # a row whose prompt is not its task's: its id was answered to two submits at once
    swapped = {
        r.prompt: server_prompt[task_id]
        for task_id, r in rows.items()
        if task_id in server_prompt and r.prompt != server_prompt[task_id]
    }
    prompts = collections.Counter()
    for task_id in server_ids:
        state = sim.task(task_id)
        assert state is not None
        prompt = state.body.get("prompt")
        prompts[prompt] += 1
        record = rows.get(task_id)
        if record is None:
            if intents[prompt] > 0:
                intents[prompt] -= 1
                out.intents_matched += 1
            elif intents[swapped.get(prompt)] > 0:
                intents[swapped[prompt]] -= 1
                out.intents_matched += 1
                out.intents_swapped += 1
            else:
                out.unrecorded.append(task_id)
            continue
        if state.status != "completed" or state.image_count == 0:
            continue
        kept = min(state.request.output_count, state.image_count)
        out.images_returned += kept
        if state.faults & UNDELIVERABLE_FAULTS:
            out.images_undeliverable += kept
            continue
        on_disk = sum(1 for img in record.images if img.on_disk)
        refused = len(getattr(record, "refused", ()))  # (getattr: also runs on older trees)
        out.images_on_disk += on_disk
        out.images_refused += refused
        if on_disk + refused < kept:
            out.images_lost.append(f"{task_id}: {kept - on_disk - refused} of {kept}")
    out.phantoms = [task_id for task_id in rows if task_id not in set(server_ids)]
    out.duplicates = [p for p, count in prompts.items() if count > 1]
    return out
