"""Result: one finished generation, with lazily decoded PIL images and its provenance.

Images come from files on disk (saved the moment the task completed) or from bytes
in memory; they are decoded on first access of ``.images``. Showing a Result (its mime
bundle, ``grid``, ``thumbnails``) goes through ``images.thumbnail`` on the files or bytes: it
never decodes the full-size pictures, nor keeps them.

Every Result carries its provenance (``provenance``, ``to_json``): the exact request sent,
the server's fields and timestamps, the package version, and the task an edit was made from
(``parent_task_id``). ``rate`` and ``tag`` keep judgements in the history; ``replay`` sends
the same request again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, overload

from .. import _formats, errors
from .. import images as _images
from .._version import __version__
from ..request import GenerationRequest
from ..store import Store, check_stars, check_tags
from ..task import ImageRef, Task, TaskStatus
from . import hooks
from .caption import FROM_CACHE_NOTE, SIMULATED_MARK, caption, sheet_bundle

if TYPE_CHECKING:
    from PIL import Image as PILImage

GENERATOR: Final = "seedream-jupyter"
# Set on every PIL image a Result hands out, so an edit made from it knows its parent.
INFO_TASK_ID: Final = "seedream_task_id"
INFO_INDEX: Final = "seedream_index"
REQUEST_FIELD_NAMES: Final = tuple(f.name for f in dataclasses.fields(GenerationRequest))


def replayed_request(request: GenerationRequest, changes: Mapping[str, Any]) -> GenerationRequest:
    """``request`` with ``changes`` (request fields only) applied: what a replay sends."""
    unknown = sorted(set(changes) - set(REQUEST_FIELD_NAMES))
    if unknown:
        raise errors.ValidationError(
            unknown[0], changes[unknown[0]], f"replay takes {', '.join(REQUEST_FIELD_NAMES)}"
        )
    return request.with_changes(**changes) if changes else request


class Result:
    """The images and metadata of one completed task."""

    def __init__(
        self,
        task: Task,
        params: GenerationRequest,
        *,
        paths: Sequence[Path] | None = None,
        image_bytes: Sequence[bytes] | None = None,
        simulated: bool = False,
        from_cache: bool = False,
        elapsed: float | None = None,
        store: Store | None = None,
        parent_task_id: str | None = None,
    ) -> None:
        self.task = task
        self.params = params
        self.paths: list[Path] = list(paths or [])
        self._bytes: list[bytes] | None = list(image_bytes) if image_bytes is not None else None
        self.simulated = simulated
        self.from_cache = from_cache
        self.elapsed = elapsed
        self.store = store  # None: the session's history
        # the task the inputs came from: given, or as the request recorded it
        self.parent_task_id = parent_task_id or getattr(params, "parent_task_id", None)
        self._images: list[PILImage.Image] | None = None

    # -- metadata --------------------------------------------------------------------------
    @property
    def task_id(self) -> str:
        return self.task.task_id

    @property
    def status(self) -> str:
        return str(self.task.status)

    @property
    def model(self) -> str:
        return self.params.model

    @property
    def prompt(self) -> str:
        return self.params.prompt

    @property
    def seed(self) -> int:
        """The seed used: the server's when it names one, else the one sent (-1: random)."""
        server = self.task.raw.get("seed")
        if isinstance(server, int) and not isinstance(server, bool) and server >= 0:
            return server
        return self.params.seed

    @property
    def urls(self) -> list[str]:
        return self.task.urls

    @property
    def request(self) -> dict[str, Any]:
        """The JSON payload that was sent."""
        return self.params.to_payload()

    @property
    def cost_usd(self) -> float:
        """Estimated cost from the catalog price and the images returned (0 when the price
        is unknown: a model id the catalog does not know, sent without a price)."""
        return self.params.spec.cost(len(self) or self.params.output_count)

    def cost_text(self) -> str:
        """``≈ $0.0298``, or ``price unknown``."""
        return self.params.spec.cost_text(len(self) or self.params.output_count)

    def caption(self, digits: int = 4) -> str:
        """One line: model, count, ratio, size, cost, task id (``caption``)."""
        return caption(
            self.params,
            images=len(self),
            simulated=self.simulated,
            task_id=self.task_id,
            from_cache=self.from_cache,
            digits=digits,
        )

    # -- images ------------------------------------------------------------------------------
    def _raw(self) -> list[bytes]:
        if self._bytes is None:
            if not self.paths and self.task.images:
                raise errors.SeedreamError(
                    f"the images of task {self.task_id} are not on this machine (no files, no "
                    "bytes); sj.load(task_id) finds them if the task is in this history"
                )
            self._bytes = [path.read_bytes() for path in self.paths]
        return self._bytes

    def sources(self) -> list[_images.ImageSource]:
        """What to show each image from, cheapest first: decoded images already in memory,
        files on disk, then bytes (nothing is decoded or read here)."""
        if self._images is not None:
            return list(self._images)
        if self._paths_complete():
            return list(self.paths)
        return list(self._raw())

    def _paths_complete(self) -> bool:
        return (
            bool(self.paths)
            and len(self.paths) == len(self)
            and all(p.is_file() for p in self.paths)
        )

    @property
    def images(self) -> list[PILImage.Image]:
        """The images as PIL images, decoded on first access, in order."""
        if self._images is None:
            # from the files when they are all there: nothing read into memory twice, and an
            # image keeps its file (an unchanged one is then sent as that file, not re-encoded)
            on_disk = self._paths_complete()
            decoded = [_images.decode(x) for x in (self.paths if on_disk else self._raw())]
            for index, img in enumerate(decoded):
                img.info[INFO_TASK_ID], img.info[INFO_INDEX] = self.task_id, index
            self._images = decoded
        return self._images

    def __len__(self) -> int:
        if self._bytes is not None:
            return len(self._bytes)
        return len(self.paths) if self.paths else len(self.task.images)

    @overload
    def __getitem__(self, index: int) -> PILImage.Image: ...
    @overload
    def __getitem__(self, index: slice) -> list[PILImage.Image]: ...
    def __getitem__(self, index: int | slice) -> PILImage.Image | list[PILImage.Image]:
        return self.images[index]

    def __iter__(self) -> Iterator[PILImage.Image]:
        return iter(self.images)

    def save(
        self, directory: str | os.PathLike[str] = ".", *, prefix: str | None = None
    ) -> list[Path]:
        """Write the images (original bytes, no re-encoding) into ``directory``."""
        out = Path(directory).expanduser()
        if out.exists() and not out.is_dir():
            raise errors.ValidationError("directory", str(out), "a folder (this is a file)")
        stem = prefix or self.task_id
        written: list[Path] = []
        try:
            out.mkdir(parents=True, exist_ok=True)
            for index, data in enumerate(self._raw()):
                target = out / f"{stem}-{index + 1}{_formats.extension(data, '.jpg')}"
                if index < len(self.paths) and self.paths[index].exists():
                    shutil.copyfile(self.paths[index], target)
                else:
                    target.write_bytes(data)
                written.append(target)
        except OSError as exc:
            raise errors.SeedreamError(
                f"could not save the images into {out} ({exc.strerror or exc}); "
                f"{len(written)} of {len(self)} written. Choose a writable folder."
            ) from None
        return written

    def grid(self, columns: int | None = None, thumb_side: int = 512) -> PILImage.Image:
        """All images as one contact sheet."""
        return _images.contact_sheet(self.sources(), thumb_side=thumb_side, columns=columns)

    def thumbnails(self, max_side: int = 512) -> list[bytes]:
        """Small JPEG thumbnails for display."""
        return [_images.thumbnail_jpeg(source, max_side) for source in self.sources()]

    def sizes(self) -> list[tuple[int, int]]:
        """(width, height) of each image, read from the file headers (nothing decoded)."""
        return [_images.size_of(source) for source in self.sources()]

    # -- judgements, kept in the history -----------------------------------------------------
    def _history(self) -> Store:
        return self.store if self.store is not None else hooks.history()

    def _check_index(self, index: object) -> int:
        count = len(self)
        if isinstance(index, bool) or not isinstance(index, int) or not -count <= index < count:
            raise errors.ValidationError(
                "index", index, f"an image index of this Result, 0 to {count - 1}"
            )
        return index % count

    def _adopted(self) -> Store:
        store = self._history()
        if not store.knows(self.task_id):
            store.adopt(
                self.task_id,
                self.params.to_payload(),
                simulated=self.simulated,
                created_at=self.task.created_at,
                completed_at=self.task.completed_at,
            )
        return store

    def rate(self, index: int, stars: int | None) -> None:
        """Give image ``index`` 1–5 stars (None clears); kept in the history."""
        position, value = self._check_index(index), check_stars(stars)
        self._adopted().rate(self.task_id, position, value)

    def tag(self, index: int, *tags: str) -> None:
        """Add tags to image ``index`` (``res.tag(0, "keep", "night")``); kept in the history."""
        position, clean = self._check_index(index), check_tags(tags)
        if not clean:
            raise errors.ValidationError("tags", tags, "give at least one tag")
        self._adopted().tag(self.task_id, position, clean)

    def untag(self, index: int, *tags: str) -> None:
        """Remove tags from image ``index`` (every tag when none are named)."""
        self._history().untag(self.task_id, self._check_index(index), check_tags(tags))

    @property
    def ratings(self) -> list[int | None]:
        """Stars of each image (None: not rated), as the history has them now."""
        stars, _ = self._history().judgements([self.task_id]).get(self.task_id, ({}, {}))
        return [stars.get(i) for i in range(len(self))]

    @property
    def tags(self) -> list[tuple[str, ...]]:
        """Tags of each image, as the history has them now."""
        _, tags = self._history().judgements([self.task_id]).get(self.task_id, ({}, {}))
        return [tags.get(i, ()) for i in range(len(self))]

    # -- reproducibility -----------------------------------------------------------------------
    @property
    def provenance(self) -> dict[str, Any]:
        """Where these images came from: the request sent, what the server said (fields and
        timestamps), the package version, the files, and the task an edit was made from."""
        task = self.task
        try:
            sizes: list[tuple[int, int] | None] = list(self.sizes())
        except (errors.SeedreamError, OSError, ValueError):
            sizes = [None] * len(self)
        refs = list(task.images) + [ImageRef("")] * max(0, len(self) - len(task.images))
        files = [
            {
                "index": i,
                "path": str(self.paths[i]) if i < len(self.paths) else None,
                "url": refs[i].url or None,
                "expires_at": refs[i].expires_at,
                "width": size[0] if size else None,
                "height": size[1] if size else None,
            }
            for i, size in enumerate(sizes)
        ]
        return {
            "generator": GENERATOR,
            "version": __version__,
            "task_id": self.task_id,
            "parent_task_id": self.parent_task_id,
            "request": self.params.to_payload(),
            "server": {
                "status": task.status.value,
                "model": task.model,
                "action": task.action,
                "created_at": task.created_at,
                "completed_at": task.completed_at,
                "fields": dict(task.raw),
            },
            "images": files,
            "simulated": self.simulated,
            "from_cache": self.from_cache,
            "elapsed_s": self.elapsed,
            "cost_usd": self.cost_usd,
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """The provenance as JSON (``Result.from_json`` reads it back)."""
        return errors.redact(json.dumps(self.provenance, indent=indent, ensure_ascii=False))

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any]) -> Result:
        """A Result from ``to_json`` output: the images from its files, or from this
        machine's history when the files have moved."""
        try:
            record = json.loads(data) if isinstance(data, (str, bytes)) else dict(data)
        except (ValueError, TypeError) as exc:
            raise errors.ValidationError(
                "data", f"<{type(data).__name__}>", f"the JSON written by Result.to_json() ({exc})"
            ) from None
        if not isinstance(record, dict) or record.get("generator") != GENERATOR:
            raise errors.ValidationError(
                "data", type(record).__name__, "the JSON written by Result.to_json()"
            )
        request = GenerationRequest.from_payload(record.get("request") or {})
        server = record.get("server") or {}
        fields = server.get("fields") or {}
        task_id = str(record.get("task_id") or fields.get("task_id") or "")
        try:
            task = Task.from_json(fields, task_id=task_id) if fields else None
        except ValueError:
            task = None
        files = record.get("images") or []
        if task is None or not task.images:
            task = Task(
                task_id=task_id,
                status=TaskStatus.parse(server.get("status") or "completed"),
                progress=100,
                model=server.get("model"),
                action=server.get("action"),
                created_at=server.get("created_at"),
                completed_at=server.get("completed_at"),
                images=tuple(ImageRef(f.get("url") or "", f.get("expires_at")) for f in files),
            )
        paths = [Path(f["path"]) for f in files if f.get("path")]
        if len(paths) != len(files) or not all(p.is_file() for p in paths):
            store = hooks.history()
            paths = store.image_paths(task_id) if store.knows(task_id) else []
        return cls(
            task,
            request,
            paths=paths if len(paths) == len(files) else None,
            simulated=bool(record.get("simulated")),
            from_cache=bool(record.get("from_cache")),
            elapsed=record.get("elapsed_s"),
            parent_task_id=record.get("parent_task_id"),
        )

    def replay(self, **changes: Any) -> Result:
        """Send the same request again, with ``changes`` (``seed=8``, ``model="4.0"``, ...).

        The history answers it (nothing billed) only when the seed is fixed and nothing
        changed; otherwise a new task is submitted.
        """
        request = replayed_request(self.params, changes)
        result: Result = hooks.replay(request, not changes)
        return result

    # -- display -----------------------------------------------------------------------------
    @property
    def folder(self) -> Path | None:
        """The folder holding all the full-size files (None: the images are only in memory).
        Files are named by their content, in fan-out subfolders: this is their common parent."""
        if not self.paths:
            return None
        return Path(os.path.commonpath([str(path.parent) for path in self.paths]))

    def summary(self) -> str:
        mark = f" [{SIMULATED_MARK}]" if self.simulated else ""
        count = len(self)
        lines = [
            f"Result{mark}: {count} image{'' if count == 1 else 's'} · {self.caption()}",
            f"prompt: {self.prompt[:200]}",
        ]
        if self.folder is not None:
            lines.append(f"files: {self.folder}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        where = f" files={self.folder}" if self.folder is not None else ""
        return (
            f"<Result {self.task_id} {self.status} {self.model} images={len(self)}"
            f"{' SIMULATED' if self.simulated else ''}{where}"
            f"{f' ({FROM_CACHE_NOTE})' if self.from_cache else ''}>"
        )

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        sheet = _images.contact_sheet(self.sources(), thumb_side=384) if len(self) else None
        return sheet_bundle(self.summary(), sheet)
