"""Result: one finished generation, with lazily decoded PIL images.

Images come from files on disk (saved the moment the task completed) or from bytes
in memory; they are decoded on first access of ``.images``. Showing a Result (its mime
bundle, ``grid``, ``thumbnails``) goes through ``images.thumbnail`` on the files or bytes: it
never decodes the full-size pictures, nor keeps them.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from . import _formats
from . import images as _images
from .request import GenerationRequest
from .task import Task

if TYPE_CHECKING:
    from PIL import Image as PILImage

SIMULATED_MARK = "SIMULATED"


def _sheet_bundle(text: str, sheet: PILImage.Image | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A small JPEG contact sheet (never a multi-MB PNG) with alt text, plus the summary."""
    if sheet is None:
        return {"text/plain": text}, {}
    jpeg = base64.b64encode(_images.to_jpeg_bytes(sheet, 75)).decode()
    alt = {"image/jpeg": {"alt": text.splitlines()[0]}}
    return {"text/plain": text, "image/jpeg": jpeg}, alt


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
    ) -> None:
        self.task = task
        self.params = params
        self.paths: list[Path] = list(paths or [])
        self._bytes: list[bytes] | None = list(image_bytes) if image_bytes is not None else None
        self.simulated = simulated
        self.from_cache = from_cache
        self.elapsed = elapsed
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
        """Estimated cost from the catalog price and the images returned."""
        return self.params.spec.cost(len(self) or self.params.output_count)

    # -- images ------------------------------------------------------------------------------
    def _raw(self) -> list[bytes]:
        if self._bytes is None:
            self._bytes = [path.read_bytes() for path in self.paths]
        return self._bytes

    def sources(self) -> list[_images.ImageSource]:
        """What to show each image from, cheapest first: decoded images already in memory,
        files on disk, then bytes (nothing is decoded or read here)."""
        if self._images is not None:
            return list(self._images)
        if self.paths and len(self.paths) == len(self) and all(p.is_file() for p in self.paths):
            return list(self.paths)
        return list(self._raw())

    @property
    def images(self) -> list[PILImage.Image]:
        """The images as PIL images, decoded on first access, in order."""
        if self._images is None:
            self._images = [_images.decode(data) for data in self._raw()]
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
        out.mkdir(parents=True, exist_ok=True)
        stem = prefix or self.task_id
        written: list[Path] = []
        for index, data in enumerate(self._raw()):
            target = out / f"{stem}-{index + 1}{_formats.extension(data, '.jpg')}"
            if index < len(self.paths) and self.paths[index].exists():
                shutil.copyfile(self.paths[index], target)
            else:
                target.write_bytes(data)
            written.append(target)
        return written

    def grid(self, columns: int | None = None, thumb_side: int = 512) -> PILImage.Image:
        """All images as one contact sheet."""
        return _images.contact_sheet(self.sources(), thumb_side=thumb_side, columns=columns)

    def thumbnails(self, max_side: int = 512) -> list[bytes]:
        """Small JPEG thumbnails for display."""
        return [_images.thumbnail_jpeg(source, max_side) for source in self.sources()]

    # -- display -----------------------------------------------------------------------------
    @property
    def folder(self) -> Path | None:
        """Where the full-size files are (None: the images are only in memory)."""
        return self.paths[0].parent if self.paths else None

    def summary(self) -> str:
        mark = f" [{SIMULATED_MARK}]" if self.simulated else ""
        cache = " (from cache)" if self.from_cache else ""
        p = self.params
        width, height = p.pixel_size
        count = len(self)
        lines = [
            f"Result{mark}: {count} image{'' if count == 1 else 's'} · {p.model} · {p.action} · "
            f"{p.aspect_ratio} · {p.resolution} ({width}×{height}) · ≈ ${self.cost_usd:.4f}"
            f"{' (simulated: not billed)' if self.simulated else ''} · task {self.task_id}{cache}",
            f"prompt: {p.prompt[:200]}",
        ]
        if self.folder is not None:
            lines.append(f"files: {self.folder}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        where = f" files={self.folder}" if self.folder is not None else ""
        return (
            f"<Result {self.task_id} {self.status} {self.model} images={len(self)}"
            f"{' SIMULATED' if self.simulated else ''}{where}>"
        )

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        sheet = _images.contact_sheet(self.sources(), thumb_side=384) if len(self) else None
        return _sheet_bundle(self.summary(), sheet)


class ResultSet(list[Result]):
    """Results of a batch or sweep, in request order; ``labels`` name each for the grid."""

    def __init__(self, results: Sequence[Result], labels: Sequence[str] | None = None) -> None:
        super().__init__(results)
        self.labels = list(labels) if labels is not None else [r.prompt[:40] for r in results]
        self.failures: dict[str, BaseException] = {}

    @property
    def images(self) -> list[PILImage.Image]:
        return [img for result in self for img in result.images]

    @property
    def cost_usd(self) -> float:
        return round(sum(r.cost_usd for r in self), 6)

    def grid(self, columns: int | None = None, thumb_side: int = 384) -> PILImage.Image:
        """A comparison sheet: the first image of each result, labelled."""
        firsts = [r.sources()[0] for r in self if len(r)]
        labels = [label for label, r in zip(self.labels, self) if len(r)]
        return _images.contact_sheet(firsts, thumb_side=thumb_side, columns=columns, labels=labels)

    def save(self, directory: str | os.PathLike[str] = ".") -> list[Path]:
        return [path for result in self for path in result.save(directory)]

    def __repr__(self) -> str:
        return f"<ResultSet {len(self)} results, ≈ ${self.cost_usd:.4f}>"

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        lines = [f"{label}: {r!r}" for label, r in zip(self.labels, self)]
        sheet = self.grid(thumb_side=256) if any(len(r) for r in self) else None
        return _sheet_bundle("\n".join([repr(self), *lines]), sheet)
