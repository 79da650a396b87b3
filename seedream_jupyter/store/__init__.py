"""History on disk: a SQLite database plus content-addressed image files under ``SEEDREAM_HOME``.

Layout of the home directory::

    history.sqlite3            tasks, their images and their input images, ratings and tags (WAL)
    images/ab/abcd….jpg        result images, named by the sha256 of their final bytes
    inputs/12/1234….png        reference images sent as data: URIs, stored once each

A task row is written the moment a submit returns its id, updated on every status
change, and its images are saved as soon as it completes, so an expired URL, a kernel
restart or an interrupted wait never loses a picture that was paid for.

Files are written atomically (temporary file + ``os.replace``) and carry their
provenance (prompt, model, seed, task id) in PNG text chunks or a JPEG comment
(:mod:`seedream_jupyter.provenance`). Several threads and processes may use one home
at once: every thread gets its own connection, writes run in ``BEGIN IMMEDIATE``
transactions and wait up to ``BUSY_TIMEOUT_SECONDS`` for the lock.

The request JSON stored is ``request.to_payload()`` — it never holds the API key,
which lives only in HTTP headers. Large ``data:`` URIs are moved to ``inputs/`` and
replaced in the stored payload by ``seedream-input:`` references; ``TaskRecord.request``
restores them.
"""

from __future__ import annotations

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
    LOST,
    PENDING_STATUSES,
    SCHEMA_VERSION,
    UNBILLED_STATUSES,
)
from .writes import StoreWrites

__all__ = [
    "DB_NAME",
    "DONE_STATUSES",
    "IMAGES_DIR",
    "INPUTS_DIR",
    "INPUT_SCHEME",
    "LOST",
    "PENDING_STATUSES",
    "SCHEMA_VERSION",
    "UNBILLED_STATUSES",
    "ImageRecord",
    "PruneReport",
    "SpendRow",
    "Store",
    "TaskRecord",
    "check_stars",
    "check_tags",
    "server_of",
]


class Store(StoreRatings, StoreWrites, StoreReads, StorePrune):
    """History of tasks and their images under one home directory; safe across threads and
    processes. One per home directory and process: ``Session.store()`` hands them out."""
