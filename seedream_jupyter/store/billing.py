"""The one billing rule, and what a completed task's image count means.

A task is billed per image, for the images it returned, never more than were asked for:
``cost = price × min(returned, asked)``. Until the server has said how many it returned (a
task pending, unconfirmed or lost), the estimate is the upper bound ``price × asked``; failed
and cancelled tasks cost nothing. The history's ``cost_usd``, ``sj.spend()``, the budget check
and ``Result.cost_usd`` (which counts the images kept) all follow from this.

Images beyond what was asked (a server returning surplus) are not downloaded nor kept: only
the first ``asked`` are, with a warning. A completed task with no image at all is recorded as
failed (``no_images``, billed nothing), so no later ``resume`` tries to "finish" it again.
"""

from __future__ import annotations

from typing import Final

from .. import catalog
from ..task import ImageRef

NO_IMAGES_CODE: Final = "no_images"
NO_IMAGES_MESSAGE: Final = (
    "the server reported the task completed but returned no image; nothing to save"
)


def billed_images(asked: int | None, returned: int) -> int:
    """Images billed for a completed task that returned ``returned`` of ``asked``."""
    return returned if asked is None or asked <= 0 else min(asked, returned)


def billed_cost(model: str | None, asked: int | None, returned: int) -> float | None:
    """USD for a completed task (None when the model's price is unknown)."""
    spec = catalog.MODELS.get(model or "")
    return None if spec is None else spec.cost(billed_images(asked, returned))


def kept_images(
    images: tuple[ImageRef, ...], asked: int | None
) -> tuple[tuple[ImageRef, ...], str | None]:
    """The images kept (the first ``asked``) and a warning when the server sent more."""
    if asked is None or asked <= 0 or len(images) <= asked:
        return images, None
    return images[:asked], (
        f"the server returned {len(images)} images, {asked} asked for: kept the first {asked} "
        f"(billed for {asked}), not the {len(images) - asked} extra"
    )
