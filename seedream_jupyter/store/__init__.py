"""History on disk: a SQLite database plus content-addressed image files under ``SEEDREAM_HOME``.

Layout of the home directory::

    history.sqlite3            tasks, their images and their input images, ratings and tags (WAL)
    images/ab/abcd….jpg        result images, named by the sha256 of their final bytes
    inputs/12/1234….png        reference images sent as data: URIs, stored once each

Write-ahead: before a submit is sent, an *intent* row (status ``unconfirmed``, id
``intent-…``) is written; the moment the submit returns its id the row becomes the task's
row; a submit that provably created nothing removes it. So a kill -9 at any moment leaves a
task row or an intent row for every task the server created; an intent that stays says
"may be billed — check the provider's console" and counts toward the budget. Rows are
updated on every status change, and images are saved as soon as the task completes, so an
expired URL, a kernel restart or an interrupted wait never loses a picture that was paid for.
A history that cannot be written raises ``HistoryError`` (naming the path and the fix), so the
caller can refuse to submit. Billing follows one rule (``billing``).

Files are written atomically (temporary file + ``os.replace``) and carry their
provenance (prompt, model, seed, task id) in PNG text chunks or a JPEG comment
(``store.provenance``). Several threads and processes may use one home
at once: every thread gets its own connection, writes run in ``BEGIN IMMEDIATE``
transactions and wait up to ``BUSY_TIMEOUT_SECONDS`` for the lock.

The request JSON stored is ``request.to_payload()`` — it never holds the API key,
which lives only in HTTP headers. Large ``data:`` URIs are moved to ``inputs/`` and
replaced in the stored payload by ``seedream-input:`` references; ``TaskRecord.request``
restores them.
"""

from __future__ import annotations

from .base import MIN_FREE_BYTES
from .billing import billed_cost, billed_images, kept_images
from .intents import ReusedTaskIdError, StoreIntents
from .prune import StorePrune
from .ratings import StoreRatings, check_stars, check_tags
from .reads import StoreReads
from .records import ImageRecord, PruneReport, SpendRow, TaskRecord, server_of
from .schema import (
    DB_NAME,
    DONE_STATUSES,
    IMAGES_DIR,
    INPUT_SCHEME,
    INPUTS_DIR,
    INTENT_PREFIX,
    LOST,
    PENDING_STATUSES,
    SCHEMA_VERSION,
    UNBILLED_STATUSES,
    UNCONFIRMED,
    UNCONFIRMED_MESSAGE,
)

__all__ = [
    "DB_NAME",
    "DONE_STATUSES",
    "IMAGES_DIR",
    "INPUTS_DIR",
    "INPUT_SCHEME",
    "INTENT_PREFIX",
    "LOST",
    "MIN_FREE_BYTES",
    "PENDING_STATUSES",
    "SCHEMA_VERSION",
    "UNBILLED_STATUSES",
    "UNCONFIRMED",
    "UNCONFIRMED_MESSAGE",
    "ImageRecord",
    "PruneReport",
    "ReusedTaskIdError",
    "SpendRow",
    "Store",
    "TaskRecord",
    "check_stars",
    "check_tags",
    "billed_cost",
    "billed_images",
    "kept_images",
    "server_of",
]


class Store(StoreRatings, StoreIntents, StoreReads, StorePrune):
    """History of tasks and their images under one home directory; safe across threads and
    processes. One per home directory and process: ``Session.store()`` hands them out."""
